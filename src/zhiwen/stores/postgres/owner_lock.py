"""The background work's owner among every machine on one PostgreSQL database: a session advisory lock
on a connection of its own, which PostgreSQL releases when the connection closes or its process dies.

If that connection is lost while the server runs (the database restarted), the lock is gone with it;
:meth:`PgOwnerLock.still_held` tells, and the owner stops its background work rather than share it.
"""

from __future__ import annotations

import psycopg

OWNER_LOCK = 7320


class PgOwnerLock:
    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    def claim(self, holder: str) -> str | None:
        conn = psycopg.connect(self._url, autocommit=True, application_name=holder[:63])
        try:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (OWNER_LOCK,)).fetchone()
            if row is not None and row[0]:
                self._conn, conn = conn, None  # type: ignore[assignment]
                return None
            owner = conn.execute(
                "SELECT a.application_name, a.client_addr FROM pg_locks l"
                " JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.objid = %s AND l.granted"
                " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                (OWNER_LOCK,),
            ).fetchone()
            return f"{owner[0]} (from {owner[1] or 'this host'})" if owner else "another process"
        finally:
            if conn is not None:
                conn.close()

    def still_held(self) -> bool:
        if self._conn is None or self._conn.broken:
            return False
        try:
            self._conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def release(self) -> None:
        """Unlock, then close. Closing alone frees the lock only when the server's backend has exited,
        after the call returns: a process claiming it right after was refused (seen once in CI)."""
        if self._conn is not None:
            try:
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (OWNER_LOCK,))
            except psycopg.Error:
                pass  # a lost connection holds nothing
            finally:
                self._conn.close()
                self._conn = None
