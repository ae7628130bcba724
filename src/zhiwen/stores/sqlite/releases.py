"""Releases: frozen copies of a workspace's knowledge plus the settings and models that answer with it.

A release's knowledge is copied into a *snapshot workspace* (documents, chunks, its own keyword index and
vectors, ids suffixed with ``@rN``), so ingestion into the working knowledge never touches what customers
are answered from, and promotion or rollback is a one-row pointer switch.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from zhiwen.errors import Conflict, NotFound
from zhiwen.stores.keyword_search import KeywordSearch
from zhiwen.stores.sql import SqlConnection, SqlDatabase, SqlRow
from zhiwen.stores.sqlite.vectors import VectorRows
from zhiwen.types import Release, utc_now


def _release(row: SqlRow) -> Release:
    return Release(
        id=row["id"],
        workspace_id=row["workspace_id"],
        number=row["number"],
        knowledge_id=row["knowledge_id"],
        config=json.loads(row["config"]),
        manifest=json.loads(row["manifest"]),
        eval_run_id=row["eval_run_id"],
        note=row["note"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        pruned_at=row["pruned_at"],
    )


class SqliteReleaseStore:
    def __init__(self, db: SqlDatabase, keywords: KeywordSearch, vectors: VectorRows) -> None:
        self._db = db
        self._keywords = keywords  # the snapshot's keyword index is copied and dropped with it
        self._vectors = vectors  # … and its vectors copied

    def create_release(
        self, workspace_id: str, config: dict[str, Any], note: str, created_by: str
    ) -> Release:
        """Freeze the working knowledge of ``workspace_id`` with ``config`` as the next release."""
        with self._db.transaction() as conn:
            pending = conn.execute(
                "SELECT COUNT(*) FROM chunks WHERE workspace_id = ? AND embedded = 0", (workspace_id,)
            ).fetchone()[0]
            if pending:  # checked in the freezing transaction: nothing can be ingested in between
                raise Conflict(
                    f"{pending} chunks of this workspace are still being embedded, and a release freezes"
                    " the knowledge with its vectors; try again when GET /readyz shows pending_embeddings 0"
                )
            number = 1 + (
                conn.execute(
                    "SELECT MAX(number) FROM releases WHERE workspace_id = ?", (workspace_id,)
                ).fetchone()[0]
                or 0
            )
            label = f"@r{number}"  # Release.suffix
            knowledge_id = workspace_id + label
            conn.execute(
                "INSERT INTO workspaces (id, name, created_at, snapshot_of)"
                " SELECT ?, name || ?, ?, id FROM workspaces WHERE id = ?",
                (knowledge_id, label, utc_now(), workspace_id),
            )
            conn.execute(
                "INSERT INTO documents (id, workspace_id, source, title, content_hash, tags, created_at,"
                " updated_at) SELECT id || ?, ?, source, title, content_hash, tags, created_at, updated_at"
                " FROM documents WHERE workspace_id = ?",
                (label, knowledge_id, workspace_id),
            )
            conn.execute(
                "INSERT INTO chunks (id, workspace_id, document_id, position, title_path, text, kind,"
                " question, content_hash, embedded) SELECT id || ?, ?, document_id || ?, position,"
                " title_path, text, kind, question, content_hash, embedded FROM chunks"
                " WHERE workspace_id = ?",
                (label, knowledge_id, label, workspace_id),
            )
            self._keywords.copy_workspace(workspace_id, knowledge_id, label)  # in this transaction
            self._vectors.copy_workspace(workspace_id, knowledge_id, label)
            manifest = {
                "documents": dict(
                    conn.execute(
                        "SELECT source, content_hash FROM documents WHERE workspace_id = ? ORDER BY source",
                        (knowledge_id,),
                    ).fetchall()
                ),
                "chunks": conn.execute(
                    "SELECT COUNT(*) FROM chunks WHERE workspace_id = ?", (knowledge_id,)
                ).fetchone()[0],
            }
            release_id = "rel_" + secrets.token_hex(6)
            conn.execute(
                "INSERT INTO releases (id, workspace_id, number, knowledge_id, config, manifest, note,"
                " created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    release_id,
                    workspace_id,
                    number,
                    knowledge_id,
                    json.dumps(config, ensure_ascii=False),
                    json.dumps(manifest, ensure_ascii=False),
                    note,
                    created_by,
                    utc_now(),
                ),
            )
            return self._one(conn, "id = ?", (release_id,))

    def prune_release(self, release: Release) -> None:
        """Delete a release's frozen knowledge (documents, chunks, keyword index, vectors); keep its
        record, settings and evaluations."""
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM documents WHERE workspace_id = ?", (release.knowledge_id,))  # cascades
            self._keywords.drop_workspace(release.knowledge_id)
            conn.execute("UPDATE releases SET pruned_at = ? WHERE id = ?", (utc_now(), release.id))

    def attach_evaluation(self, release_id: str, eval_run_id: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("UPDATE releases SET eval_run_id = ? WHERE id = ?", (eval_run_id, release_id))

    def get_release(self, workspace_id: str, number: int) -> Release:
        with self._db.reading() as conn:
            return self._one(conn, "workspace_id = ? AND number = ?", (workspace_id, number))

    def list_releases(self, workspace_id: str) -> list[Release]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT * FROM releases WHERE workspace_id = ? ORDER BY number", (workspace_id,)
            ).fetchall()
        return [_release(r) for r in rows]

    def live_release(self, workspace_id: str) -> Release | None:
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT r.* FROM live_releases l JOIN releases r ON r.id = l.release_id"
                " WHERE l.workspace_id = ?",
                (workspace_id,),
            ).fetchone()
        return None if row is None else _release(row)

    def set_live(self, release: Release, action: str, actor: str, detail: dict[str, Any]) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO live_releases (workspace_id, release_id, since) VALUES (?, ?, ?)"
                " ON CONFLICT(workspace_id) DO UPDATE SET release_id = excluded.release_id,"
                " since = excluded.since",
                (release.workspace_id, release.id, utc_now()),
            )
        self.log_event(release, action, actor, detail)

    def log_event(self, release: Release, action: str, actor: str, detail: dict[str, Any]) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO release_events (workspace_id, release_id, action, detail, actor, at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    release.workspace_id,
                    release.id,
                    action,
                    json.dumps(detail, ensure_ascii=False),
                    actor,
                    utc_now(),
                ),
            )

    def events(self, workspace_id: str, limit: int = 50) -> list[dict[str, Any]]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT r.number, e.action, e.detail, e.actor, e.at FROM release_events e"
                " JOIN releases r ON r.id = e.release_id WHERE e.workspace_id = ? ORDER BY e.id DESC LIMIT ?",
                (workspace_id, limit),
            ).fetchall()
        return [
            {"release": r[0], "action": r[1], "detail": json.loads(r[2]), "actor": r[3], "at": r[4]}
            for r in rows
        ]

    @staticmethod
    def _one(conn: SqlConnection, where: str, args: tuple[Any, ...]) -> Release:
        row = conn.execute(f"SELECT * FROM releases WHERE {where}", args).fetchone()
        if row is None:
            raise NotFound("no such release in this workspace; see `zhiwen release list`")
        return _release(row)
