"""The service desk over the real demo knowledge base: handoffs reach a queue with their context, the
customer is told the truth, agents claim, reply and resolve, and what they answer reaches the review
queue."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from zhiwen.errors import Conflict, InvalidInput
from zhiwen.ports import ReviewFilter
from zhiwen.services.answers.service import AnswerLimits, AnswerService
from zhiwen.services.desk.desk import DeskService, Turn
from zhiwen.services.desk.handoff import asks_for_human
from zhiwen.services.desk.hours import BusinessHours
from zhiwen.stores.sqlite.desk import SqliteDeskStore
from zhiwen.stores.sqlite.feedback import SqliteFeedbackStore
from zhiwen.types import Workspace
from zhiwen.wiring import Services

UNANSWERABLE = "你们的店在火星上有分店吗？"
ANSWERABLE = "扫地机器人的电机保修几年？"


@pytest.mark.parametrize(
    "message",
    [
        "转人工",
        "人工客服在吗",
        "我要找人工",
        "能不能找个真人聊",
        "人工！",
        "talk to a human",
        "Agent please",
        "can I speak to a real person?",
        "I want a human",
        "agent",
        "get me a representative",
    ],
)
def test_a_customer_asking_for_a_person_is_understood_in_many_words(message: str) -> None:
    assert asks_for_human(message)


@pytest.mark.parametrize(
    "message",
    [
        "人工智能音箱怎么连 WiFi？",
        "扫地机器人保修多久",
        "is this a human error or a defect?",
        "does the agent app work offline",
        "the travel agent booked it",
    ],
)
def test_words_that_only_look_like_asking_for_a_person_are_left_to_the_bot(message: str) -> None:
    assert not asks_for_human(message)


def test_a_handoff_waits_in_the_queue_with_its_context_and_the_customer_is_told_nobody_is_online(
    demo_copy: tuple[Services, Workspace],
) -> None:
    services, workspace = demo_copy
    turn = services.desk.say(workspace.id, None, UNANSWERABLE)
    assert turn.answer is not None and turn.answer.handoff
    assert turn.state.status == "waiting" and turn.state.reason == "bot_handoff"
    assert "没有客服在线" in turn.answer.text and "联系方式" in turn.answer.text
    assert "转接" not in turn.answer.text  # never "transferred" when nobody can pick it up
    assert [m.author for m in turn.messages] == ["customer", "bot"]

    queued = services.desk.queue(workspace.id)
    assert [c.id for c in queued] == [turn.conversation_id]
    context = services.desk.context(workspace.id, turn.conversation_id)
    assert context["messages"][0].text == UNANSWERABLE
    (recorded,) = context["answers"].values()
    assert recorded["confidence"] < 0.5 and recorded["passages"]


def test_with_an_agent_online_the_customer_gets_a_place_in_the_queue_and_a_wait(
    demo_copy: tuple[Services, Workspace],
) -> None:
    services, workspace = demo_copy
    services.desk.set_presence(workspace.id, "key:alice", "online")
    first = services.desk.say(workspace.id, None, "转人工")
    second = services.desk.say(workspace.id, None, "talk to a human please")
    assert first.state.reason == "asked_for_human" and first.state.position == 1
    assert second.state.position == 2 and second.state.expected_wait_minutes
    assert first.answer is not None and "前面还有 0 位" in first.answer.text
    assert second.answer is not None and "1 person is ahead of you" in second.answer.text


def test_outside_business_hours_the_customer_reads_the_hours_and_when_we_reply(
    demo_copy: tuple[Services, Workspace],
) -> None:
    services, workspace = demo_copy
    services.desk.configure(
        workspace.id,
        {
            "hours": {
                "timezone": "Asia/Shanghai",
                "weekly": {d: "09:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")},
            }
        },
    )
    saturday_night = datetime(2026, 12, 5, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai
    desk = DeskService(
        SqliteDeskStore(services.db),
        services.answers,
        services.answerer,
        SqliteFeedbackStore(services.db),
        services.workspaces,
        now=lambda: saturday_night,
    )
    desk.set_presence(workspace.id, "key:alice", "online")  # online, but the desk is closed
    turn = desk.say(workspace.id, None, "人工客服")
    assert turn.answer is not None
    assert "服务时间：周一–周五 09:00-18:00" in turn.answer.text and "周一 09:00" in turn.answer.text
    assert not turn.state.open_now


def test_while_a_person_holds_the_conversation_the_bot_stays_quiet(
    demo_copy: tuple[Services, Workspace],
) -> None:
    services, workspace = demo_copy
    turn = services.desk.say(workspace.id, None, "转人工")
    later = services.desk.say(workspace.id, turn.conversation_id, ANSWERABLE)
    assert later.answer is None and [m.author for m in later.messages] == ["customer"]
    with pytest.raises(Conflict, match="with a person"):
        services.desk.bot_may_answer(workspace.id, turn.conversation_id)


def test_two_agents_claiming_one_conversation_at_once_exactly_one_wins(
    demo_copy: tuple[Services, Workspace],
) -> None:
    services, workspace = demo_copy
    for _ in range(10):
        conversation = services.desk.say(workspace.id, None, "转人工").conversation_id
        start = threading.Barrier(2)
        outcomes: list[str] = []

        def claim(
            agent: str,
            conversation: str = conversation,
            start: threading.Barrier = start,
            outcomes: list[str] = outcomes,
        ) -> None:
            start.wait()
            try:
                services.desk.claim(workspace.id, conversation, agent)
                outcomes.append("won")
            except Conflict:
                outcomes.append("lost")

        threads = [threading.Thread(target=claim, args=(a,)) for a in ("key:alice", "key:bob")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["lost", "won"]


def test_an_agents_answer_reaches_the_review_queue_and_one_approval_makes_it_a_curated_answer(
    demo_copy: tuple[Services, Workspace],
) -> None:
    services, workspace = demo_copy
    services.desk.set_presence(workspace.id, "key:alice", "online")
    turn = services.desk.say(workspace.id, None, UNANSWERABLE)
    with pytest.raises(Conflict, match=r"has not been handed|assigned"):
        services.desk.reply(workspace.id, services.desk.start(workspace.id).id, "key:alice", "hi")
    reply = services.desk.reply(workspace.id, turn.conversation_id, "key:alice", "没有，我们只在地球上开店。")
    assert reply.author == "agent" and reply.author_name == "alice"
    services.desk.note(workspace.id, turn.conversation_id, "key:alice", "customer joking?")
    assert "customer joking?" not in [
        m.text for m in services.desk.messages(workspace.id, turn.conversation_id)
    ]
    with pytest.raises(Conflict, match="assigned to alice"):
        services.desk.reply(workspace.id, turn.conversation_id, "key:bob", "me too")
    resolved = services.desk.resolve(workspace.id, turn.conversation_id, "key:alice")
    assert resolved.status == "resolved" and resolved.first_response_at and resolved.resolved_at

    (group,) = [g for g in services.feedback.queue(workspace.id) if g["question"] == UNANSWERABLE]
    assert group["correction"] == "没有，我们只在地球上开店。" and group["dislikes"] == 0
    services.feedback.approve(workspace.id, group["answer_ids"][0], "key:admin")
    again = services.desk.say(workspace.id, None, UNANSWERABLE)
    assert again.answer is not None and again.answer.mode == "curated" and "地球" in again.answer.text

    rating = services.desk.rate(workspace.id, turn.conversation_id, 5, "很快")
    assert rating.agent == "key:alice"
    assert [r.score for r in services.desk.ratings(workspace.id)] == [5]


def test_repeated_disliked_answers_send_the_conversation_to_people(
    demo_copy: tuple[Services, Workspace],
) -> None:
    services, workspace = demo_copy
    first = services.desk.say(workspace.id, None, ANSWERABLE)
    assert first.answer is not None and not first.answer.handoff
    second = services.desk.say(workspace.id, first.conversation_id, "那充电宝呢？")
    for turn in (first, second):
        assert turn.answer is not None
        services.feedback.give(workspace.id, turn.answer.id, "dislike")
        services.desk.answer_disliked(workspace.id, turn.answer.id)
    state = services.desk.state(workspace.id, first.conversation_id)
    assert state.status == "waiting" and state.reason == "repeated_failures"


def test_bad_desk_input_is_refused_with_the_field_named(demo_copy: tuple[Services, Workspace]) -> None:
    services, workspace = demo_copy
    with pytest.raises(InvalidInput, match="empty"):
        services.desk.say(workspace.id, None, "   ")
    with pytest.raises(InvalidInput, match="limit is 4,000"):
        services.desk.say(workspace.id, None, "长" * 4001)
    turn = services.desk.say(workspace.id, None, "转人工")
    with pytest.raises(InvalidInput, match="score"):
        services.desk.rate(workspace.id, turn.conversation_id, 6)
    for wrong, named in [
        ({"hours": {"timezone": "Mars/Olympus"}}, "timezone"),
        ({"hours": {"weekly": {"mon": "18:00-09:00"}}}, "closes before"),
        ({"hours": {"weekly": {"someday": "09:00-18:00"}}}, "unknown day"),
        ({"welcome": {"fr": "Bonjour"}}, "welcome"),
        ({"failed_answers": 0}, "failed_answers"),
        ({"colour": "red"}, "unknown field"),
    ]:
        with pytest.raises(InvalidInput, match=named):
            services.desk.configure(workspace.id, wrong)
    assert services.desk.settings(workspace.id).hours is None  # nothing half-stored


def test_business_hours_know_when_they_open_next() -> None:
    hours = BusinessHours.parse(
        {"timezone": "Asia/Shanghai", "weekly": {"mon": "09:00-18:00", "sat": "10:00-24:00"}}
    )
    assert hours is not None
    monday_morning = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 10:00 Shanghai
    assert hours.is_open(monday_morning)
    friday = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)
    assert not hours.is_open(friday)
    opening = hours.next_opening(friday)
    assert opening is not None and (opening.weekday(), opening.hour) == (5, 10)
    assert hours.describe("en") == "Mon 09:00-18:00, Sat 10:00-24:00"


def test_the_desk_figures_count_handoffs_containment_csat_and_response_times(
    demo_copy: tuple[Services, Workspace],
) -> None:
    services, workspace = demo_copy
    contained = services.desk.say(workspace.id, None, ANSWERABLE)
    handed = services.desk.say(workspace.id, None, "转人工")
    services.desk.start(workspace.id)  # opened, never written in: not counted
    services.desk.reply(workspace.id, handed.conversation_id, "key:alice", "您好")
    services.desk.resolve(workspace.id, handed.conversation_id, "key:alice")
    services.desk.rate(workspace.id, handed.conversation_id, 5, "客服很耐心，问题解决了")
    services.desk.rate(workspace.id, contained.conversation_id, 2)
    (today,) = services.desk.stats(workspace.id, by="day")
    assert (today.conversations, today.handed_off, today.handoff_rate, today.containment) == (2, 1, 0.5, 0.5)
    assert (today.ratings, today.csat, today.mean_score) == (2, 0.5, 3.5)
    assert today.first_response_minutes is not None and today.resolution_minutes is not None
    by_agent = {f.group: f for f in services.desk.stats(workspace.id, by="agent")}
    assert by_agent["key:alice"].csat == 1.0 and by_agent["bot"].csat == 0.0
    (working,) = services.desk.stats(workspace.id, by="release")
    assert working.group == "working"
    comments = services.reviews.list_reviews(workspace.id, ReviewFilter())
    assert [r.channel for r in comments if "耐心" in r.text] == ["desk rating"]  # into review analytics
    with pytest.raises(InvalidInput, match="by"):
        services.desk.stats(workspace.id, by="week")  # type: ignore[arg-type]


def test_routing_rules_give_a_handed_off_conversation_its_team(demo_copy: tuple[Services, Workspace]) -> None:
    services, workspace = demo_copy
    services.desk.configure(
        workspace.id,
        {
            "teams": ["after-sales", "sales"],
            "routing": [
                {"team": "after-sales", "keywords": ["保修", "维修", "Warranty"]},
                {"team": "sales", "keywords": ["价格", "优惠"]},
            ],
        },
    )
    repair = services.desk.say(workspace.id, None, "我的扫地机坏了要维修，转人工")
    english = services.desk.say(workspace.id, None, "agent please, my warranty question")
    other = services.desk.say(workspace.id, None, "转人工")
    teams = {c.id: c.team for c in services.desk.queue(workspace.id)}
    assert teams[repair.conversation_id] == teams[english.conversation_id] == "after-sales"
    assert teams[other.conversation_id] == ""
    assert [c.id for c in services.desk.queue(workspace.id, team="after-sales")] == [
        repair.conversation_id,
        english.conversation_id,
    ]
    with pytest.raises(InvalidInput, match="not in teams"):
        services.desk.configure(
            workspace.id, {"teams": ["sales"], "routing": [{"team": "vip", "keywords": ["x"]}]}
        )


@pytest.mark.parametrize(
    ("reply", "handed_off"),
    [("The robot vacuum has a 2-year warranty [1], the motor 3 years [1].", False), ("NO_ANSWER", True)],
)
def test_an_llm_reply_streams_into_the_conversation_and_a_failed_one_ends_as_the_desks_notice(
    demo_copy: tuple[Services, Workspace], reply: str, handed_off: bool
) -> None:
    from tests.unit.test_answers import _llm_answering

    services, workspace = demo_copy
    answerer = AnswerService(
        services.retriever, services.answers, services.targets, AnswerLimits(), _llm_answering(reply)
    )
    desk = DeskService(
        SqliteDeskStore(services.db),
        services.answers,
        answerer,
        SqliteFeedbackStore(services.db),
        services.workspaces,
    )
    conversation = desk.start(workspace.id, language="en").id
    *pieces, turn = desk.say_streaming(
        workspace.id, conversation, "How long is the warranty on a robot vacuum?"
    )
    assert isinstance(turn, Turn) and turn.answer is not None
    bot = turn.messages[-1]
    if handed_off:
        assert pieces == [] and turn.state.status == "waiting" and "No one from our team" in bot.text
    else:
        assert len(pieces) > 3 and "".join(str(p) for p in pieces) == bot.text and bot.citations
    asked = desk.say_streaming(workspace.id, conversation, "agent please")
    assert [type(p).__name__ for p in asked] == ["Turn"]  # asking for a person never streams the bot
