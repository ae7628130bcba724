"""The backends the contract suites run against: every suite that takes ``database`` runs on each."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from zhiwen.stores.postgres.db import PgDatabase
from zhiwen.stores.sqlite.db import Database

Connect = Callable[[], Database]


@pytest.fixture(params=["sqlite", "postgresql"])
def connect(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Connect]:
    """Opens a connection to the backend's database; each call opens another to the same database, as
    another process would."""
    opened: list[Database | PgDatabase] = []

    def open_database() -> Database:
        if request.param == "postgresql":
            db: Database | PgDatabase = PgDatabase(request.getfixturevalue("postgres_url"))
        else:
            db = Database(tmp_path / "contract.sqlite3")
        opened.append(db)
        return db  # type: ignore[return-value]  # the stores take either

    yield open_database
    for db in opened:
        db.close()
