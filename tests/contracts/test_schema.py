"""One schema history for both backends: PostgreSQL's is translated from what the SQLite migrations
build, so the two cannot drift apart."""

from __future__ import annotations

import psycopg
import pytest

from tests.contracts.conftest import Connect
from zhiwen.stores.postgres.db import PgDatabase, translated
from zhiwen.stores.sql import SqlConnection
from zhiwen.stores.sqlite.db import MIGRATIONS, Database, Migration
from zhiwen.stores.sqlite.workspaces import SqliteWorkspaceStore


def test_postgresql_has_every_table_and_column_the_sqlite_migrations_make(postgres_url: str) -> None:
    sqlite = Database(":memory:")
    expected = sqlite.columns()
    sqlite.close()
    postgresql = PgDatabase(postgres_url)
    found = postgresql.columns()
    with postgresql.reading() as conn:
        (version,) = conn.execute("SELECT version FROM zhiwen_schema").fetchone() or (0,)
    postgresql.close()
    assert found.pop("zhiwen_schema") == [("id", False), ("version", False)] and version == len(MIGRATIONS)
    assert all(found.pop(t) for t in ("keyword_docs", "keyword_postings", "keyword_stats", "keyword_terms"))
    assert found.pop("rate_buckets")  # in a file of their own beside a SQLite store
    in_insertion_order = ("answers", "chunks", "jobs")  # SQLite's rowid, an identity column here
    assert found["vectors"].pop() == ("embedding", False)  # pgvector's copy, for its index
    assert found == {t: [*c, ("rowid", False)] if t in in_insertion_order else c for t, c in expected.items()}


def test_placeholders_are_translated_outside_quoted_text_and_percent_signs_kept() -> None:
    sql = "SELECT 'why?', ? FROM t WHERE a LIKE 'x%' AND b = ? AND c = 'it''s ?'"
    assert translated(sql) == "SELECT 'why?', %s FROM t WHERE a LIKE 'x%%' AND b = %s AND c = 'it''s ?'"


def test_a_lost_connection_is_made_again_for_the_next_request(postgres_url: str) -> None:
    db = PgDatabase(postgres_url)
    workspaces = SqliteWorkspaceStore(db)
    workspaces.create_workspace("acme")
    with db.reading() as conn:
        (pid,) = conn.execute("SELECT pg_backend_pid()").fetchone()
    with psycopg.connect(postgres_url, autocommit=True) as admin:  # as a server restart would
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(psycopg.OperationalError):
        workspaces.list_workspaces()  # the request that finds it lost
    assert [w.name for w in workspaces.list_workspaces()] == ["acme"]
    db.close()


# The next migration as it would ship: a table, a column, an index, and a data step in Python.
def _copy_names(conn: SqlConnection) -> None:
    conn.execute("INSERT INTO upgrade_notes (workspace_id, note) SELECT id, name FROM workspaces")


NEXT: list[list[Migration]] = [
    *MIGRATIONS,
    [
        """
    CREATE TABLE upgrade_notes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        note TEXT NOT NULL,
        weight REAL NOT NULL DEFAULT 0.5
    );
    ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX upgrade_notes_by_workspace ON upgrade_notes(workspace_id)
    """,
        _copy_names,  # type: ignore[list-item]  # run on either connection
        "INSERT INTO upgrade_notes (workspace_id, note) SELECT id, 'REAL; INTEGER' FROM workspaces",
    ],
]


def test_the_next_migration_upgrades_both_backends_alike(connect: Connect) -> None:
    db = connect()  # made at this version, holding a workspace: an existing installation
    SqliteWorkspaceStore(db).create_workspace("acme")
    db.migrate(NEXT)  # type: ignore[call-arg]  # both take the history to apply
    db.migrate(NEXT)  # type: ignore[call-arg]  # a second start finds nothing to do
    assert db.schema_version == len(NEXT)
    columns = db.columns()
    assert [c for c, _ in columns["upgrade_notes"]] == ["id", "workspace_id", "note", "weight"]
    assert "attempts" in [c for c, _ in columns["jobs"]]
    with db.transaction() as conn:
        conn.execute("INSERT INTO upgrade_notes (workspace_id, note) SELECT id, 'second' FROM workspaces")
        rows = conn.execute("SELECT id, note, weight FROM upgrade_notes ORDER BY id").fetchall()
    assert [tuple(r) for r in rows] == [(1, "acme", 0.5), (2, "REAL; INTEGER", 0.5), (3, "second", 0.5)]


def test_postgresql_refuses_a_schema_newer_than_it_knows_and_a_step_only_sqlite_runs(
    postgres_url: str,
) -> None:
    db = PgDatabase(postgres_url)
    try:
        db.migrate(NEXT)
        with pytest.raises(RuntimeError, match="newer than this Zhiwen knows"):
            db.migrate(MIGRATIONS)
        with pytest.raises(RuntimeError, match="only SQLite can run"):
            db.migrate([*NEXT, ["CREATE VIRTUAL TABLE t USING fts5(terms)"]])
        assert db.schema_version == len(NEXT), "a failed upgrade leaves the version it found"
    finally:
        db.close()


def _postings_key(db: PgDatabase) -> str:
    with db.reading() as conn:
        row = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'keyword_postings_pkey'"
        ).fetchone()
    return str(row[0]) if row else ""


def test_keyword_postings_are_read_from_their_key_alone_in_new_and_upgraded_databases(
    postgres_url: str,
) -> None:
    db = PgDatabase(postgres_url)
    try:
        assert _postings_key(db).endswith("(workspace_id, term, chunk_id) INCLUDE (tf, length)")
        with db.transaction() as conn:  # as a database made before migration 23 has it
            conn.execute(
                "ALTER TABLE keyword_postings DROP CONSTRAINT keyword_postings_pkey,"
                " ADD PRIMARY KEY (workspace_id, term, chunk_id)"
            )
            conn.execute("UPDATE zhiwen_schema SET version = 22")
        assert "INCLUDE" not in _postings_key(db)
        db.migrate()
        assert db.schema_version == len(MIGRATIONS)
        assert _postings_key(db).endswith("(workspace_id, term, chunk_id) INCLUDE (tf, length)")
    finally:
        db.close()
