"""One schema history for both backends: PostgreSQL's is translated from what the SQLite migrations
build, so the two cannot drift apart."""

from __future__ import annotations

import psycopg

from zhiwen.stores.postgres.db import PgDatabase, translated
from zhiwen.stores.sqlite.db import MIGRATIONS, Database


def test_postgresql_has_every_table_and_column_the_sqlite_migrations_make(postgres_url: str) -> None:
    sqlite = Database(":memory:")
    with sqlite.reading() as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        expected = {
            t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")]
            for t in tables
            if not t.startswith("sqlite_")
        }
    sqlite.close()
    PgDatabase(postgres_url).close()
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
            " ORDER BY table_name, ordinal_position"
        ).fetchall()
        (version,) = conn.execute("SELECT version FROM zhiwen_schema").fetchone() or (0,)
    found: dict[str, list[str]] = {}
    for table, column in rows:
        found.setdefault(table, []).append(column)
    assert found.pop("zhiwen_schema") == ["id", "version"] and version == len(MIGRATIONS)
    assert found.pop("keyword_docs") and found.pop("keyword_postings")  # FTS5's stand-ins
    assert found == {
        t: [*columns, "rowid"] if t in ("chunks", "jobs") else columns for t, columns in expected.items()
    }


def test_placeholders_are_translated_outside_quoted_text_and_percent_signs_kept() -> None:
    sql = "SELECT 'why?', ? FROM t WHERE a LIKE 'x%' AND b = ? AND c = 'it''s ?'"
    assert translated(sql) == "SELECT 'why?', %s FROM t WHERE a LIKE 'x%%' AND b = %s AND c = 'it''s ?'"
