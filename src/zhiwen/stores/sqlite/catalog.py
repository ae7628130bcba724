"""The product catalogue and customers' behaviour events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from zhiwen.ports import Vector
from zhiwen.stores.sql import SqlDatabase
from zhiwen.types import BehaviourEvent, CatalogItem, utc_now

_IDS_PER_QUERY = 500


class SqliteCatalogStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def upsert_items(self, workspace_id: str, items: Sequence[CatalogItem]) -> tuple[int, int]:
        now = utc_now()
        added = updated = 0
        with self._db.transaction() as conn:
            for item in items:
                values = (item.title, item.description, item.category, item.price, int(item.available))
                row = conn.execute(
                    "SELECT title, description, category, price, available FROM catalog_items"
                    " WHERE workspace_id = ? AND id = ?",
                    (workspace_id, item.id),
                ).fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO catalog_items (workspace_id, id, title, description, category, price,"
                        " available, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (workspace_id, item.id, *values, now),
                    )
                    added += 1
                elif tuple(row) != values:
                    conn.execute(
                        "UPDATE catalog_items SET title = ?, description = ?, category = ?, price = ?,"
                        " available = ?, updated_at = ? WHERE workspace_id = ? AND id = ?",
                        (*values, now, workspace_id, item.id),
                    )
                    updated += 1
        return added, updated

    def items(self, workspace_id: str, ids: Sequence[str] | None = None) -> list[CatalogItem]:
        query = (
            "SELECT id, title, description, category, price, available FROM catalog_items"
            " WHERE workspace_id = ?"
        )
        rows: list[Any] = []
        with self._db.reading() as conn:
            if ids is None:
                rows = conn.execute(query + " ORDER BY id", (workspace_id,)).fetchall()
            else:
                for start in range(0, len(ids), _IDS_PER_QUERY):
                    batch = list(ids[start : start + _IDS_PER_QUERY])
                    marks = ",".join("?" * len(batch))
                    rows += conn.execute(f"{query} AND id IN ({marks})", [workspace_id, *batch]).fetchall()
        return [CatalogItem(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]

    def item_ids(self, workspace_id: str) -> set[str]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT id FROM catalog_items WHERE workspace_id = ?", (workspace_id,)
            ).fetchall()
        return {r[0] for r in rows}

    def add_events(self, workspace_id: str, events: Sequence[BehaviourEvent]) -> int:
        with self._db.transaction() as conn:
            return sum(
                conn.execute(
                    "INSERT INTO behaviour_events (workspace_id, user_id, item_id, kind, weight, at)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (workspace_id, e.user_id, e.item_id, e.kind, e.weight, e.at),
                ).rowcount
                for e in events
            )

    def events(
        self, workspace_id: str, user_id: str | None = None, since: str | None = None
    ) -> list[BehaviourEvent]:
        clauses, values = ["workspace_id = ?"], [workspace_id]
        if user_id is not None:
            clauses.append("user_id = ?")
            values.append(user_id)
        if since is not None:
            clauses.append("at >= ?")
            values.append(since)
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT user_id, item_id, kind, weight, at FROM behaviour_events"
                f" WHERE {' AND '.join(clauses)} ORDER BY at, id",
                values,
            ).fetchall()
        return [BehaviourEvent(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def stamp(self, workspace_id: str) -> str:
        with self._db.reading() as conn:
            count, latest = conn.execute(
                "SELECT count(*), max(updated_at) FROM catalog_items WHERE workspace_id = ?", (workspace_id,)
            ).fetchone()
        return f"{count}:{latest}"

    def item_vectors(self, workspace_id: str) -> dict[str, tuple[str, Vector]]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT item_id, text_hash, vector FROM item_vectors WHERE workspace_id = ?", (workspace_id,)
            ).fetchall()
        return {r[0]: (r[1], np.frombuffer(r[2], dtype=np.float16).astype(np.float32)) for r in rows}

    def save_item_vectors(self, workspace_id: str, vectors: dict[str, tuple[str, Vector]]) -> None:
        """Half precision, as review vectors: recommending by content loses nothing by it."""
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT INTO item_vectors (workspace_id, item_id, text_hash, vector) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (workspace_id, item_id) DO UPDATE SET text_hash = excluded.text_hash,"
                " vector = excluded.vector",
                [(workspace_id, i, h, v.astype(np.float16).tobytes()) for i, (h, v) in vectors.items()],
            )
