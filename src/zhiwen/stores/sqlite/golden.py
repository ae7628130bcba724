"""Golden sets: named, versioned, immutable lists of questions with their expected answers."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any, cast

from zhiwen.errors import NotFound
from zhiwen.stores.sql import SqlConnection, SqlDatabase, SqlRow
from zhiwen.types import GoldenSetVersion, utc_now

_SELECT = "SELECT g.*, (SELECT COUNT(*) FROM golden_items i WHERE i.set_id = g.id) AS size FROM golden_sets g"


def _version(row: SqlRow) -> GoldenSetVersion:
    return GoldenSetVersion(
        id=row["id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        version=row["version"],
        note=row["note"],
        created_at=row["created_at"],
        size=row["size"],
    )


class SqliteGoldenStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def create_version(
        self, workspace_id: str, name: str, records: Sequence[dict[str, Any]], note: str
    ) -> GoldenSetVersion:
        """Store ``records`` as the next version of ``name`` (version 1 when new)."""
        set_id = "gs_" + secrets.token_hex(6)
        with self._db.transaction() as conn:
            latest = conn.execute(
                "SELECT MAX(version) FROM golden_sets WHERE workspace_id = ? AND name = ?",
                (workspace_id, name),
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO golden_sets (id, workspace_id, name, version, note, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (set_id, workspace_id, name, (latest or 0) + 1, note, utc_now()),
            )
            conn.executemany(
                "INSERT INTO golden_items (set_id, position, record) VALUES (?, ?, ?)",
                [(set_id, i, json.dumps(r, ensure_ascii=False)) for i, r in enumerate(records)],
            )
            return self._get(conn, "g.id = ?", (set_id,))

    def get_version(
        self, workspace_id: str, name: str, version: int | None = None
    ) -> tuple[GoldenSetVersion, list[dict[str, Any]]]:
        named = f"golden set {name!r}" + ("" if version is None else f" version {version}")
        with self._db.reading() as conn:
            if version is None:
                info = self._get(
                    conn,
                    "g.workspace_id = ? AND g.name = ? ORDER BY g.version DESC LIMIT 1",
                    (workspace_id, name),
                    named,
                )
            else:
                info = self._get(
                    conn,
                    "g.workspace_id = ? AND g.name = ? AND g.version = ?",
                    (workspace_id, name, version),
                    named,
                )
            return info, self._items(conn, info.id)

    def get_by_id(self, workspace_id: str, set_id: str) -> tuple[GoldenSetVersion, list[dict[str, Any]]]:
        with self._db.reading() as conn:
            info = self._get(conn, "g.workspace_id = ? AND g.id = ?", (workspace_id, set_id))
            return info, self._items(conn, info.id)

    def list_versions(self, workspace_id: str) -> list[GoldenSetVersion]:
        with self._db.reading() as conn:
            rows = conn.execute(
                f"{_SELECT} WHERE g.workspace_id = ? ORDER BY g.name, g.version", (workspace_id,)
            ).fetchall()
        return [_version(r) for r in rows]

    def _get(
        self, conn: SqlConnection, where: str, args: tuple[Any, ...], named: str = "such golden set"
    ) -> GoldenSetVersion:
        row = conn.execute(f"{_SELECT} WHERE {where}", args).fetchone()
        if row is None:
            raise NotFound(
                f"no {named} in this workspace; import one with `zhiwen golden import FILE --name NAME`"
            )
        return _version(row)

    @staticmethod
    def _items(conn: SqlConnection, set_id: str) -> list[dict[str, Any]]:
        rows = conn.execute(
            "SELECT record FROM golden_items WHERE set_id = ? ORDER BY position", (set_id,)
        ).fetchall()
        return [cast(dict[str, Any], json.loads(r[0])) for r in rows]
