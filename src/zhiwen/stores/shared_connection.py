"""One database connection shared by a backend's stores, guarded by a lock.

One connection with an ``RLock`` keeps transactions simple and lets the stores of one backend share them:
``with db.transaction(): ...`` nests, inner blocks joining the outermost transaction, so a service can
make several stores' writes one unit. SQLite serialises writers anyway; for PostgreSQL, several API
processes are the way to more concurrency.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

Connection = TypeVar("Connection")


class SharedConnection(Generic[Connection]):
    begin = "BEGIN"  # how a transaction starts (SQLite takes the write lock at once: BEGIN IMMEDIATE)

    def __init__(self, connection: Connection, execute: Callable[[str], object]) -> None:
        """``execute`` runs BEGIN, COMMIT and ROLLBACK on ``connection``."""
        self._shared = connection
        self._control = execute
        self._lock = threading.RLock()
        self._depth = 0
        self._owner: int | None = None  # the thread whose transaction is open

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Run the block in one transaction; nested calls join the outermost one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._shared
                finally:
                    self._depth -= 1
                return
            self._ready()
            self._control(self.begin)
            self._depth, self._owner = 1, threading.get_ident()
            try:
                yield self._shared
            except BaseException:
                self._control("ROLLBACK")
                raise
            else:
                self._control("COMMIT")
            finally:
                self._depth, self._owner = 0, None

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self._lock:
            if not self._depth:
                self._ready()
            yield self._shared

    @property
    def in_transaction_here(self) -> bool:
        """Whether this thread is inside ``transaction()`` (only the owner sets it: no lock needed)."""
        return self._owner == threading.get_ident()

    def _ready(self) -> None:
        """Before a transaction or a read that is not inside one: where a backend reconnects."""
