"""Documents and their chunks in SQLite."""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager

from zhiwen.errors import NotFound
from zhiwen.stores.sql import SqlConnection, SqlDatabase, SqlRow
from zhiwen.text.fingerprints import buckets
from zhiwen.types import Chunk, Document

_MAX_VARS = 900  # stay below SQLite's bound-parameter limit


def _batches(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _MAX_VARS):
        yield items[start : start + _MAX_VARS]


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _document(row: SqlRow) -> Document:
    return Document(
        id=row["id"],
        workspace_id=row["workspace_id"],
        source=row["source"],
        title=row["title"],
        content_hash=row["content_hash"],
        tags=tuple(json.loads(row["tags"])),
        chunk_count=row["chunk_count"],
        waiting_chunks=row["waiting_chunks"],
        characters=row["characters"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _chunk(row: SqlRow) -> Chunk:
    return Chunk(
        id=row["id"],
        workspace_id=row["workspace_id"],
        document_id=row["document_id"],
        position=row["position"],
        title_path=row["title_path"],
        text=row["text"],
        kind=row["kind"],
        question=row["question"],
        content_hash=row["content_hash"],
    )


_DOCUMENT_SELECT = (
    "SELECT d.*, (SELECT COUNT(*) FROM chunks c WHERE c.document_id = d.id) AS chunk_count,"
    # Not `COUNT(*) … AND c.embedded = 0`: SQLite answered that from the index of every waiting chunk in the
    # database, and each cited document cost 10 ms while a big upload elsewhere waited to be embedded.
    " (SELECT coalesce(SUM(1 - c.embedded), 0) FROM chunks c WHERE c.document_id = d.id) AS waiting_chunks,"
    " (SELECT coalesce(SUM(length(c.text)), 0) FROM chunks c WHERE c.document_id = d.id) AS characters"
    " FROM documents d"
)


class SqliteDocumentStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def transaction(self) -> AbstractContextManager[SqlConnection]:
        return self._db.transaction()

    def find_document(self, workspace_id: str, source: str) -> Document | None:
        with self._db.reading() as conn:
            row = conn.execute(
                f"{_DOCUMENT_SELECT} WHERE d.workspace_id = ? AND d.source = ?", (workspace_id, source)
            ).fetchone()
        return None if row is None else _document(row)

    def get_document(self, workspace_id: str, document_id: str) -> Document:
        with self._db.reading() as conn:
            row = conn.execute(
                f"{_DOCUMENT_SELECT} WHERE d.workspace_id = ? AND d.id = ?", (workspace_id, document_id)
            ).fetchone()
        if row is None:
            raise NotFound(f"no document {document_id!r} in this workspace")
        return _document(row)

    def titles_and_sources(
        self, workspace_id: str, document_ids: Collection[str]
    ) -> dict[str, tuple[str, str]]:
        rows = self._where_in("SELECT id, title, source FROM documents", "id", workspace_id, document_ids)
        return {r[0]: (r[1], r[2]) for r in rows}

    def list_documents(self, workspace_id: str, limit: int = 100, offset: int = 0) -> list[Document]:
        with self._db.reading() as conn:
            rows = conn.execute(
                f"{_DOCUMENT_SELECT} WHERE d.workspace_id = ? ORDER BY d.source LIMIT ? OFFSET ?",
                (workspace_id, limit, offset),
            ).fetchall()
        return [_document(r) for r in rows]

    def count_documents(self, workspace_id: str) -> int:
        with self._db.reading() as conn:
            row = conn.execute("SELECT COUNT(*) FROM documents WHERE workspace_id = ?", (workspace_id,))
            return int(row.fetchone()[0])

    def documents_version(self, workspace_id: str) -> str:
        with self._db.reading() as conn:
            count, latest = conn.execute(
                "SELECT COUNT(*), MAX(updated_at) FROM documents WHERE workspace_id = ?", (workspace_id,)
            ).fetchone()
        return f"{count}:{latest or ''}"

    def row_titles(self, workspace_id: str) -> list[str]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT DISTINCT c.title_path FROM chunks c JOIN documents d ON d.id = c.document_id"
                " WHERE c.workspace_id = ? AND c.title_path <> ''"
                " AND substr(c.title_path, 1, length(d.title)) <> d.title ORDER BY c.title_path",
                (workspace_id,),
            ).fetchall()
        return [r[0] for r in rows]

    def replace_document(self, document: Document, chunks: Sequence[Chunk]) -> list[str]:
        with self._db.transaction() as conn:
            old = {
                r[0]: tuple(r[1:])
                for r in conn.execute(
                    "SELECT id, title_path, text, kind, question, content_hash FROM chunks"
                    " WHERE document_id = ?",
                    (document.id,),
                )
            }
            kept = {
                c.id
                for c in chunks
                if old.get(c.id) == (c.title_path, c.text, c.kind, c.question, c.content_hash)
            }
            for batch in _batches(sorted(set(old) - kept)):  # a chunk whose text changed is written anew
                conn.execute(f"DELETE FROM chunks WHERE id IN ({_marks(len(batch))})", batch)
            conn.execute(
                "INSERT INTO documents (id, workspace_id, source, title, content_hash, tags, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET title = excluded.title, content_hash = excluded.content_hash,"
                " tags = excluded.tags, updated_at = excluded.updated_at",
                (
                    document.id,
                    document.workspace_id,
                    document.source,
                    document.title,
                    document.content_hash,
                    json.dumps(list(document.tags), ensure_ascii=False),
                    document.created_at,
                    document.updated_at,
                ),
            )
            conn.executemany(
                "UPDATE chunks SET position = ? WHERE id = ?",
                [(c.position, c.id) for c in chunks if c.id in kept],
            )
            conn.executemany(
                "INSERT INTO chunks (id, workspace_id, document_id, position, title_path, text, kind,"
                " question, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        c.id,
                        c.workspace_id,
                        c.document_id,
                        c.position,
                        c.title_path,
                        c.text,
                        c.kind,
                        c.question,
                        c.content_hash,
                    )
                    for c in chunks
                    if c.id not in kept
                ],
            )
        return sorted(set(old) - {c.id for c in chunks})

    def delete_document(self, workspace_id: str, document_id: str) -> list[str]:
        with self._db.transaction() as conn:
            self.get_document(workspace_id, document_id)
            ids = [r[0] for r in conn.execute("SELECT id FROM chunks WHERE document_id = ?", (document_id,))]
            conn.execute(
                "DELETE FROM documents WHERE id = ? AND workspace_id = ?", (document_id, workspace_id)
            )
        return ids

    def get_chunks(self, workspace_id: str, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        found: dict[str, Chunk] = {}
        with self._db.reading() as conn:
            for batch in _batches(list(chunk_ids)):
                # By primary key alone, the workspace checked here: given "workspace_id = ? AND id IN",
                # SQLite walked the (workspace_id, content_hash) index, every chunk of the workspace
                # (150 ms a question at 100k chunks, benchmarks/scale.py).
                rows = conn.execute(f"SELECT * FROM chunks WHERE id IN ({_marks(len(batch))})", batch)
                found.update((r["id"], _chunk(r)) for r in rows if r["workspace_id"] == workspace_id)
        return found

    def chunk_ids_by_hash(self, workspace_id: str, hashes: Collection[str]) -> dict[str, str]:
        rows = self._where_in("SELECT content_hash, id FROM chunks", "content_hash", workspace_id, hashes)
        return {r[0]: r[1] for r in rows}

    def chunk_ids_for_documents(self, workspace_id: str, document_ids: Collection[str]) -> set[str]:
        return {
            r[0] for r in self._where_in("SELECT id FROM chunks", "document_id", workspace_id, document_ids)
        }

    def chunk_ids_with_tags(self, workspace_id: str, tags: Collection[str]) -> set[str]:
        wanted = set(tags)
        with self._db.reading() as conn:  # tags are JSON: matched here, in the SQL every backend speaks
            rows = conn.execute("SELECT id, tags FROM documents WHERE workspace_id = ?", (workspace_id,))
            tagged = [r[0] for r in rows.fetchall() if wanted & set(json.loads(r[1]))]
        return self.chunk_ids_for_documents(workspace_id, tagged)

    def _where_in(self, select: str, column: str, workspace_id: str, keys: Collection[str]) -> list[SqlRow]:
        """The workspace's rows of ``select`` whose ``column`` is one of ``keys``, read in batches (a
        statement takes a limited number of parameters)."""
        rows: list[SqlRow] = []
        with self._db.reading() as conn:
            for batch in _batches(list(keys)):
                rows += conn.execute(
                    f"{select} WHERE workspace_id = ? AND {column} IN ({_marks(len(batch))})",
                    (workspace_id, *batch),
                ).fetchall()
        return rows

    def document_chunks(self, workspace_id: str, document_id: str) -> list[Chunk]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT * FROM chunks WHERE workspace_id = ? AND document_id = ? ORDER BY position",
                (workspace_id, document_id),
            ).fetchall()
        return [_chunk(r) for r in rows]

    def iter_chunks(self, workspace_id: str) -> Iterator[Chunk]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT * FROM chunks WHERE workspace_id = ? ORDER BY document_id, position", (workspace_id,)
            ).fetchall()
        return (_chunk(r) for r in rows)

    def count_chunks(self, workspace_id: str) -> int:
        with self._db.reading() as conn:
            row = conn.execute("SELECT COUNT(*) FROM chunks WHERE workspace_id = ?", (workspace_id,))
            return int(row.fetchone()[0])

    def claim_chunks_needing_vectors(
        self, limit: int, holder: str, stale_before: float, document_id: str | None = None
    ) -> list[Chunk]:
        claimable = "embedded = 0 AND (embedding_by IS NULL OR embedding_since < ?)"
        params: tuple[object, ...] = (stale_before,)
        if document_id is not None:  # from its document's chunks: "+" keeps SQLite off the waiting index
            claimable = "document_id = ? AND +" + claimable
            params = (document_id, *params)
        with self._db.reading() as conn:  # idle embedders poll: no write lock unless there is work
            if conn.execute(f"SELECT 1 FROM chunks WHERE {claimable} LIMIT 1", params).fetchone() is None:
                return []
        with self._db.transaction() as conn:
            rows = conn.execute(
                "UPDATE chunks SET embedding_by = ?, embedding_since = ? WHERE rowid IN (SELECT rowid FROM"
                f" chunks WHERE {claimable} ORDER BY rowid LIMIT ?) RETURNING rowid AS upload_order, *",
                (holder, time.time(), *params, limit),
            ).fetchall()
        return [_chunk(r) for r in sorted(rows, key=lambda r: r["upload_order"])]

    def vector_claim_holders(self) -> set[str]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT DISTINCT embedding_by FROM chunks WHERE embedded = 0 AND embedding_by IS NOT NULL"
            ).fetchall()
        return {r[0] for r in rows}

    def release_vector_claims(self, holder: str) -> int:
        with self._db.transaction() as conn:
            return conn.execute(
                "UPDATE chunks SET embedding_by = NULL WHERE embedded = 0 AND embedding_by = ?", (holder,)
            ).rowcount

    def mark_embedded(self, chunk_ids: Sequence[str], holder: str) -> int:
        marked = 0
        with self._db.transaction() as conn:
            for batch in _batches(list(chunk_ids)):
                marked += conn.execute(
                    f"UPDATE chunks SET embedded = 1, embedding_by = NULL WHERE id IN ({_marks(len(batch))})"
                    " AND embedding_by = ?",
                    (*batch, holder),
                ).rowcount
        return marked

    def count_chunks_needing_vectors(self, workspace_id: str | None = None) -> int:
        with self._db.reading() as conn:
            if workspace_id is None:
                row = conn.execute("SELECT COUNT(*) FROM chunks WHERE embedded = 0")
            else:
                row = conn.execute(
                    "SELECT COUNT(*) FROM chunks WHERE embedded = 0 AND workspace_id = ?", (workspace_id,)
                )
            return int(row.fetchone()[0])

    def save_signatures(self, signatures: dict[str, bytes]) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                "UPDATE chunks SET signature = ? WHERE id = ?",
                [(sig, cid) for cid, sig in signatures.items()],
            )
            conn.executemany(
                "INSERT INTO chunk_buckets (chunk_id, workspace_id, bucket)"
                " SELECT id, workspace_id, ? FROM chunks WHERE id = ?",
                [(bucket, cid) for cid, sig in signatures.items() for bucket in buckets(sig)],
            )

    def near_duplicate_of(
        self, workspace_id: str, signature: bytes, ignore: Collection[str] = ()
    ) -> str | None:
        wanted = buckets(signature)
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT DISTINCT chunk_id FROM chunk_buckets WHERE workspace_id = ?"
                f" AND bucket IN ({_marks(len(wanted))}) ORDER BY chunk_id",
                (workspace_id, *wanted),
            ).fetchall()
        return next((r[0] for r in rows if r[0] not in ignore), None)
