"""What the SQL stores need of a database, so that each runs on SQLite (:class:`~zhiwen.stores.sqlite.db.
Database`) and on PostgreSQL (:class:`~zhiwen.stores.postgres.db.PgDatabase`) alike.

The stores write SQL in the subset both engines speak (``?`` placeholders; ``ON CONFLICT``; ``RETURNING``;
``instr`` and ``json_extract``, which the PostgreSQL schema defines); rows are read by position or by
column name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

SqlRow = Any  # sqlite3.Row or the PostgreSQL backend's Row: both index by position and by column name


class SqlCursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchmany(self, size: int = ..., /) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class SqlConnection(Protocol):
    @property
    def in_transaction(self) -> bool: ...
    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> SqlCursor: ...
    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> SqlCursor: ...


class SqlDatabase(Protocol):
    def transaction(self) -> AbstractContextManager[SqlConnection]:
        """One transaction; nested calls join the outermost one. Writers take turns, as in SQLite."""
        ...

    def reading(self) -> AbstractContextManager[SqlConnection]: ...

    def columns(self) -> dict[str, list[tuple[str, bool]]]:
        """Every table's columns, each with whether it may hold text."""
        ...

    def engine_problems(self) -> list[str]:
        """What the engine's own checks find wrong with the database's files, in words."""
        ...

    def forget_deleted(self) -> None:
        """Let go of what the database keeps of deleted rows, as far as it can (after an erasure)."""
        ...

    def close(self) -> None: ...
