"""Exact dense search with numpy; vectors persist in the database and load per workspace on first use.
When a workspace's vectors changed (its version in ``vector_versions`` moved: another process embedded, or
removed some), only rows with a higher sequence number are read.

At 10k×384 a matrix-vector product is well under a millisecond; exact search needs no tuning and never
misses. On PostgreSQL, pgvector's HNSW index replaces it (:mod:`zhiwen.stores.postgres.vectors`).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence

import numpy as np

from zhiwen.ports import Vector
from zhiwen.stores.sql import SqlConnection, SqlDatabase

MEAN_BATCH = 500  # chunk ids per query when averaging vectors


class _Matrix:
    """Row-per-chunk float32 matrix with O(1) delete (the last row moves into the hole)."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.data = np.zeros((0, dim), dtype=np.float32)
        self.ids: list[str] = []
        self.rows: dict[str, int] = {}
        self.seq = 0  # the highest stored sequence number read into this matrix
        self.version = 0  # the workspace's vector version when it was last read

    def reserve(self, rows: int) -> None:
        """Room for ``rows`` more rows, in one allocation."""
        needed = len(self.ids) + rows
        if needed > self.data.shape[0]:
            grown = np.zeros((needed, self.dim), dtype=np.float32)
            grown[: len(self.ids)] = self.data[: len(self.ids)]
            self.data = grown

    def put(self, ids: Sequence[str], vectors: Vector) -> None:
        fresh = [i for i, cid in enumerate(ids) if cid not in self.rows]
        for i, cid in enumerate(ids):
            if cid in self.rows:
                self.data[self.rows[cid]] = vectors[i]
        if len(self.ids) + len(fresh) > self.data.shape[0]:
            self.reserve(max(len(fresh), len(self.ids), 256))
        for i in fresh:
            self.rows[ids[i]] = len(self.ids)
            self.data[len(self.ids)] = vectors[i]
            self.ids.append(ids[i])

    def delete(self, ids: Sequence[str]) -> None:
        for cid in ids:
            row = self.rows.pop(cid, None)
            if row is None:
                continue
            last = len(self.ids) - 1
            if row != last:
                moved = self.ids[last]
                self.data[row] = self.data[last]
                self.ids[row] = moved
                self.rows[moved] = row
            self.ids.pop()


