"""A customer's data exported and erased everywhere, retention, and redaction where it is asked for,
over real stores, the real embedding model and a real release snapshot."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from zhiwen.errors import InvalidInput, NotFound
from zhiwen.services.accounts.keys import hash_key
from zhiwen.services.trust.customer_data import CustomerRef
from zhiwen.stores.sqlite.models import SqlitePredictionLog
from zhiwen.types import ConversationFilter, Workspace
from zhiwen.wiring import Services

PHONE = "13912345678"
NAME = "欧阳娜娜"
HOTLINE = "400-820-1234"
QUESTION = f"我是{NAME}，手机{PHONE}，打了{HOTLINE}没人接，扫地机器人坏了怎么退货呀"
FAQ = (
    "# 售后\n\n## 退货\n\n签收后七天内可以无理由退货，运费由买家承担。\n\n"
    "## 保修\n\n扫地机器人整机保修一年，电池保修六个月。\n\n"
    f"## 联系我们\n\n售后热线 {HOTLINE}，每天 9:00-21:00。\n"
)


@pytest.fixture
def shop(services: Services, workspace: Workspace) -> Workspace:
    services.ingest.ingest_bytes(workspace.id, "after-sales.md", FAQ.encode())
    services.catalog.import_catalog(
        workspace.id, "items.csv", "id,title\nr7,扫地机器人 R7\nw2,手表 W2\n".encode()
    )
    services.embedding_worker.run_until_done()
    return workspace


def _customer_with_history(services: Services, workspace: Workspace) -> str:
    """A customer who asked, left a contact, disliked an answer that was curated into the knowledge and a
    golden set, rated, reviewed, browsed; and a release frozen since. Returns the conversation id."""
    turn = services.desk.say(workspace.id, None, QUESTION, visitor_hash=hash_key("visitor-token-A"))
    conversation_id = turn.conversation_id
    assert turn.answer is not None
    services.desk.request_human(
        workspace.id, conversation_id, contact=f"{PHONE} 晚上打", message="麻烦尽快联系我"
    )
    services.feedback.give(workspace.id, turn.answer.id, "dislike", correction="七天内可无理由退货。")
    services.feedback.approve(workspace.id, turn.answer.id, "user:admin@shop", golden="from-feedback")
    services.desk.rate(workspace.id, conversation_id, 2, f"打{PHONE}没人接")
    services.reviews.import_records(
        workspace.id, [{"text": f"客服电话{PHONE}一直占线，差评", "customer": "u-ouyang-1029"}], score=False
    )
    services.catalog.add_events(
        workspace.id,
        [{"user_id": "u-ouyang-1029", "item_id": "r7", "kind": "view", "at": "2026-12-01T10:00:00Z"}],
    )
    services.embedding_worker.run_until_done()
    services.releases.create(workspace.id, "user:admin@shop", embed_pending=True)
    return conversation_id


def test_a_customers_data_is_exported_whole(services: Services, shop: Workspace) -> None:
    conversation_id = _customer_with_history(services, shop)
    held = services.customers.export(
        shop.id, CustomerRef(visitor_token="visitor-token-A", user_id="u-ouyang-1029")
    )
    (conversation,) = held["conversations"]
    assert conversation["id"] == conversation_id and conversation["contact"] == f"{PHONE} 晚上打"
    assert next(m["text"] for m in conversation["messages"] if m["author"] == "customer") == QUESTION
    assert conversation["answers"][0]["question"] == QUESTION
    assert conversation["answers"][0]["feedback"][0]["rating"] == "dislike"
    assert conversation["rating"]["score"] == 2
    assert sorted(r["customer"] for r in held["reviews"]) == [
        f"conversation:{conversation_id}",
        "u-ouyang-1029",
    ]
    assert [(e["item_id"], e["kind"]) for e in held["events"]] == [("r7", "view")]
    assert held["customer"]["visitor_token"] == "(given)"  # the token itself is not echoed
    json.dumps(held)  # one JSON document
    by_contact = services.customers.export(shop.id, CustomerRef(contact=f" {PHONE} 晚上打 "))
    assert [c["id"] for c in by_contact["conversations"]] == [conversation_id]


def test_erasure_leaves_no_trace_in_any_table_index_snapshot_or_the_file(
    services: Services, shop: Workspace
) -> None:
    _customer_with_history(services, shop)
    other = services.desk.say(shop.id, None, "手表W2保修多久", visitor_hash=hash_key("visitor-token-B"))
    common = services.desk.say(shop.id, None, "我要退货", visitor_hash=hash_key("visitor-token-C"))
    assert common.answer is not None
    services.curated.add(
        shop.id, "我要退货", "七天内可无理由退货。", "admin", from_answer_id=common.answer.id
    )
    elsewhere = services.workspaces.create_workspace("another-shop")  # the same phone, another tenant
    services.desk.say(elsewhere.id, None, f"我的电话{PHONE}", visitor_hash=None)
    with services.db.transaction() as conn:  # complaint topics keep example texts
        conn.execute(
            "INSERT INTO review_topics (workspace_id, model, created_at) VALUES (?, ?, 't')",
            (shop.id, json.dumps({"examples": [[f"客服电话{PHONE}一直占线，差评"]]}, ensure_ascii=False)),
        )
    snapshot = services.releases.list_releases(shop.id)[-1].knowledge_id
    with services.db.reading() as conn:  # the curated answer made from their question is in the snapshot
        assert conn.execute(
            "SELECT COUNT(*) FROM chunks WHERE workspace_id = ? AND instr(question, ?)", (snapshot, NAME)
        ).fetchone()[0]

    erasure = services.customers.erase(
        shop.id, CustomerRef(visitor_token="visitor-token-A", user_id="u-ouyang-1029")
    )
    assert erasure.remaining == []
    assert erasure.counts["conversations"] == 1 and erasure.counts["answers"] == 1
    assert erasure.counts["reviews"] == 2 and erasure.counts["events"] == 1  # theirs and the rating's comment
    assert erasure.counts["curated_answers"] == 1 and erasure.counts["snapshot_chunks"] == 1
    assert erasure.counts["shared_records"] >= 2  # the golden item from their question, a topic's example

    for needle in (PHONE, NAME, "u-ouyang-1029", "麻烦尽快联系我"):  # every table, every text column
        assert services.customers._store.traces(shop.id, [needle]) == [], needle
    with services.db.reading() as conn:  # the company's hotline they quoted stays in its knowledge
        for knowledge in (shop.id, snapshot):
            assert conn.execute(
                "SELECT COUNT(*) FROM chunks WHERE workspace_id = ? AND instr(text, ?)", (knowledge, HOTLINE)
            ).fetchone()[0]
    assert [c.question for c in services.curated.list_curated(shop.id)] == ["我要退货"]  # anybody's words
    with services.db.reading() as conn:
        for table in (shop.id, snapshot):  # no keyword index still knows their words
            fts = "fts_" + "".join(c if c.isalnum() else "_" for c in table)
            assert (
                conn.execute(
                    f"SELECT COUNT(*) FROM {fts}_vocab WHERE term IN (?, ?)", (PHONE, NAME)
                ).fetchone()[0]
                == 0
            )
    raw = b"".join(p.read_bytes() for p in services.settings.data_dir.glob("zhiwen.sqlite3*"))
    assert NAME.encode() not in raw and "麻烦尽快联系我".encode() not in raw  # not in free pages or the WAL
    (kept_elsewhere,) = services.desk.overview(elsewhere.id, ConversationFilter())  # another tenant's
    assert kept_elsewhere.turns == 1

    assert services.check_store() == []  # the snapshot's manifest says what was erased
    kept = services.customers.export(shop.id, CustomerRef(conversation_ids=(other.conversation_id,)))
    assert kept["conversations"][0]["messages"][0]["text"] == "手表W2保修多久"
    answer = services.answerer.answer(shop.id, "扫地机器人保修多久", record=False)
    assert "一年" in answer.text  # the company's knowledge is untouched
    with pytest.raises(NotFound, match="nothing is held"):
        services.customers.erase(shop.id, CustomerRef(visitor_token="visitor-token-A"))


@pytest.mark.parametrize(
    "blank", [{}, {"contact": "  "}, {"user_id": ""}, {"visitor_token": " "}, {"conversation_ids": ("", " ")}]
)
def test_a_customer_must_be_named_and_blank_names_no_one(blank: dict[str, object]) -> None:
    with pytest.raises(InvalidInput, match="name the customer"):
        CustomerRef(**blank)  # type: ignore[arg-type]


def test_retention_deletes_old_conversations_and_events_only(services: Services, shop: Workspace) -> None:
    old = services.desk.say(shop.id, None, "退货运费谁出", visitor_hash=hash_key("v-old"))
    services.catalog.add_events(
        shop.id,
        [
            {"user_id": "u1", "item_id": "r7", "kind": "view", "at": "2020-01-01T00:00:00Z"},
            {"user_id": "u1", "item_id": "w2", "kind": "view", "at": datetime.now(UTC).isoformat()},
        ],
    )
    no_rules = services.customers.expire(shop.id)
    assert no_rules == {"conversations": 0, "answers": 0, "events": 0, "predictions": 0}
    services.privacy.update(shop.id, {"keep_conversations_days": 30, "keep_events_days": 30})
    assert services.customers.expire(shop.id)["conversations"] == 0  # today's conversation is kept
    later = datetime.now(UTC) + timedelta(days=31)
    recent = services.desk.say(shop.id, None, "保修多久", visitor_hash=hash_key("v-new"))
    with services.db.transaction() as conn:  # the new one was active "later"
        conn.execute(
            "UPDATE answers SET created_at = ? WHERE conversation_id = ?",
            (later.isoformat(), recent.conversation_id),
        )
    expired = services.customers.expire(shop.id, now=later)
    assert expired == {"conversations": 1, "answers": 1, "events": 2, "predictions": 0}
    with pytest.raises(NotFound):
        services.desk.conversation(shop.id, old.conversation_id)
    assert services.desk.conversation(shop.id, recent.conversation_id)


def test_stored_conversations_are_redacted_when_the_workspace_asks_but_the_reply_sees_the_words(
    services: Services, shop: Workspace
) -> None:
    services.privacy.update(shop.id, {"redact_stored": True})
    turn = services.desk.say(shop.id, None, f"电话{PHONE}，邮箱 li@example.com，怎么退货", visitor_hash=None)
    assert turn.answer is not None and PHONE in turn.answer.question  # the answer was made from their words
    stored = services.customers.export(shop.id, CustomerRef(conversation_ids=(turn.conversation_id,)))
    text = json.dumps(stored, ensure_ascii=False)
    assert PHONE not in text and "li@example.com" not in text
    assert "电话[phone]，邮箱 [email]，怎么退货" in text
    services.desk.rate(shop.id, turn.conversation_id, 1, f"回电{PHONE}")
    services.feedback.give(shop.id, turn.answer.id, "dislike", comment=f"打{PHONE}")
    rated = services.customers.export(shop.id, CustomerRef(conversation_ids=(turn.conversation_id,)))
    assert rated["conversations"][0]["rating"]["comment"] == "回电[phone]"
    assert rated["conversations"][0]["answers"][0]["feedback"][0]["comment"] == "打[phone]"


def test_documents_are_redacted_at_ingestion_when_asked(services: Services, workspace: Workspace) -> None:
    services.privacy.update(workspace.id, {"redact_ingested": True})
    result = services.ingest.ingest_bytes(
        workspace.id, "staff.md", f"# 值班\n\n售后主管手机 {PHONE}，邮箱 boss@example.com。".encode()
    )
    assert any("2 personal data item(s) redacted (phone 1, email 1)" in w for w in result.warnings)
    (chunk,) = services.documents.document_chunks(workspace.id, result.document_id)
    assert PHONE not in chunk.text and "[phone]" in chunk.text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"kinds": ["passport"]}, "kinds"),
        ({"kinds": []}, "kinds"),
        ({"keep_events_days": 0}, "keep_events_days"),
        ({"keep_events_days": True}, "keep_events_days"),
        ({"redact_stored": "yes"}, "redact_stored"),
        ({"colour": "red"}, "unknown field"),
    ],
)
def test_bad_privacy_settings_are_refused_by_name(
    services: Services, workspace: Workspace, value: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        services.privacy.update(workspace.id, value)
    assert services.privacy.settings(workspace.id).keep_events_days is None  # nothing half-written


def test_table_model_predictions_go_with_retention_and_with_the_customer_they_name(
    services: Services, shop: Workspace
) -> None:
    log = SqlitePredictionLog(services.db)
    log.record(shop.id, "churn", 1, [({"note": f"回电 {PHONE}"}, {"prediction": "Yes"}), ({"note": "x"}, {})])
    turn = services.desk.say(shop.id, None, f"我的电话是{PHONE}", visitor_hash=None)
    erasure = services.customers.erase(shop.id, CustomerRef(conversation_ids=[turn.conversation_id]))
    assert erasure.counts["predictions"] == 1 and erasure.remaining == []
    assert [e["inputs"] for e in log.recent(shop.id, "churn")] == [{"note": "x"}]
    services.privacy.update(shop.id, {"keep_events_days": 30})
    expired = services.customers.expire(shop.id, now=datetime.now(UTC) + timedelta(days=31))
    assert expired["predictions"] == 1 and log.recent(shop.id, "churn") == []
