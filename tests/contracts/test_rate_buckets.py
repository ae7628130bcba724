"""The contract every RateBuckets backend keeps: one bucket per name, whichever process takes from it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from zhiwen.ports import RateBuckets
from zhiwen.stores.postgres.db import PgDatabase
from zhiwen.stores.postgres.limits import PgRateBuckets
from zhiwen.stores.sqlite.limits import SqliteRateBuckets


@pytest.fixture(params=["sqlite", "postgresql"])
def two_processes(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[RateBuckets, RateBuckets]]:
    """Two connections to one set of buckets, as two API processes hold."""
    first: RateBuckets
    second: RateBuckets
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        PgDatabase(url).close()  # makes the schema, the buckets' table included
        first, second = PgRateBuckets(url), PgRateBuckets(url)
    else:
        first, second = (
            SqliteRateBuckets(tmp_path / "limits.sqlite3"),
            SqliteRateBuckets(tmp_path / "limits.sqlite3"),
        )
    yield first, second
    first.close()
    second.close()


def test_a_bucket_is_shared_and_refills_at_its_rate(two_processes: tuple[RateBuckets, RateBuckets]) -> None:
    a, b = two_processes
    now = 1_000_000.0
    taken = [a.take("key:k1", 3, 0.5, now), b.take("key:k1", 3, 0.5, now), a.take("key:k1", 3, 0.5, now)]
    assert taken == [0, 0, 0]
    assert a.wait("key:k1", 3, 0.5, now) == pytest.approx(2.0) and a.wait("key:new", 3, 0.5, now) == 0
    assert b.take("key:k1", 3, 0.5, now) == pytest.approx(2.0)  # empty: one token back in 2 s
    assert a.take("key:k2", 3, 0.5, now) == 0  # another name, another bucket
    assert a.take("key:k1", 3, 0.5, now + 1.0) == pytest.approx(1.0)
    assert b.wait("key:k1", 3, 0.5, now + 2.0) == 0 and b.take("key:k1", 3, 0.5, now + 2.0) == 0
    assert a.take("key:k1", 3, 0.5, now - 60) == pytest.approx(2.0)  # a clock set back takes nothing away


def test_buckets_idle_since_a_time_are_pruned(two_processes: tuple[RateBuckets, RateBuckets]) -> None:
    a, b = two_processes
    a.take("auth:10.0.0.1", 5, 1.0, 100.0)
    a.take("auth:10.0.0.2", 5, 1.0, 200.0)
    assert b.prune(150.0) == 1 and b.prune(150.0) == 0


def test_a_busy_bucket_file_lets_the_request_through(tmp_path: Path) -> None:
    buckets = SqliteRateBuckets(tmp_path / "limits.sqlite3")
    holder = sqlite3.connect(tmp_path / "limits.sqlite3", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process stuck in a write
    assert all(buckets.take("key:k", 1, 0.01, 0.0) == 0 for _ in range(3))
    holder.execute("ROLLBACK")
    assert buckets.take("key:k", 1, 0.01, 0.0) == 0 and buckets.take("key:k", 1, 0.01, 0.0) > 0
    holder.close()
    buckets.close()


def test_a_busy_bucket_row_or_a_lost_database_lets_the_request_through(postgres_url: str) -> None:
    PgDatabase(postgres_url).close()
    buckets = PgRateBuckets(postgres_url)
    assert buckets.take("key:k", 1, 0.01, 0.0) == 0
    with psycopg.connect(postgres_url) as holder:  # another process stuck holding the row
        holder.execute("SELECT * FROM rate_buckets WHERE name = 'key:k' FOR UPDATE")
        assert buckets.take("key:k", 1, 0.01, 0.0) == 0
    assert buckets.take("key:k", 1, 0.01, 0.0) > 0  # the row free again: the bucket is empty
    with psycopg.connect(postgres_url, autocommit=True) as admin:  # as a database restart would
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid != pg_backend_pid()"
        )
    assert buckets.take("key:k", 1, 0.01, 0.0) == 0  # out of reach: let through
    assert buckets.take("key:k", 1, 0.01, 0.0) > 0  # connected again: counted again
    buckets.close()
