"""One schema history for both backends: PostgreSQL's is translated from what the SQLite migrations
build, so the two cannot drift apart."""

from __future__ import annotations

import psycopg
import pytest

from zhiwen.stores.postgres.db import PgDatabase, translated
from zhiwen.stores.sqlite.db import MIGRATIONS, Database
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
    assert found.pop("keyword_docs") and found.pop("keyword_postings")  # FTS5's stand-ins
    assert found.pop("rate_buckets")  # in a file of their own beside a SQLite store
    in_insertion_order = ("answers", "chunks", "jobs")  # SQLite's rowid, an identity column here
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
