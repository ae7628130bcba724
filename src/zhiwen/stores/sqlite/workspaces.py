"""Workspaces (tenants) and their API keys; keys are stored only as SHA-256 hashes."""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Collection, Sequence
from typing import Any, get_args

from zhiwen.errors import Conflict, InvalidInput, NotFound
from zhiwen.stores.sql import SqlDatabase, SqlRow
from zhiwen.types import ApiKey, Role, Workspace, utc_now


def _workspace(row: SqlRow) -> Workspace:
    return Workspace(id=row["id"], name=row["name"], created_at=row["created_at"])


def _key(row: SqlRow) -> ApiKey:
    return ApiKey(
        id=row["id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        prefix=row["prefix"],
        role=row["role"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        origins=tuple(json.loads(row["origins"])),
    )


class SqliteWorkspaceStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def create_workspace(self, name: str) -> Workspace:
        workspace = Workspace(id="ws_" + secrets.token_hex(6), name=name, created_at=utc_now())
        try:
            with self._db.transaction() as conn:
                conn.execute(
                    "INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)",
                    (workspace.id, workspace.name, workspace.created_at),
                )
        except sqlite3.IntegrityError:
            raise Conflict(f"workspace {name!r} already exists") from None
        return workspace

    def get_workspace(self, name_or_id: str) -> Workspace:
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT * FROM workspaces WHERE (name = ? OR id = ?) AND snapshot_of IS NULL",
                (name_or_id, name_or_id),
            ).fetchone()
        if row is None:
            raise NotFound(
                f"no workspace {name_or_id!r}; list them with `zhiwen workspace list` "
                f"or create it with `zhiwen workspace create {name_or_id}`"
            )
        return _workspace(row)

    def list_workspaces(self) -> list[Workspace]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT * FROM workspaces WHERE snapshot_of IS NULL ORDER BY created_at"
            ).fetchall()
        return [_workspace(r) for r in rows]

    def create_key(
        self,
        workspace_id: str,
        name: str,
        role: Role,
        key_hash: str,
        prefix: str,
        origins: Sequence[str] = (),
    ) -> ApiKey:
        if role not in get_args(Role):
            raise InvalidInput(f"unknown role {role!r}: use one of {', '.join(get_args(Role))}")
        key = ApiKey(
            id="key_" + secrets.token_hex(6),
            workspace_id=workspace_id,
            name=name,
            prefix=prefix,
            role=role,
            created_at=utc_now(),
            origins=tuple(origins),
        )
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO api_keys (id, workspace_id, name, prefix, key_hash, role, origins, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key.id, workspace_id, name, prefix, key_hash, role, json.dumps(key.origins), key.created_at),
            )
        return key

    def find_key(self, key_hash: str) -> ApiKey | None:
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL", (key_hash,)
            ).fetchone()
        return None if row is None else _key(row)

    def list_keys(self, workspace_id: str) -> list[ApiKey]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT * FROM api_keys WHERE workspace_id = ? ORDER BY created_at", (workspace_id,)
            ).fetchall()
        return [_key(r) for r in rows]

    def revoke_key(self, key_id_or_prefix: str) -> ApiKey:
        with self._db.transaction() as conn:
            rows = conn.execute(
                "SELECT * FROM api_keys WHERE id = ? OR prefix = ?", (key_id_or_prefix, key_id_or_prefix)
            ).fetchall()
            if not rows:
                raise NotFound(f"no API key {key_id_or_prefix!r}; see `zhiwen key list`")
            if len(rows) > 1:
                raise Conflict(f"{key_id_or_prefix!r} matches several keys; use the key id")
            conn.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", (utc_now(), rows[0]["id"]))
            row = conn.execute("SELECT * FROM api_keys WHERE id = ?", (rows[0]["id"],)).fetchone()
        return _key(row)

    def get_setting(self, workspace_id: str, key: str) -> Any | None:
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT value FROM workspace_settings WHERE workspace_id = ? AND key = ?", (workspace_id, key)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def get_settings(self, workspace_id: str, keys: Collection[str]) -> dict[str, Any]:
        keys = list(keys)
        if not keys:
            return {}
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT key, value FROM workspace_settings WHERE workspace_id = ?"
                f" AND key IN ({','.join('?' * len(keys))})",
                (workspace_id, *keys),
            ).fetchall()
        return {r[0]: json.loads(r[1]) for r in rows}

    def put_setting(self, workspace_id: str, key: str, value: Any) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO workspace_settings (workspace_id, key, value, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(workspace_id, key) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                (workspace_id, key, json.dumps(value, ensure_ascii=False), utc_now()),
            )
