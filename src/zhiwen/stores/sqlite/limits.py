"""Rate limits' token buckets in the database: every API process on it takes from the same bucket."""

from __future__ import annotations

from zhiwen.stores.sqlite.db import Database


class SqliteRateBuckets:
    def __init__(self, db: Database) -> None:
        self._db = db

    def take(self, name: str, capacity: float, per_second: float, now: float) -> float:
        with self._db.transaction() as conn:
            row = conn.execute("SELECT tokens, at FROM rate_buckets WHERE name = ?", (name,)).fetchone()
            tokens = capacity
            if row is not None:  # a clock set back refills nothing
                tokens = min(capacity, row[0] + max(0.0, now - row[1]) * per_second)
            wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / per_second
            conn.execute(
                "INSERT INTO rate_buckets (name, tokens, at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET tokens = excluded.tokens, at = excluded.at",
                (name, tokens - 1.0 if wait == 0.0 else tokens, now),
            )
        return wait

    def prune(self, before: float) -> int:
        with self._db.transaction() as conn:
            return conn.execute("DELETE FROM rate_buckets WHERE at < ?", (before,)).rowcount
