"""Rate limits' token buckets in PostgreSQL, for API processes on several machines: every process takes
from the same bucket.

The table is UNLOGGED (a bucket lost in a crash refills anyway) and read on a connection of its own, so
a token never waits behind the store's transactions. A bucket row busy for more than 250 ms lets the
request through: a rate limit that fails open costs less than an answer that fails.
"""

from __future__ import annotations

import logging
import threading

import psycopg

from zhiwen.stores.sqlite.limits import refilled

log = logging.getLogger(__name__)


class PgRateBuckets:
    def __init__(self, url: str) -> None:
        self._conn = psycopg.connect(url, autocommit=True)
        self._conn.execute("SET lock_timeout = '250ms'")
        self._lock = threading.Lock()

    def take(self, name: str, capacity: float, per_second: float, now: float) -> float:
        with self._lock:
            try:
                with self._conn.transaction():
                    tokens, wait = self._bucket(name, capacity, per_second, now, " FOR UPDATE")
                    self._conn.execute(
                        "INSERT INTO rate_buckets (name, tokens, at) VALUES (%s, %s, %s)"
                        " ON CONFLICT (name) DO UPDATE SET tokens = excluded.tokens, at = excluded.at",
                        (name, tokens - 1.0 if wait == 0.0 else tokens, now),
                    )
            except psycopg.errors.LockNotAvailable as error:
                log.warning("rate limit not checked: %s", error)
                return 0.0
        return wait

    def wait(self, name: str, capacity: float, per_second: float, now: float) -> float:
        with self._lock:
            return self._bucket(name, capacity, per_second, now)[1]

    def _bucket(
        self, name: str, capacity: float, per_second: float, now: float, lock: str = ""
    ) -> tuple[float, float]:
        row = self._conn.execute(
            f"SELECT tokens, at FROM rate_buckets WHERE name = %s{lock}", (name,)
        ).fetchone()
        return refilled(row, capacity, per_second, now)

    def prune(self, before: float) -> int:
        with self._lock:
            return self._conn.execute("DELETE FROM rate_buckets WHERE at < %s", (before,)).rowcount

    def close(self) -> None:
        with self._lock:
            self._conn.close()
