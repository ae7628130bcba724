"""The contract every RateBuckets backend keeps: one bucket per name, whichever process takes from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from zhiwen.ports import RateBuckets
from zhiwen.stores.sqlite.db import Database
from zhiwen.stores.sqlite.limits import SqliteRateBuckets


@pytest.fixture(params=["sqlite"])
def two_processes(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[RateBuckets, RateBuckets]]:
    """Two connections to one database, as two API processes hold."""
    first, second = Database(tmp_path / "limits.sqlite3"), Database(tmp_path / "limits.sqlite3")
    yield SqliteRateBuckets(first), SqliteRateBuckets(second)
    first.close()
    second.close()


def test_a_bucket_is_shared_and_refills_at_its_rate(two_processes: tuple[RateBuckets, RateBuckets]) -> None:
    a, b = two_processes
    now = 1_000_000.0
    assert [a.take("key:k1", 3, 0.5, now), b.take("key:k1", 3, 0.5, now), a.take("key:k1", 3, 0.5, now)] == [
        0
    ] * 3
    assert b.take("key:k1", 3, 0.5, now) == pytest.approx(2.0)  # empty: one token back in 2 s
    assert a.take("key:k2", 3, 0.5, now) == 0  # another name, another bucket
    assert a.take("key:k1", 3, 0.5, now + 1.0) == pytest.approx(1.0)
    assert b.take("key:k1", 3, 0.5, now + 2.0) == 0
    assert a.take("key:k1", 3, 0.5, now - 60) > 0  # a clock set back refills nothing


def test_buckets_idle_since_a_time_are_pruned(two_processes: tuple[RateBuckets, RateBuckets]) -> None:
    a, b = two_processes
    a.take("auth:10.0.0.1", 5, 1.0, 100.0)
    a.take("auth:10.0.0.2", 5, 1.0, 200.0)
    assert b.prune(150.0) == 1 and b.prune(150.0) == 0
