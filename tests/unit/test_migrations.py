"""Upgrading a store made by an earlier version keeps every document searchable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from zhiwen.stores.sqlite.db import MIGRATIONS, Database
from zhiwen.stores.sqlite.keyword import SqliteKeywordIndex


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
