"""Is the store whole? SQLite's own checks, then the promises Zhiwen's writes make to each other: every
chunk is in its workspace's keyword table and nothing else is, a chunk marked embedded has its vector,
every release's frozen knowledge is as its manifest says, and every unfinished upload job has its spooled
files. Run after a crash (`zhiwen check`) and by the fault-injection benchmark after every kill.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from zhiwen.stores.sqlite.db import Database, fts_table


def problems(db: Database, spool: Path | None = None) -> list[str]:
    """Every inconsistency found, in words; an empty list means the store is whole."""
    with db.reading() as conn:
        found = _sqlite(conn)
        found += _keyword_tables(conn)
        found += _vectors(conn)
        found += _releases(conn)
        if spool is not None:
            found += _spool(conn, spool)
    return found


def _sqlite(conn: sqlite3.Connection) -> list[str]:
    found = [f"sqlite: {row[0]}" for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
    return found + [
        f"row {row[1]} of {row[0]} points to a missing {row[2]} row"
        for row in conn.execute("PRAGMA foreign_key_check")
    ]


def _keyword_tables(conn: sqlite3.Connection) -> list[str]:
    found = []
    workspaces = [row[0] for row in conn.execute("SELECT id FROM workspaces")]
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for workspace_id in workspaces:
        rows = conn.execute("SELECT id FROM chunks WHERE workspace_id = ?", (workspace_id,))
        chunks = {row[0] for row in rows}
        table = fts_table(workspace_id)
        indexed = [row[0] for row in conn.execute(f"SELECT chunk_id FROM {table}")] if table in tables else []
        if missing := chunks - set(indexed):
            found.append(f"workspace {workspace_id}: {len(missing)} chunks are not in keyword search")
        if stray := set(indexed) - chunks:
            found.append(f"workspace {workspace_id}: {len(stray)} keyword entries have no chunk")
        if len(indexed) != len(set(indexed)):
            found.append(f"workspace {workspace_id}: {len(indexed) - len(set(indexed))} chunks indexed twice")
    return found


def _vectors(conn: sqlite3.Connection) -> list[str]:
    unembedded = conn.execute(
        "SELECT COUNT(*) FROM chunks c WHERE c.embedded = 1"
        " AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.chunk_id = c.id)"
    ).fetchone()[0]
    strays = conn.execute(
        "SELECT COUNT(*) FROM vectors v WHERE NOT EXISTS"
        " (SELECT 1 FROM chunks c WHERE c.id = v.chunk_id AND c.workspace_id = v.workspace_id)"
    ).fetchone()[0]
    found = [f"{unembedded} chunks are marked embedded but have no vector"] if unembedded else []
    return found + ([f"{strays} vectors belong to no chunk of their workspace"] if strays else [])


def _releases(conn: sqlite3.Connection) -> list[str]:
    found = []
    rows = conn.execute(
        "SELECT workspace_id, number, knowledge_id, manifest FROM releases WHERE pruned_at IS NULL"
    )
    for workspace_id, number, knowledge_id, manifest in rows.fetchall():
        expected = json.loads(manifest)
        chunks = conn.execute("SELECT COUNT(*) FROM chunks WHERE workspace_id = ?", (knowledge_id,))
        documents = conn.execute("SELECT COUNT(*) FROM documents WHERE workspace_id = ?", (knowledge_id,))
        counts = (chunks.fetchone()[0], documents.fetchone()[0])
        if counts != (expected["chunks"], len(expected["documents"])):
            found.append(f"workspace {workspace_id}: release {number}'s knowledge differs from its manifest")
    return found


def _spool(conn: sqlite3.Connection, spool: Path) -> list[str]:
    waiting = conn.execute(
        "SELECT id FROM jobs WHERE kind = 'ingest' AND status IN ('queued', 'running')"
    ).fetchall()
    return [
        f"upload job {job_id} is unfinished but its files are gone from {spool}"
        for (job_id,) in waiting
        if not (spool / job_id / "manifest.json").is_file()
    ]
