"""The contract every OwnerLock keeps: one holder at a time per database, named to whoever is refused,
and free again when the holder lets go or its connection ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from zhiwen.adapters.owner_lock import FileOwnerLock
from zhiwen.ports import OwnerLock
from zhiwen.stores.postgres.owner_lock import PgOwnerLock

MakeLock = Callable[[], OwnerLock]


@pytest.fixture(params=["file", "postgresql"])
def make_lock(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeLock]:
    """Each call: the lock as another process (or machine) sees it."""
    made: list[OwnerLock] = []

    def make() -> OwnerLock:
        lock: OwnerLock = (
            PgOwnerLock(request.getfixturevalue("postgres_url"))
            if request.param == "postgresql"
            else FileOwnerLock(tmp_path / "background.lock")
        )
        made.append(lock)
        return lock

    yield make
    for lock in made:
        lock.release()


def test_one_holder_at_a_time_named_to_the_one_refused(make_lock: MakeLock) -> None:
    first, second = make_lock(), make_lock()
    assert first.claim("zhiwen serve (pid 1 on a)") is None and first.still_held()
    refused = second.claim("zhiwen serve (pid 2 on b)")
    assert refused is not None and "pid 1 on a" in refused and not second.still_held()
    first.release()
    assert not first.still_held()
    assert second.claim("zhiwen serve (pid 2 on b)") is None


def test_a_lock_whose_connection_ended_is_free_and_its_holder_knows(postgres_url: str) -> None:
    first, second = PgOwnerLock(postgres_url), PgOwnerLock(postgres_url)
    assert first.claim("first") is None
    with psycopg.connect(postgres_url, autocommit=True) as admin:  # the database restarted, say
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'first'"
        )
    assert not first.still_held()
    assert second.claim("second") is None
    first.release()
    second.release()
