"""Rate limits' token buckets in a SQLite file of their own beside the store (``rate-limits.sqlite3``):
every API process on the data dir takes from the same bucket.

Not in the store's file: every authenticated request takes a token, and there that write would queue
behind any long write transaction (a big document being ingested by the worker), so questions that only
read would wait for it. Here writes are a few microseconds and only one another's. If the file is busy
all the same, the request is let through: a rate limit that fails open costs less than an answer that
fails.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

BUSY_MS = 250
RATE_LIMITS_FILE = "rate-limits.sqlite3"  # in the data dir


def refilled(
    row: tuple[float, float] | None, capacity: float, per_second: float, now: float
) -> tuple[float, float]:
    """A bucket's tokens at ``now`` from its stored (tokens, at), full when new, and the seconds until
    one token is there."""
    tokens = capacity
    if row is not None:  # a clock set back refills nothing
        tokens = min(capacity, row[0] + max(0.0, now - row[1]) * per_second)
    return tokens, 0.0 if tokens >= 1.0 else (1.0 - tokens) / per_second


class SqliteRateBuckets:
    def __init__(self, path: Path | str) -> None:
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = OFF")  # a bucket lost in a crash refills anyway
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS rate_buckets"
            " (name TEXT PRIMARY KEY, tokens REAL NOT NULL, at REAL NOT NULL)"
        )
        self._conn.execute("CREATE INDEX IF NOT EXISTS rate_buckets_at ON rate_buckets(at)")
        self._lock = threading.Lock()

    def take(self, name: str, capacity: float, per_second: float, now: float) -> float:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:  # busy past BUSY_MS: let the request through
                log.warning("rate limit not checked: %s", error)
                return 0.0
            try:
                tokens, wait = self._bucket(name, capacity, per_second, now)
                self._conn.execute(
                    "INSERT INTO rate_buckets (name, tokens, at) VALUES (?, ?, ?)"
                    " ON CONFLICT (name) DO UPDATE SET tokens = excluded.tokens, at = excluded.at",
                    (name, tokens - 1.0 if wait == 0.0 else tokens, now),
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return wait

    def wait(self, name: str, capacity: float, per_second: float, now: float) -> float:
        with self._lock:
            return self._bucket(name, capacity, per_second, now)[1]

    def _bucket(self, name: str, capacity: float, per_second: float, now: float) -> tuple[float, float]:
        row = self._conn.execute("SELECT tokens, at FROM rate_buckets WHERE name = ?", (name,)).fetchone()
        return refilled(row, capacity, per_second, now)

    def prune(self, before: float) -> int:
        with self._lock:
            return self._conn.execute("DELETE FROM rate_buckets WHERE at < ?", (before,)).rowcount

    def close(self) -> None:
        with self._lock:
            self._conn.close()
