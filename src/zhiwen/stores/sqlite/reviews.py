"""Reviews, their embeddings and complaint topics (sentiment model versions live in the model registry)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from zhiwen.ports import ReviewFilter, Vector
from zhiwen.stores.sql import SqlDatabase, SqlRow
from zhiwen.types import Review, utc_now

_IDS_PER_QUERY = 500
_REVIEW_COLUMNS = (
    "id, workspace_id, text, rating, product, channel, created_at, label, source, "
    "sentiment, probability, model_version, topic, customer"
)


def _review(row: SqlRow) -> Review:
    return Review(**{key: row[key] for key in row.keys()})  # noqa: SIM118 - SqlRow is not a mapping


def _where(workspace_id: str, query: ReviewFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = ["workspace_id = ?"]
    values: list[Any] = [workspace_id]
    if query.product is not None:
        clauses.append("product = ?")
        values.append(query.product)
    if query.since:
        clauses.append("created_at >= ?")
        values.append(query.since)
    if query.until:
        clauses.append("created_at < ?")
        values.append(query.until)
    if query.labelled:
        clauses.append("label IS NOT NULL")
    if query.unscored_for is not None:
        clauses.append("(model_version IS NULL OR model_version != ?)")
        values.append(query.unscored_for)
    if query.sentiment is not None:
        clauses.append("sentiment = ?")
        values.append(query.sentiment)
    if query.ids is not None:  # none listed: none match (an empty IN () is SQLite's alone)
        clauses.append(f"id IN ({','.join('?' * len(query.ids))})" if query.ids else "1 = 0")
        values.extend(query.ids)
    return " AND ".join(clauses), values


class SqliteReviewStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def add_reviews(self, reviews: Sequence[Review]) -> list[str]:
        """Insert the reviews not stored yet, all in one transaction; returns the ids that were new."""
        added = []
        now = utc_now()
        with self._db.transaction() as conn:
            for r in reviews:
                cursor = conn.execute(
                    "INSERT INTO reviews (id, workspace_id, text, rating, product, channel, "
                    "created_at, label, source, imported_at, customer)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (
                        r.id,
                        r.workspace_id,
                        r.text,
                        r.rating,
                        r.product,
                        r.channel,
                        r.created_at,
                        r.label,
                        r.source,
                        now,
                        r.customer,
                    ),
                )
                if cursor.rowcount:
                    added.append(r.id)
        return added

    def reviews(self, workspace_id: str, query: ReviewFilter) -> list[Review]:
        if query.ids is not None and len(query.ids) > _IDS_PER_QUERY:  # SQLite caps bound variables
            ids = list(query.ids)
            found = [
                review
                for start in range(0, len(ids), _IDS_PER_QUERY)
                for review in self.reviews(
                    workspace_id,
                    dataclasses.replace(query, ids=ids[start : start + _IDS_PER_QUERY], limit=None),
                )
            ]
            found.sort(key=lambda r: (r.created_at, r.id))
            return found[: query.limit] if query.limit else found
        where, values = _where(workspace_id, query)
        limit = f" LIMIT {int(query.limit)}" if query.limit else ""
        with self._db.reading() as conn:
            rows = conn.execute(
                f"SELECT {_REVIEW_COLUMNS} FROM reviews WHERE {where} ORDER BY created_at, id{limit}", values
            ).fetchall()
        return [_review(r) for r in rows]

    def set_scores(
        self, workspace_id: str, version: int, scores: Sequence[tuple[str, str, float, int | None]]
    ) -> None:
        """(review id, sentiment, probability, topic) from model ``version``."""
        with self._db.transaction() as conn:
            conn.executemany(
                "UPDATE reviews SET sentiment = ?, probability = ?, topic = ?, model_version = ?"
                " WHERE workspace_id = ? AND id = ?",
                [(s, p, t, version, workspace_id, i) for i, s, p, t in scores],
            )

    def set_topics(self, workspace_id: str, topics: Sequence[tuple[str, int | None]]) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                "UPDATE reviews SET topic = ? WHERE workspace_id = ? AND id = ?",
                [(t, workspace_id, i) for i, t in topics],
            )

    def vectors(self, workspace_id: str, ids: Sequence[str]) -> dict[str, Vector]:
        found: dict[str, Vector] = {}
        with self._db.reading() as conn:
            for start in range(0, len(ids), 500):
                batch = ids[start : start + 500]
                rows = conn.execute(
                    "SELECT review_id, vector FROM review_vectors WHERE workspace_id = ?"
                    f" AND review_id IN ({','.join('?' * len(batch))})",
                    [workspace_id, *batch],
                ).fetchall()
                for row in rows:
                    found[row[0]] = np.frombuffer(row[1], dtype=np.float16).astype(np.float32)
        return found

    def save_vectors(self, workspace_id: str, vectors: dict[str, Vector]) -> None:
        """Half precision: review vectors feed classifiers and clustering, where float16 loses nothing."""
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT INTO review_vectors (workspace_id, review_id, vector) VALUES (?, ?, ?)"
                " ON CONFLICT (workspace_id, review_id) DO UPDATE SET vector = excluded.vector",
                [(workspace_id, i, v.astype(np.float16).tobytes()) for i, v in vectors.items()],
            )

    def save_topics(self, workspace_id: str, model: dict[str, Any]) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO review_topics (workspace_id, model, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (workspace_id) DO UPDATE SET model = excluded.model,"
                " created_at = excluded.created_at",
                (workspace_id, json.dumps(model, ensure_ascii=False), utc_now()),
            )

    def topics(self, workspace_id: str) -> dict[str, Any] | None:
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT model FROM review_topics WHERE workspace_id = ?", (workspace_id,)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))