class VectorRows(ABC):
    """A vector index (the port's :class:`~zhiwen.ports.VectorIndex`) and what both backends do with
    the rows alone: sentence vectors, a release's copy, removal. ``COPIED`` are the ``vectors`` columns
    a copy carries (PostgreSQL's index adds its own)."""

    COPIED: tuple[str, ...] = ("vector",)

    def __init__(self, db: SqlDatabase, dim: int) -> None:
        self._db = db
        self._dim = dim

    @abstractmethod
    def add(self, workspace_id: str, chunk_ids: Sequence[str], vectors: Vector) -> None: ...

    @abstractmethod
    def remove(self, workspace_id: str, chunk_ids: Sequence[str]) -> None: ...

    @abstractmethod
    def search(
        self, workspace_id: str, query: Vector, k: int, restrict_to: Collection[str] | None = None
    ) -> list[tuple[str, float]]: ...

    @abstractmethod
    def scores(self, workspace_id: str, query: Vector, chunk_ids: Sequence[str]) -> dict[str, float]: ...

    @abstractmethod
    def count(self, workspace_id: str) -> int: ...

    def copy_workspace(self, source: str, target: str, suffix: str) -> None:
        """Copy ``source``'s vectors to ``target`` (a release snapshot), chunk ids suffixed; joins the
        caller's transaction."""
        columns = ", ".join(self.COPIED)
        with self._db.transaction() as conn:
            for table, copied in (("vectors", columns), ("sentence_vectors", "vectors")):
                conn.execute(
                    f"INSERT INTO {table} (chunk_id, workspace_id, {copied})"
                    f" SELECT chunk_id || ?, ?, {copied} FROM {table} WHERE workspace_id = ?",
                    (suffix, target, source),
                )

    def _delete(self, conn: SqlConnection, workspace_id: str, chunk_ids: Sequence[str]) -> None:
        for table in ("vectors", "sentence_vectors"):
            conn.executemany(
                f"DELETE FROM {table} WHERE chunk_id = ? AND workspace_id = ?",
                [(cid, workspace_id) for cid in chunk_ids],
            )

    def add_sentences(self, workspace_id: str, chunk_ids: Sequence[str], vectors: Sequence[Vector]) -> None:
        """Sentence vectors are read a handful of chunks at a time, never searched: they stay in the
        database as float16 (half the bytes; cosines move by about 1e-3)."""
        with self._db.transaction() as conn:
            conn.executemany(
                "DELETE FROM sentence_vectors WHERE chunk_id = ? AND workspace_id = ?",
                [(cid, workspace_id) for cid in chunk_ids],
            )
            conn.executemany(
                "INSERT INTO sentence_vectors (chunk_id, workspace_id, vectors)"
                " SELECT id, workspace_id, ? FROM chunks WHERE id = ? AND workspace_id = ?",
                [
                    (np.ascontiguousarray(v, dtype=np.float16).tobytes(), cid, workspace_id)
                    for cid, v in zip(chunk_ids, vectors, strict=True)
                ],
            )

    def mean(self, workspace_id: str, chunk_ids: Sequence[str]) -> tuple[Vector, int] | None:
        """Read from the rows' float32 bytes, which both backends keep."""
        total, count = np.zeros(self._dim, dtype=np.float64), 0
        with self._db.reading() as conn:
            for start in range(0, len(chunk_ids), MEAN_BATCH):
                batch = chunk_ids[start : start + MEAN_BATCH]
                rows = conn.execute(
                    "SELECT vector FROM vectors WHERE workspace_id = ?"
                    f" AND chunk_id IN ({','.join('?' * len(batch))})",
                    (workspace_id, *batch),
                ).fetchall()
                for (blob,) in rows:
                    if len(blob) == self._dim * 4:  # not a row of another embedding model's size
                        total += np.frombuffer(blob, dtype=np.float32)
                        count += 1
        return ((total / count).astype(np.float32), count) if count else None

    def sentence_scores(self, workspace_id: str, query: Vector, chunk_ids: Sequence[str]) -> dict[str, float]:
        if not chunk_ids:
            return {}
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT chunk_id, vectors FROM sentence_vectors WHERE workspace_id = ?"
                f" AND chunk_id IN ({','.join('?' * len(chunk_ids))})",
                (workspace_id, *chunk_ids),
            ).fetchall()
        scores = {}
        for chunk_id, blob in rows:
            matrix = np.frombuffer(blob, dtype=np.float16).reshape(-1, self._dim)
            if len(matrix):
                scores[chunk_id] = float((matrix.astype(np.float32) @ query).max())
        return scores


