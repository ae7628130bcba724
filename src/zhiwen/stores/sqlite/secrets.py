"""Workspaces' sealed secrets in SQLite (portable SQL). The values are sealed before they get here."""

from __future__ import annotations

from collections.abc import Callable

from zhiwen.errors import NotFound
from zhiwen.stores.sql import SqlDatabase
from zhiwen.types import utc_now


class SqliteSecretStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def put_secret(self, workspace_id: str, name: str, sealed: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO workspace_secrets (workspace_id, name, sealed, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (workspace_id, name) DO UPDATE SET sealed = excluded.sealed,"
                " updated_at = excluded.updated_at",
                (workspace_id, name, sealed, utc_now()),
            )

    def secret_names(self, workspace_id: str) -> list[tuple[str, str]]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT name, updated_at FROM workspace_secrets WHERE workspace_id = ? ORDER BY name",
                (workspace_id,),
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def sealed_secrets(self, workspace_id: str) -> dict[str, str]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT name, sealed FROM workspace_secrets WHERE workspace_id = ?", (workspace_id,)
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    def delete_secret(self, workspace_id: str, name: str) -> None:
        with self._db.transaction() as conn:
            deleted = conn.execute(
                "DELETE FROM workspace_secrets WHERE workspace_id = ? AND name = ?", (workspace_id, name)
            ).rowcount
        if not deleted:
            raise NotFound(f"no secret {name!r} in this workspace")

    def reseal_all(self, reseal: Callable[[str], str]) -> int:
        with self._db.transaction() as conn:
            count = 0
            for table, key, column in (
                ("workspace_secrets", "workspace_id || '/' || name", "sealed"),
                ("webhooks", "id", "secret"),
            ):
                rows = conn.execute(f"SELECT {key}, {column} FROM {table}").fetchall()
                for ident, sealed in rows:
                    conn.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (reseal(sealed), ident))
                count += len(rows)
            return count
