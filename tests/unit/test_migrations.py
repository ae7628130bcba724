"""Upgrading a store made by an earlier version keeps every document searchable."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from zhiwen.adapters.embedders import BundledE5Embedder
from zhiwen.config import Settings
from zhiwen.sample_reviews import generate, to_csv
from zhiwen.services.reviews.sentiment_train import SearchSettings
from zhiwen.stores.sqlite.db import MIGRATIONS, Database
from zhiwen.stores.sqlite.keyword import SqliteKeywordIndex
from zhiwen.types import ConversationFilter
from zhiwen.wiring import build_services


def _undo_14(conn: sqlite3.Connection) -> None:
    """As a store before migration 14 was: no audit log, no stored secrets, reviews without a customer."""
    conn.execute("DROP TABLE audit_log")
    conn.execute("DROP TABLE workspace_secrets")
    conn.execute("DROP INDEX reviews_customer")
    conn.execute("ALTER TABLE reviews DROP COLUMN customer")


_SentimentRow = tuple[int, str, list[str], dict[str, Any], dict[str, Any], str, str]


def _undo_15(conn: sqlite3.Connection) -> None:
    """As a store before migration 15 was: sentiment models in three tables of their own (empty here),
    none in the model registry."""
    conn.execute("DELETE FROM model_versions WHERE family = 'sentiment'")
    conn.execute("DELETE FROM model_live WHERE family = 'sentiment'")
    conn.execute("DELETE FROM model_events WHERE family = 'sentiment'")
    reviews = MIGRATIONS[2][0]  # migration 3 made them
    assert isinstance(reviews, str)
    for statement in reviews.split(";"):
        if "CREATE TABLE sentiment_" in statement:
            conn.execute(statement)


def _undo_22(conn: sqlite3.Connection) -> None:
    """As a store before migration 22 was: near-duplicates found from the signatures alone."""
    conn.execute("DROP TABLE chunk_buckets")


def _undo_21(conn: sqlite3.Connection) -> None:
    """As a store before migration 21 was: one embedder per database."""
    conn.execute("ALTER TABLE chunks DROP COLUMN embedding_by")
    conn.execute("ALTER TABLE chunks DROP COLUMN embedding_since")


def _undo_20(conn: sqlite3.Connection) -> None:
    """As a store before migration 20 was: jobs ran where they were made, from a closure."""
    conn.execute("DROP TABLE job_inputs")
    conn.execute("ALTER TABLE jobs DROP COLUMN params")
    conn.execute("ALTER TABLE jobs DROP COLUMN takeovers")


def _undo_19(conn: sqlite3.Connection) -> None:
    """As a store before migration 19 was: rate buckets in the store, the change feed unindexed."""
    conn.execute("DROP INDEX desk_changes_at")
    conn.execute("ALTER TABLE jobs DROP COLUMN runner")
    conn.execute("CREATE TABLE rate_buckets (name TEXT PRIMARY KEY, tokens REAL NOT NULL, at REAL NOT NULL)")


def _undo_18(conn: sqlite3.Connection) -> None:
    """As a store before migration 18 was: nothing shared by several API processes."""
    conn.execute("DROP TABLE desk_changes")
    conn.execute("DROP TABLE rate_buckets")
    for event in ("insert", "update", "delete"):
        conn.execute(f"DROP TRIGGER IF EXISTS vectors_{event}_bump")  # gone with a dropped table
    conn.execute("DROP TABLE vector_versions")


def _undo_17(conn: sqlite3.Connection) -> None:
    """As a store before migration 17 was: no photos kept with messages."""
    conn.execute("DROP TABLE desk_photos")


def _undo_16(conn: sqlite3.Connection) -> None:
    """As a store before migration 16 was: no table models' predictions."""
    conn.execute("DROP TABLE model_predictions")


