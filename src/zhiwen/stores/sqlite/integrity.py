"""Is the store whole? The database engine's own checks, then the promises Zhiwen's writes make to each
other: every chunk is in its workspace's keyword index and nothing else is, a chunk marked embedded has
its vector, every release's frozen knowledge is as its manifest says, and every unfinished upload job
has its spooled files. Run after a crash (`zhiwen check`) and by the fault-injection benchmark after
every kill.
"""

from __future__ import annotations

import json
from pathlib import Path

from zhiwen.stores.keyword_search import KeywordSearch
from zhiwen.stores.sql import SqlConnection, SqlDatabase


def problems(db: SqlDatabase, keywords: KeywordSearch, spool: Path | None = None) -> list[str]:
    """Every inconsistency found, in words; an empty list means the store is whole."""
    found = db.engine_problems()
    with db.reading() as conn:
        found += _keyword_index(conn, keywords)
        found += _vectors(conn)
        found += _releases(conn)
        if spool is not None:
            found += _spool(conn, spool)
    return found


def _keyword_index(conn: SqlConnection, keywords: KeywordSearch) -> list[str]:
    found = []
    workspaces = [row[0] for row in conn.execute("SELECT id FROM workspaces")]
    for workspace_id in workspaces:
        rows = conn.execute("SELECT id FROM chunks WHERE workspace_id = ?", (workspace_id,))
        chunks = {row[0] for row in rows}
        indexed = keywords.indexed(workspace_id)
        if missing := chunks - set(indexed):
            found.append(f"workspace {workspace_id}: {len(missing)} chunks are not in keyword search")
        if stray := set(indexed) - chunks:
            found.append(f"workspace {workspace_id}: {len(stray)} keyword entries have no chunk")
        if len(indexed) != len(set(indexed)):
            found.append(f"workspace {workspace_id}: {len(indexed) - len(set(indexed))} chunks indexed twice")
    return found


def _vectors(conn: SqlConnection) -> list[str]:
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


def _releases(conn: SqlConnection) -> list[str]:
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


def _spool(conn: SqlConnection, spool: Path) -> list[str]:
    waiting = conn.execute(
        "SELECT id FROM jobs WHERE kind = 'ingest' AND status IN ('queued', 'running')"
    ).fetchall()
    return [
        f"upload job {job_id} is unfinished but its files are gone from {spool}"
        for (job_id,) in waiting
        if not (spool / job_id / "manifest.json").is_file()
    ]
