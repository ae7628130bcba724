"""Dense search inside PostgreSQL with pgvector's HNSW index: an API process holds no vectors (the numpy
index keeps each workspace's in every process, 1.9 KB a chunk: 1.9 GB at a million chunks).

Each row keeps its float32 bytes in ``vector``, as on SQLite (releases, erasure and `zhiwen migrate`
handle those on both backends), and the same values as a pgvector ``embedding``, which the index is
over: one HNSW index per dimension (an embedding model of another size gets its own), on inner product
(the vectors are normalised, so inner product is cosine). One index serves every workspace and release
snapshot, and a query keeps its own rows: pgvector 0.6 filters after the index scan, so the scan keeps
``ef_search`` (``ZHIWEN_PGVECTOR_EF_SEARCH``: more finds more of the true nearest, slower) times the
copies of the workspace's vectors that releases hold, up to pgvector's 1,000; when fewer than ``k`` of
the workspace's rows still come back, the search is exact over them (a scan: right, slower).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from zhiwen.ports import Vector
from zhiwen.stores.postgres.db import SCHEMA_LOCK, PgDatabase
from zhiwen.stores.sqlite.vectors import VectorRows

MAX_EF_SEARCH = 1000  # pgvector's upper bound


def as_text(vector: Vector) -> str:
    """pgvector's text form; float32 values written in full, so they read back bit for bit."""
    return "[" + ",".join(repr(v) for v in np.asarray(vector, dtype=np.float32).tolist()) + "]"


def create_index(conn: object, dim: int) -> None:
    """The HNSW index for vectors of ``dim`` values (kept current by PostgreSQL as rows change)."""
    conn.execute(  # type: ignore[attr-defined]  # a PgConnection or a psycopg connection
        f"CREATE INDEX IF NOT EXISTS vectors_hnsw_{dim} ON vectors USING hnsw"
        f" ((embedding::vector({dim})) vector_ip_ops) WHERE vector_dims(embedding) = {dim}"
    )


class PgVectorIndex(VectorRows):
    COPIED = ("vector", "embedding")

    def __init__(self, db: PgDatabase, dim: int, ef_search: int = 100) -> None:
        super().__init__(db, dim)
        self._ef_search = ef_search
        with db.reading() as conn:
            found = conn.execute(f"SELECT to_regclass('vectors_hnsw_{dim}') IS NOT NULL").fetchone()
        exists = found is not None and bool(found[0])
        if not exists:  # made once: a role allowed only to read and write starts after that
            with db.transaction() as conn:
                conn.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))  # two processes at once
                create_index(conn, dim)

    def add(self, workspace_id: str, chunk_ids: Sequence[str], vectors: Vector) -> None:
        if not chunk_ids:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._db.transaction() as conn:
            conn.executemany(
                "DELETE FROM vectors WHERE chunk_id = ? AND workspace_id = ?",
                [(cid, workspace_id) for cid in chunk_ids],
            )
            conn.executemany(  # chunks deleted while they were being embedded are skipped by the join
                "INSERT INTO vectors (chunk_id, workspace_id, vector, embedding) SELECT id, workspace_id,"
                " ?, CAST(? AS vector) FROM chunks WHERE id = ? AND workspace_id = ?",
                [
                    (v.tobytes(), as_text(v), cid, workspace_id)
                    for cid, v in zip(chunk_ids, vectors, strict=True)
                ],
            )

    def remove(self, workspace_id: str, chunk_ids: Sequence[str]) -> None:
        with self._db.transaction() as conn:
            self._delete(conn, workspace_id, chunk_ids)

    def search(
        self, workspace_id: str, query: Vector, k: int, restrict_to: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        if k <= 0:
            return []
        if restrict_to is not None:
            scored = self.scores(workspace_id, query, list(restrict_to))
            return sorted(scored.items(), key=lambda item: -item[1])[:k]
        dim, q = self._dim, as_text(query)
        with self._db.reading() as conn:
            # Each kept release holds a copy of its workspace's vectors in the one index: the scan must
            # keep that many times more candidates to find k of this workspace's (pgvector caps it).
            conn.execute(
                "SELECT set_config('hnsw.ef_search', CAST(LEAST(?, ? * (1 + (SELECT count(*) FROM releases"
                " WHERE workspace_id = ? AND pruned_at IS NULL))) AS TEXT), false)",
                (MAX_EF_SEARCH, max(self._ef_search, k), workspace_id.split("@", 1)[0]),
            )
            rows = conn.execute(
                f"SELECT chunk_id, -(embedding::vector({dim}) <#> CAST(? AS vector({dim}))) FROM vectors"
                f" WHERE workspace_id = ? AND vector_dims(embedding) = {dim}"
                f" ORDER BY embedding::vector({dim}) <#> CAST(? AS vector({dim})) LIMIT ?",
                (q, workspace_id, q, k),
            ).fetchall()
            if len(rows) < k:  # the index ran out of this workspace's rows: exact, over its rows alone
                rows = conn.execute(
                    "SELECT chunk_id, -(embedding <#> CAST(? AS vector)) FROM vectors WHERE workspace_id = ?"
                    f" AND vector_dims(embedding) = {dim} ORDER BY embedding <#> CAST(? AS vector) LIMIT ?",
                    (q, workspace_id, q, k),
                ).fetchall()
        return [(str(r[0]), float(r[1])) for r in rows]

    def scores(self, workspace_id: str, query: Vector, chunk_ids: Sequence[str]) -> dict[str, float]:
        if not chunk_ids:
            return {}
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT chunk_id, -(embedding <#> CAST(? AS vector)) FROM vectors"
                f" WHERE workspace_id = ? AND chunk_id = ANY(?) AND vector_dims(embedding) = {self._dim}",
                (as_text(query), workspace_id, list(chunk_ids)),
            ).fetchall()
        return {str(r[0]): float(r[1]) for r in rows}

    def count(self, workspace_id: str) -> int:
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT count(*) FROM vectors WHERE workspace_id = ?", (workspace_id,)
            ).fetchone()
        return int(row[0]) if row else 0