def test_a_version_1_store_upgrades_to_one_keyword_table_per_workspace(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    first = MIGRATIONS[0][0]
    assert isinstance(first, str)
    for statement in (s for s in first.split(";") if s.strip()):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    for ws in ("ws_a", "ws_b"):
        conn.execute("INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, 't')", (ws, ws))
        conn.execute(
            "INSERT INTO chunk_terms (terms, chunk_id, workspace_id) VALUES (?, ?, ?)",
            ("退货 运费 由 买家 承担", f"chk_{ws}", ws),
        )
    conn.close()

    database = Database(path)
    assert database.schema_version == len(MIGRATIONS)
    index = SqliteKeywordIndex(database)
    assert [cid for cid, _ in index.search("ws_a", "退货运费", 5)] == ["chk_ws_a"]
    assert [cid for cid, _ in index.search("ws_b", "退货运费", 5)] == ["chk_ws_b"]
    with database.reading() as reading:
        names = {r[0] for r in reading.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "chunk_terms" not in names
    database.close()


def test_a_version_9_store_gets_sentence_vectors_for_the_knowledge_it_already_has(
    settings: Settings, embedder: BundledE5Embedder
) -> None:
    services = build_services(settings, embedder=embedder)
    workspace = services.workspaces.create_workspace("acme")
    services.ingest.ingest_bytes(
        workspace.id, "returns.md", b"# Returns\n\nRefunds take 3 days. Exchanges 15."
    )
    services.embedding_worker.run_until_done()
    with services.db.transaction() as conn:  # as version 9 left it: no sentence vectors anywhere
        conn.execute("DROP TABLE sentence_vectors")
        conn.execute("ALTER TABLE desk_conversations DROP COLUMN priority")  # and as 12 will add it
        conn.execute("ALTER TABLE answers DROP COLUMN confidence")  # and 13
        _undo_22(conn)
        _undo_21(conn)
        _undo_20(conn)
        _undo_19(conn)
        _undo_18(conn)
        _undo_17(conn)
        _undo_16(conn)
        _undo_15(conn)
        _undo_14(conn)
        conn.execute("PRAGMA user_version = 9")
    services.close()

    upgraded = build_services(settings, embedder=embedder)
    assert upgraded.db.schema_version == len(MIGRATIONS)
    assert upgraded.documents.count_chunks_needing_vectors(workspace.id) == 1
    assert upgraded.embedding_worker.run_until_done() == 1
    query = embedder.embed_queries(["how long do refunds take"])[0]
    [hit] = upgraded.retriever.retrieve(workspace.id, "how long do refunds take", k=1).hits
    assert upgraded.vectors.sentence_scores(workspace.id, query, [hit.chunk.id])
    upgraded.close()


def test_a_version_10_store_keeps_its_vectors_and_numbers_them(
    settings: Settings, embedder: BundledE5Embedder
) -> None:
    services = build_services(settings, embedder=embedder)
    workspace = services.workspaces.create_workspace("acme")
    services.ingest.ingest_bytes(workspace.id, "returns.md", b"# Returns\n\nRefunds take 3 days.")
    services.embedding_worker.run_until_done()
    with services.db.transaction() as conn:  # the vectors table as version 10 left it
        conn.execute(
            "CREATE TABLE v10 (chunk_id TEXT PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,"
            " workspace_id TEXT NOT NULL, vector BLOB NOT NULL)"
        )
        conn.execute("INSERT INTO v10 SELECT chunk_id, workspace_id, vector FROM vectors")
        conn.execute("DROP TABLE vectors")
        conn.execute("ALTER TABLE v10 RENAME TO vectors")
        conn.execute("ALTER TABLE desk_conversations DROP COLUMN priority")  # and as 12 will add it
        conn.execute("ALTER TABLE answers DROP COLUMN confidence")  # and 13
        _undo_22(conn)
        _undo_21(conn)
        _undo_20(conn)
        _undo_19(conn)
        _undo_18(conn)
        _undo_17(conn)
        _undo_16(conn)
        _undo_15(conn)
        _undo_14(conn)
        conn.execute("PRAGMA user_version = 10")
    services.close()

    upgraded = build_services(settings, embedder=embedder)
    assert upgraded.db.schema_version == len(MIGRATIONS)
    assert upgraded.documents.count_chunks_needing_vectors(workspace.id) == 0
    with upgraded.db.reading() as conn:
        assert [tuple(row) for row in conn.execute("SELECT seq FROM vectors")] == [(1,)]
    hits = upgraded.retriever.retrieve(workspace.id, "how long do refunds take", k=1, mode="vector").hits
    assert [hit.chunk.document_id for hit in hits] == [upgraded.documents.list_documents(workspace.id)[0].id]
    upgraded.close()


def test_migration_12_keeps_waiting_conversations_in_the_queue_at_normal_priority(
    settings: Settings, embedder: BundledE5Embedder
) -> None:
    services = build_services(settings, embedder=embedder)
    workspace = services.workspaces.create_workspace("acme")
    conversation = services.answerer.answer(workspace.id, "hello").conversation_id or ""
    services.desk.request_human(workspace.id, conversation)
    with services.db.transaction() as conn:  # desk_conversations as version 11 left it
        conn.execute("ALTER TABLE desk_conversations DROP COLUMN priority")
        conn.execute("ALTER TABLE answers DROP COLUMN confidence")
        _undo_22(conn)
        _undo_21(conn)
        _undo_20(conn)
        _undo_19(conn)
        _undo_18(conn)
        _undo_17(conn)
        _undo_16(conn)
        _undo_15(conn)
        _undo_14(conn)
        conn.execute("PRAGMA user_version = 11")
    services.close()

    upgraded = build_services(settings, embedder=embedder)
    assert upgraded.db.schema_version == len(MIGRATIONS)
    (waiting,) = upgraded.desk.queue(workspace.id)
    assert (waiting.id, waiting.priority) == (conversation, 0)
    assert upgraded.desk.state(workspace.id, conversation).position == 1
    upgraded.close()


def test_a_version_12_store_gets_its_answers_confidence_in_a_column(
    settings: Settings, embedder: BundledE5Embedder
) -> None:
    services = build_services(settings, embedder=embedder)
    workspace = services.workspaces.create_workspace("acme")
    services.ingest.ingest_bytes(workspace.id, "returns.md", b"# Returns\n\nRefunds take 3 days.")
    answer = services.answerer.answer(workspace.id, "how long do refunds take?")
    services.desk.answered(workspace.id, answer)
    with services.db.transaction() as conn:  # as version 12 left it
        conn.execute("ALTER TABLE answers DROP COLUMN confidence")
        _undo_22(conn)
        _undo_21(conn)
        _undo_20(conn)
        _undo_19(conn)
        _undo_18(conn)
        _undo_17(conn)
        _undo_16(conn)
        _undo_15(conn)
        _undo_14(conn)
        conn.execute("PRAGMA user_version = 12")
    services.close()

    upgraded = build_services(settings, embedder=embedder)
    [summary] = upgraded.desk.overview(workspace.id, ConversationFilter())
    assert summary.lowest_confidence == answer.confidence
    upgraded.close()


def test_a_version_13_store_gets_an_append_only_audit_log_and_keeps_its_webhooks(
    settings: Settings, embedder: BundledE5Embedder
) -> None:
    services = build_services(settings, embedder=embedder)
    workspace = services.workspaces.create_workspace("acme")
    services.reviews.import_records(workspace.id, [{"text": "很好用", "rating": 5}], score=False)
    with services.db.transaction() as conn:  # as version 13 left it, with a webhook secret in plain text
        _undo_22(conn)
        _undo_21(conn)
        _undo_20(conn)
        _undo_19(conn)
        _undo_18(conn)
        _undo_17(conn)
        _undo_16(conn)
        _undo_15(conn)
        _undo_14(conn)
        conn.execute(
            "INSERT INTO webhooks (id, workspace_id, url, secret, events, created_at)"
            " VALUES ('whk_1', ?, 'https://desk.example.com/hook', 'whsec_plain', '[\"handoff\"]', 't')",
            (workspace.id,),
        )
        conn.execute("PRAGMA user_version = 13")
    services.close()

    upgraded = build_services(settings, embedder=embedder)
    upgraded.audit.record(workspace.id, "key:admin", "POST /v1/documents", "/v1/documents", 200, "127.0.0.1")
    assert upgraded.audit.verify(workspace.id).ok
    with upgraded.db.transaction() as conn:
        assert conn.execute("SELECT customer FROM reviews").fetchone()[0] == ""
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE audit_log SET actor = 'someone else'")
    with upgraded.db.reading() as conn:
        (sealed,) = conn.execute("SELECT secret FROM webhooks").fetchone()
    assert upgraded.secret_box.open(sealed) == "whsec_plain"  # an older plain secret still signs
    upgraded.close()


def test_a_version_14_store_keeps_its_sentiment_models_the_live_one_and_their_history_in_the_registry(
    settings: Settings, embedder: BundledE5Embedder
) -> None:
    services = build_services(settings, embedder=embedder)
    workspace = services.workspaces.create_workspace("acme")
    services.reviews.import_file(workspace.id, "r.csv", to_csv(generate(150)), score=False)
    trained = services.sentiment.train(workspace.id, "test", SearchSettings(candidates=("ngram",)))
    services.sentiment.family.set_gate_policy(workspace.id, {"macro_f1": 0.5}, 0.05)
    day = "2026-01-0{}T00:00:00Z".format
    models: list[_SentimentRow] = [  # version, kind, labels, params, report, created_by, created_at
        (1, "ngram", trained.report["labels"], {"C": 8.0}, {"held_out": {"reviews": 30}}, "alice", day(1)),
        (2, "blend", ["negative", "positive"], {"w": 0.7}, {"train_reviews": 9}, "bob", day(2)),
    ]
    events = [  # version, action, detail, actor, at; the oldest first
        (1, "promote", {"passed": True}, "alice", day(3)),
        (2, "promote", {"passed": True, "failures": []}, "bob", day(4)),
        (1, "rollback", {}, "carol", day(5)),
    ]
    with services.db.transaction() as conn:  # as version 14 left it: v1 live again after a rollback
        (blob,) = conn.execute("SELECT model FROM model_versions WHERE family = 'sentiment'").fetchone()
        _undo_22(conn)
        _undo_21(conn)
        _undo_20(conn)
        _undo_19(conn)
        _undo_18(conn)
        _undo_17(conn)
        _undo_16(conn)
        _undo_15(conn)
        for version, kind, labels, params, report, by, at in models:
            conn.execute(
                "INSERT INTO sentiment_models (workspace_id, version, kind, labels, params, report, model,"
                " created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (workspace.id, version, kind, *map(json.dumps, (labels, params, report)), blob, by, at),
            )
        for version, action, detail, actor, at in events:
            conn.execute(
                "INSERT INTO sentiment_events (workspace_id, version, action, detail, actor, at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (workspace.id, version, action, json.dumps(detail), actor, at),
            )
        conn.execute("INSERT INTO sentiment_live VALUES (?, 1, ?)", (workspace.id, day(5)))
        conn.execute("PRAGMA user_version = 14")
    services.close()

    upgraded = build_services(settings, embedder=embedder)
    assert upgraded.db.schema_version == len(MIGRATIONS)
    family = upgraded.sentiment.family
    stored = family.versions(workspace.id)
    assert [(m.version, m.kind, m.params, m.created_by, m.created_at) for m in stored] == [
        (version, kind, params, by, at) for version, kind, _, params, _, by, at in models
    ]
    assert [m.report for m in stored] == [
        {**report, "labels": labels} for _, _, labels, _, report, _, _ in models
    ]
    assert family.live_version(workspace.id) == 1
    history = [
        (e["version"], e["action"], e["detail"], e["actor"], e["at"]) for e in family.history(workspace.id)
    ]
    assert history == events[::-1]
    assert family.gate_policy(workspace.id).minimum == {"macro_f1": 0.5}  # still the "sentiment_gate" setting
    (classified,) = upgraded.reviews.classify(workspace.id, [("客服态度很差，没人回复", "")])
    assert classified.model.startswith("v1 ")  # the live model, loaded from the registry
    assert upgraded.sentiment.rollback(workspace.id, "dave") == 2  # the history still counts: v2 was live
    with upgraded.db.reading() as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not {"sentiment_models", "sentiment_live", "sentiment_events"} & tables
    upgraded.close()


def test_a_version_21_store_keeps_finding_near_duplicates_of_what_it_holds(
    tmp_path: Path, embedder: BundledE5Embedder
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    services = build_services(settings, embedder=embedder)
    workspace = services.workspaces.create_workspace("acme")
    paragraph = "Aurora Digital ships to every province of mainland China with SF Express within three days."
    services.ingest.ingest_bytes(workspace.id, "a.md", f"# A\n\n{paragraph}".encode())
    services.close()
    with sqlite3.connect(settings.db_path) as conn:
        _undo_22(conn)
        conn.execute("PRAGMA user_version = 21")

    upgraded = build_services(settings, embedder=embedder)
    again = upgraded.ingest.ingest_bytes(workspace.id, "b.md", f"# B\n\n{paragraph} Thanks!".encode())
    assert (again.near_duplicates, again.chunks) == (1, 0)  # the signature stored before was bucketed
    upgraded.close()


def test_a_process_that_finds_its_upgrade_done_by_another_meanwhile_skips_it(tmp_path: Path) -> None:
    """Two processes opening a store that needs an upgrade: the one that waited for the other's write
    finds the version moved and does not run the same migration again."""
    path = tmp_path / "store.sqlite3"
    Database(path).close()
    other = sqlite3.connect(path, isolation_level=None)
    _undo_22(other)
    other.execute("PRAGMA user_version = 21")
    other.execute("BEGIN IMMEDIATE")  # the other process is upgrading
    opened: list[Database | BaseException] = []

    def open_store() -> None:
        try:
            opened.append(Database(path))  # reads version 18, then waits to write
        except BaseException as error:
            opened.append(error)

    waiting = threading.Thread(target=open_store)
    waiting.start()
    time.sleep(1.0)
    last = MIGRATIONS[21][0]  # migration 22's tables; 23 has nothing to do on SQLite
    assert isinstance(last, str)
    for statement in (s for s in last.split(";") if s.strip()):
        other.execute(statement)
    other.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    other.execute("COMMIT")
    waiting.join(timeout=10)
    [database] = opened
    assert isinstance(database, Database) and database.schema_version == len(MIGRATIONS)
    database.close()
    other.close()