class NumpyVectorIndex(VectorRows):
    def __init__(self, db: SqlDatabase, dim: int) -> None:
        super().__init__(db, dim)
        self._matrices: dict[str, _Matrix] = {}
        self._lock = threading.RLock()

    def _matrix(self, workspace_id: str) -> _Matrix:
        with self._lock:
            cached = self._matrices.get(workspace_id)
            if cached is None:
                self._matrices[workspace_id] = self._read(workspace_id, _Matrix(self._dim))
            else:
                with self._db.reading() as conn:
                    version = _version(conn, workspace_id)
                if version != cached.version:
                    self._matrices[workspace_id] = self._read(workspace_id, cached)
            return self._matrices[workspace_id]

    def _read(self, workspace_id: str, matrix: _Matrix) -> _Matrix:
        """``matrix`` brought up to date in one snapshot: the rows added or replaced since it was read
        (they have higher sequence numbers); if rows were deleted too (the count no longer matches),
        the workspace whole, into a new matrix."""
        with self._db.reading() as conn:
            snapshot = not conn.in_transaction
            if snapshot:
                conn.execute("BEGIN")
            try:
                matrix.version = _version(conn, workspace_id)
                self._load(conn, workspace_id, matrix)
                stored = conn.execute("SELECT COUNT(*) FROM vectors WHERE workspace_id = ?", (workspace_id,))
                if stored.fetchone()[0] != len(matrix.ids):
                    version, matrix = matrix.version, _Matrix(self._dim)
                    matrix.version = version
                    self._load(conn, workspace_id, matrix)
            finally:
                if snapshot:
                    conn.execute("COMMIT")
        return matrix

    def _load(self, conn: SqlConnection, workspace_id: str, matrix: _Matrix) -> None:
        """Read the rows added since ``matrix.seq`` (all of them for a new matrix), a few thousand at a time
        into a matrix sized once: reading them all at once held three copies (+340 MB rather than +190 MB
        for 101k chunks)."""
        where = "WHERE workspace_id = ? AND seq > ?"
        if not matrix.ids:  # a refresh adds a few rows: put() grows the matrix by doubling
            (count,) = conn.execute(
                f"SELECT COUNT(*) FROM vectors {where}", (workspace_id, matrix.seq)
            ).fetchone()
            matrix.reserve(count)
        cursor = conn.execute(
            f"SELECT seq, chunk_id, vector FROM vectors {where} ORDER BY seq", (workspace_id, matrix.seq)
        )
        while rows := cursor.fetchmany(4096):
            vectors = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32)
            matrix.put([r[1] for r in rows], vectors.reshape(len(rows), self._dim))
            matrix.seq = rows[-1][0]

    def add(self, workspace_id: str, chunk_ids: Sequence[str], vectors: Vector) -> None:
        if not chunk_ids:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._lock:
            with self._db.transaction() as conn:
                before = _version(conn, workspace_id)
                # Replaced by deleting and inserting: the row gets a new sequence number, so other
                # processes read it again. Chunks deleted while they were being embedded are skipped by
                # the join.
                conn.executemany(
                    "DELETE FROM vectors WHERE chunk_id = ? AND workspace_id = ?",
                    [(cid, workspace_id) for cid in chunk_ids],
                )
                conn.executemany(
                    "INSERT INTO vectors (chunk_id, workspace_id, vector)"
                    " SELECT id, workspace_id, ? FROM chunks WHERE id = ? AND workspace_id = ?",
                    [(vectors[i].tobytes(), cid, workspace_id) for i, cid in enumerate(chunk_ids)],
                )
                present = {
                    r[0]
                    for r in conn.execute(
                        f"SELECT chunk_id FROM vectors WHERE chunk_id IN ({','.join('?' * len(chunk_ids))})",
                        tuple(chunk_ids),
                    )
                }
                after = _version(conn, workspace_id)
                (last,) = conn.execute(
                    "SELECT MAX(seq) FROM vectors WHERE workspace_id = ?", (workspace_id,)
                ).fetchone()
            matrix = self._matrices.get(workspace_id)  # a process that never searched loads nothing
            if matrix is not None:
                keep = [i for i, cid in enumerate(chunk_ids) if cid in present]
                matrix.put([chunk_ids[i] for i in keep], vectors[keep])
                if matrix.version == before:  # nobody else wrote since it was read: it is current
                    matrix.version, matrix.seq = after, last or matrix.seq

    def remove(self, workspace_id: str, chunk_ids: Sequence[str]) -> None:
        with self._lock:
            with self._db.transaction() as conn:
                before = _version(conn, workspace_id)
                self._delete(conn, workspace_id, chunk_ids)
                after = _version(conn, workspace_id)
            matrix = self._matrices.get(workspace_id)
            if matrix is not None:
                matrix.delete(chunk_ids)
                if matrix.version == before:
                    matrix.version = after

    def search(
        self, workspace_id: str, query: Vector, k: int, restrict_to: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        with self._lock:
            matrix = self._matrix(workspace_id)
            if restrict_to is None:
                ids = matrix.ids
                scores = matrix.data[: len(ids)] @ query
            else:
                ids = [cid for cid in restrict_to if cid in matrix.rows]
                scores = matrix.data[[matrix.rows[cid] for cid in ids]] @ query
            if len(ids) == 0 or k <= 0:
                return []
            top = np.argpartition(-scores, k - 1)[:k] if len(ids) > k else np.arange(len(ids))
            top = top[np.argsort(-scores[top])]
            return [(ids[i], float(scores[i])) for i in top]

    def scores(self, workspace_id: str, query: Vector, chunk_ids: Sequence[str]) -> dict[str, float]:
        with self._lock:
            matrix = self._matrix(workspace_id)
            present = [cid for cid in chunk_ids if cid in matrix.rows]
            if not present:
                return {}
            values = matrix.data[[matrix.rows[cid] for cid in present]] @ query
            return dict(zip(present, (float(v) for v in values), strict=True))

    def count(self, workspace_id: str) -> int:
        return len(self._matrix(workspace_id).ids)


def _version(conn: SqlConnection, workspace_id: str) -> int:
    row = conn.execute(
        "SELECT version FROM vector_versions WHERE workspace_id = ?", (workspace_id,)
    ).fetchone()
    return int(row[0]) if row else 0
