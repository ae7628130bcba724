"""The contract every DeskStore and UserStore backend keeps (SQLite today; a server database next)."""

from __future__ import annotations

import pytest

from tests.contracts.conftest import Connect
from zhiwen.errors import Conflict, NotFound
from zhiwen.ports import DeskStore, UserStore
from zhiwen.stores.sqlite.answers import SqliteAnswerStore
from zhiwen.stores.sqlite.desk import SqliteDeskStore
from zhiwen.stores.sqlite.users import SqliteUserStore
from zhiwen.stores.sqlite.workspaces import SqliteWorkspaceStore
from zhiwen.types import ConversationFilter, ConversationRating, Session


@pytest.fixture
def backend(connect: Connect) -> tuple[DeskStore, UserStore, str, str]:
    db = connect()
    workspace = SqliteWorkspaceStore(db).create_workspace("acme").id
    conversation = SqliteAnswerStore(db).ensure_conversation(workspace, None)
    return SqliteDeskStore(db), SqliteUserStore(db), workspace, conversation


def test_a_conversation_changes_hands_only_if_it_still_is_as_expected(
    backend: tuple[DeskStore, UserStore, str, str],
) -> None:
    desk, _users, workspace, conversation = backend
    opened = desk.open_conversation(workspace, conversation, "zh", "visitor-hash")
    assert opened.status == "bot" and desk.open_conversation(workspace, conversation, "en").language == "zh"
    assert desk.update(workspace, conversation, {"status": "waiting", "queued_at": "2026-01-01T00:00:00"})
    assert desk.update(
        workspace, conversation, {"status": "open", "assignee": "a"}, {"status": "waiting", "assignee": None}
    )
    assert not desk.update(
        workspace, conversation, {"status": "open", "assignee": "b"}, {"status": "waiting", "assignee": None}
    )
    assert desk.get(workspace, conversation).assignee == "a"
    with pytest.raises(ValueError, match="not a desk conversation field"):
        desk.update(workspace, conversation, {"workspace_id": "other"})
    with pytest.raises(NotFound):
        desk.get("ws_other", conversation)
    with pytest.raises(NotFound):
        desk.open_conversation(workspace, "conv_missing", "zh")


def test_messages_come_back_in_order_after_an_id_and_ratings_replace_each_other(
    backend: tuple[DeskStore, UserStore, str, str],
) -> None:
    desk, _users, workspace, conversation = backend
    desk.open_conversation(workspace, conversation, "zh")
    ids = [desk.add_message(workspace, conversation, "customer", "", f"m{n}").id for n in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [m.text for m in desk.messages(workspace, conversation, after=ids[1])] == ["m2", "m3", "m4"]
    assert desk.messages("ws_other", conversation) == []
    before = desk.last_change(workspace)
    desk.add_message(workspace, conversation, "agent", "li", "hi")
    assert desk.last_change(workspace) != before
    assert [c.last_message for c in desk.conversations(workspace)] == ["hi"]
    for score in (2, 5):
        desk.rate(workspace, ConversationRating(conversation, score, "", None, None, f"2026-01-0{score}"))
    assert [r.score for r in desk.ratings(workspace)] == [5]


def test_users_are_unique_by_e_mail_and_sessions_end(backend: tuple[DeskStore, UserStore, str, str]) -> None:
    _desk, users, workspace, _conversation = backend
    user = users.create_user(workspace, "li@shop.example", "Li", "agent", "$argon2id$hash")
    with pytest.raises(Conflict):
        users.create_user(workspace, "li@shop.example", "Li 2", "agent", "$argon2id$hash")
    assert users.find_user("li@shop.example") == (user, "$argon2id$hash")
    users.create_session(Session("ses_1", user.id, "csrf", "2026-01-01", "2099-01-01"), "token-hash")
    assert users.find_session("token-hash", "2026-06-01") is not None
    assert users.find_session("token-hash", "2099-06-01") is None  # expired
    users.delete_sessions(user.id)
    assert users.find_session("token-hash", "2026-06-01") is None
    assert users.update_user(user.id, {"disabled_at": "2026-02-01"}).disabled_at == "2026-02-01"


def test_conversations_are_summarised_and_filtered_for_reading_back(
    backend: tuple[DeskStore, UserStore, str, str],
) -> None:
    desk, _users, workspace, conversation = backend
    desk.open_conversation(workspace, conversation, "en")
    assert desk.update(workspace, conversation, {"status": "waiting", "reason": "bot_handoff"})
    desk.rate(workspace, ConversationRating(conversation, 2, "slow", None, None, "2026-01-01T00:00:00"))
    (summary,) = desk.overview(workspace, ConversationFilter())
    assert summary.conversation.id == conversation and summary.turns == 0 and summary.rating == 2
    assert summary.lowest_confidence is None and summary.dislikes == 0
    assert desk.overview(workspace, ConversationFilter(handed_off=True, language="en"))
    assert not desk.overview(workspace, ConversationFilter(handed_off=False))
    assert not desk.overview(workspace, ConversationFilter(disliked=True))
    assert not desk.overview(workspace, ConversationFilter(since="2999-01-01"))
    assert desk.overview(workspace, ConversationFilter(until="2999-01-01"))
    assert not desk.overview("ws_other", ConversationFilter())
    assert not desk.overview(workspace, ConversationFilter(), limit=1, offset=1)


def test_the_change_feed_is_read_in_order_from_where_a_follower_left_off(
    backend: tuple[DeskStore, UserStore, str, str],
) -> None:
    desk, _users, workspace, conversation = backend
    assert desk.changes_after(None) == []
    desk.record_change(workspace, conversation, "process-a", "2026-01-01T00:00:00")
    [start] = desk.changes_after(None)
    desk.record_change(workspace, "conv_2", "process-b", "2026-01-01T00:00:01")
    desk.record_change(workspace, conversation, "process-a", "2026-01-01T00:00:00")
    later = desk.changes_after(start.id)
    assert [(c.conversation_id, c.origin) for c in later] == [
        ("conv_2", "process-b"),
        (conversation, "process-a"),
    ]
    assert later[0].id > start.id and desk.changes_after(later[-1].id) == []
    assert [c.id for c in desk.changes_after(start.id, limit=1)] == [later[0].id]
    assert desk.prune_changes("2000-01-01T00:00:00") == 0
    assert desk.prune_changes("9999-01-01T00:00:00") == 3 and desk.changes_after(0) == []
