"""The background work's owner among every machine on one PostgreSQL database: a session advisory lock
on a connection of its own, which PostgreSQL releases when the connection closes or its process dies."""

from __future__ import annotations

import psycopg

OWNER_LOCK = 7320


class PgOwnerLock:
    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    def claim(self, holder: str) -> str | None:
        conn = psycopg.connect(self._url, autocommit=True, application_name=holder[:63])
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (OWNER_LOCK,)).fetchone()
        if row is not None and row[0]:
            self._conn = conn
            return None
        owner = conn.execute(
            "SELECT a.application_name, a.client_addr FROM pg_locks l"
            " JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.objid = %s AND l.granted",
            (OWNER_LOCK,),
        ).fetchone()
        conn.close()
        return f"{owner[0]} (from {owner[1] or 'this host'})" if owner else "another process"

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
