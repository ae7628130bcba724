"""Rate limits' token buckets in PostgreSQL, for API processes on several machines: every process takes
from the same bucket.

The table is UNLOGGED (a bucket lost in a crash refills anyway) and read on a connection of its own, so
a token never waits behind the store's transactions. A bucket row busy for more than 250 ms, or a
database out of reach, lets the request through: a rate limit that fails open costs less than an answer
that fails. A lost connection is made again on the next request.
"""

from __future__ import annotations

import logging
import threading

import psycopg

from zhiwen.stores.sqlite.limits import refilled

log = logging.getLogger(__name__)


class PgRateBuckets:
    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: psycopg.Connection[tuple[float, float]] | None = None
        self._lock = threading.Lock()

    def _connection(self) -> psycopg.Connection[tuple[float, float]]:
        if self._conn is None or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
            self._conn = psycopg.connect(self._url, autocommit=True)
            self._conn.execute("SET lock_timeout = '250ms'")
        return self._conn

    def take(self, name: str, capacity: float, per_second: float, now: float) -> float:
        with self._lock:
            try:
                conn = self._connection()
                with conn.transaction():
                    tokens, wait = self._bucket(conn, name, capacity, per_second, now, " FOR UPDATE")
                    conn.execute(
                        "INSERT INTO rate_buckets (name, tokens, at) VALUES (%s, %s, %s)"
                        " ON CONFLICT (name) DO UPDATE SET tokens = excluded.tokens, at = excluded.at",
                        (name, tokens - 1.0 if wait == 0.0 else tokens, now),
                    )
            except psycopg.OperationalError as error:  # busy, or the database is out of reach
                log.warning("rate limit not checked: %s", error)
                return 0.0
        return wait

    def wait(self, name: str, capacity: float, per_second: float, now: float) -> float:
        with self._lock:
            try:
                return self._bucket(self._connection(), name, capacity, per_second, now)[1]
            except psycopg.OperationalError as error:
                log.warning("rate limit not checked: %s", error)
                return 0.0

    @staticmethod
    def _bucket(
        conn: psycopg.Connection[tuple[float, float]],
        name: str,
        capacity: float,
        per_second: float,
        now: float,
        lock: str = "",
    ) -> tuple[float, float]:
        row = conn.execute(f"SELECT tokens, at FROM rate_buckets WHERE name = %s{lock}", (name,)).fetchone()
        return refilled(row, capacity, per_second, now)

    def prune(self, before: float) -> int:
        with self._lock:
            try:
                pruned = self._connection().execute("DELETE FROM rate_buckets WHERE at < %s", (before,))
                return pruned.rowcount
            except psycopg.OperationalError as error:  # the next hour tries again
                log.warning("rate buckets not pruned: %s", error)
                return 0

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
