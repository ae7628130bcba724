"""Users and sessions in SQLite (portable SQL: a PostgreSQL store translates the placeholders only)."""

from __future__ import annotations

import secrets
import sqlite3
from typing import Any

from zhiwen.errors import Conflict, NotFound
from zhiwen.stores.sql import SqlDatabase, SqlRow
from zhiwen.types import USER_ID_PREFIX, Session, User, utc_now

_MUTABLE = frozenset({"name", "role", "password_hash", "disabled_at"})


def _user(row: SqlRow) -> User:
    return User(
        id=row["id"],
        workspace_id=row["workspace_id"],
        email=row["email"],
        name=row["name"],
        role=row["role"],
        created_at=row["created_at"],
        disabled_at=row["disabled_at"],
    )


class SqliteUserStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def create_user(self, workspace_id: str, email: str, name: str, role: str, password_hash: str) -> User:
        now = utc_now()
        user_id = USER_ID_PREFIX + secrets.token_hex(6)
        try:
            with self._db.transaction() as conn:
                conn.execute(
                    "INSERT INTO users (id, workspace_id, email, name, role, password_hash, created_at,"
                    " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (user_id, workspace_id, email, name, role, password_hash, now, now),
                )
        except sqlite3.IntegrityError:
            raise Conflict(f"a user with e-mail {email!r} already exists") from None
        return self.get_user(user_id)

    def get_user(self, user_id: str) -> User:
        with self._db.reading() as conn:
            row = conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        if row is None:
            raise NotFound(f"no user {user_id!r}; see `zhiwen user list`")
        return _user(row)

    def find_user(self, email: str) -> tuple[User, str] | None:
        with self._db.reading() as conn:
            row = conn.execute("SELECT * FROM users WHERE email = ?", (email,)).fetchone()
        return None if row is None else (_user(row), row["password_hash"])

    def list_users(self, workspace_id: str) -> list[User]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT * FROM users WHERE workspace_id = ? ORDER BY created_at", (workspace_id,)
            ).fetchall()
        return [_user(r) for r in rows]

    def update_user(self, user_id: str, changes: dict[str, Any]) -> User:
        unknown = set(changes) - _MUTABLE
        if unknown:
            raise ValueError(f"not a user field: {sorted(unknown)}")
        sets = ", ".join(f"{column} = ?" for column in changes)
        with self._db.transaction() as conn:
            cursor = conn.execute(
                f"UPDATE users SET {sets}, updated_at = ? WHERE id = ?",
                [*changes.values(), utc_now(), user_id],
            )
        if cursor.rowcount != 1:
            raise NotFound(f"no user {user_id!r}; see `zhiwen user list`")
        return self.get_user(user_id)

    def create_session(self, session: Session, token_hash: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO sessions (id, user_id, token_hash, csrf_token, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    session.id,
                    session.user_id,
                    token_hash,
                    session.csrf_token,
                    session.created_at,
                    session.expires_at,
                ),
            )

    def find_session(self, token_hash: str, now: str) -> Session | None:
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT * FROM sessions WHERE token_hash = ? AND expires_at > ?", (token_hash, now)
            ).fetchone()
        if row is None:
            return None
        return Session(row["id"], row["user_id"], row["csrf_token"], row["created_at"], row["expires_at"])

    def delete_sessions(self, user_id: str, session_id: str | None = None) -> None:
        with self._db.transaction() as conn:
            if session_id is None:
                conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
            else:
                conn.execute("DELETE FROM sessions WHERE user_id = ? AND id = ?", (user_id, session_id))
