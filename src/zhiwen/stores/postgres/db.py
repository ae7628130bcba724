"""One PostgreSQL database behind the interface the SQLite stores use, so that they run on either.

The stores write SQL in the subset both engines speak; this module bridges the rest:

- placeholders: ``?`` becomes ``%s`` (and a literal ``%`` becomes ``%%``);
- rows: :class:`Row` reads by position and by column name, as ``sqlite3.Row`` does;
- types: Python booleans are stored as integers (SQLite has no boolean) and ``numeric`` results (a
  ``SUM`` of integers) come back as ``int`` or ``float``;
- errors: a broken constraint or a trigger's refusal raises ``sqlite3.IntegrityError``, the one the
  stores catch;
- the schema: the SQLite migrations are the one history (:func:`schema_statements` translates the schema
  they build), and the triggers, whose bodies are each engine's own, are written again in PL/pgSQL.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.abc import Buffer
from psycopg.adapt import Dumper, Loader
from psycopg.rows import RowMaker
from psycopg.types.string import StrDumperUnknown

from zhiwen.stores.shared_connection import SharedConnection
from zhiwen.stores.sqlite.db import MIGRATIONS, Database, Migration, statements

WRITERS_LOCK = 7318  # advisory lock keys
SCHEMA_LOCK = 7319
FIRST_VERSION = 19  # the SQLite schema version the first PostgreSQL databases were made at
LOCK_TIMEOUT_S = 10
# Connections for reads outside a transaction, per process: a question's keyword and vector searches run
# at once, and so do other requests' reads, while the shared connection's writers take turns.
READERS = 4
_TOKENS = re.compile(r"'(?:[^']|'')*'|\?|%")


def translated(sql: str) -> str:
    """``sql`` with SQLite's placeholders in psycopg's style."""

    def token(match: re.Match[str]) -> str:
        text = match.group(0)
        if text == "?":
            return "%s"
        return text.replace("%", "%%")

    return _TOKENS.sub(token, sql)


class Row(tuple[Any, ...]):
    """A result row, by position or by column name."""

    names: tuple[str, ...] = ()

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(self.names.index(key))
        return super().__getitem__(key)

    def keys(self) -> list[str]:
        return list(self.names)


def _rows(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    names = tuple(c.name for c in cursor.description or ())
    shaped: type[Row] = type("Row", (Row,), {"names": names})

    def make(values: Sequence[Any]) -> Row:
        return shaped(values)

    return make


class _BooleanAsInteger(Dumper):
    oid = psycopg.adapters.types["int8"].oid

    def dump(self, obj: bool) -> bytes:
        return b"1" if obj else b"0"


class _TextWithoutNul(StrDumperUnknown):
    """PostgreSQL's text cannot hold U+0000, which means nothing in a customer's words: it is dropped
    (SQLite kept it), so a question or message holding one is stored instead of failing."""

    def dump(self, obj: str) -> Buffer | None:
        return super().dump(obj.replace("\x00", ""))


class _Number(Loader):
    def load(self, data: Any) -> int | float:
        value = Decimal(bytes(data).decode())
        return int(value) if value == value.to_integral_value() else float(value)


# A broken constraint, or a trigger refusing a write (SQLite's RAISE(ABORT) is an IntegrityError too).
_REFUSED = (psycopg.IntegrityError, psycopg.errors.RaiseException)


class PgConnection:
    """What a store holds inside ``transaction()`` or ``reading()``."""

    def __init__(self, conn: psycopg.Connection[Row]) -> None:
        self._conn = conn

    @property
    def broken(self) -> bool:
        return self._conn.broken

    def close(self) -> None:
        self._conn.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Row]:
        try:
            return self._conn.execute(translated(sql), tuple(params))
        except _REFUSED as error:
            raise sqlite3.IntegrityError(str(error)) from error

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> psycopg.Cursor[Row]:
        cursor = self._conn.cursor()
        try:
            cursor.executemany(translated(sql), [tuple(r) for r in rows])
        except _REFUSED as error:
            raise sqlite3.IntegrityError(str(error)) from error
        return cursor

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Write many rows at once with PostgreSQL's COPY (an order of magnitude faster than INSERTs)."""
        names = ", ".join(columns)
        with self._conn.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    @property
    def in_transaction(self) -> bool:
        return self._conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE


class PgDatabase(SharedConnection[PgConnection]):
    """A PostgreSQL database, shared by the stores as :class:`Database` is (one connection, nesting
    transactions)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn = self._connect()
        self._wrapped = PgConnection(self._conn)
        super().__init__(self._wrapped, self._control)
        self._idle_readers: list[PgConnection] = []
        self._reader_slots = threading.BoundedSemaphore(READERS)
        self._readers_lock = threading.Lock()
        self._borrowed = threading.local()  # the reader this thread holds, so nested reads reuse it
        self._closed = False
        self.migrate()

    @contextmanager
    def reading(self) -> Iterator[PgConnection]:
        """Inside this thread's transaction, the shared connection (the read sees the transaction's
        writes); otherwise a reader of this process's own (made on first need, at most :data:`READERS`
        at once; a thread waits for a free one), so that reads never wait for a writer, nor for each
        other, as they do not between API processes."""
        if self.in_transaction_here:
            with super().reading() as conn:
                yield conn
            return
        held: PgConnection | None = getattr(self._borrowed, "reader", None)
        if held is not None:
            yield held
            return
        with self._reader_slots:
            with self._readers_lock:
                reader = self._idle_readers.pop() if self._idle_readers else None
            if reader is None or reader.broken:  # a reader lost with the server is made again
                if reader is not None:
                    reader.close()
                reader = PgConnection(self._connect())
            self._borrowed.reader = reader
            try:
                yield reader
            finally:
                self._borrowed.reader = None
                with self._readers_lock:
                    if reader.broken or self._closed:
                        reader.close()
                    else:
                        self._idle_readers.append(reader)

    def _connect(self) -> psycopg.Connection[Row]:
        conn = psycopg.connect(self._url, autocommit=True, row_factory=_rows)
        conn.adapters.register_dumper(bool, _BooleanAsInteger)
        conn.adapters.register_dumper(str, _TextWithoutNul)
        conn.adapters.register_loader("numeric", _Number)
        # A writer waits for another this long, then fails (SQLite's busy timeout is 5 s): one stuck
        # writer must not stop every machine.
        conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT_S}s'")
        return conn

    def _ready(self) -> None:
        """Connect again when the connection was lost (the server restarted, a network blip): the
        request that found it lost failed; the next ones find the database again. A transaction left
        open by a failure is rolled back."""
        if self._conn.broken:
            self._conn.close()
            self._conn = self._connect()
            self._wrapped._conn = self._conn
        elif self._conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            self._conn.execute("ROLLBACK")

    def _control(self, statement: str) -> None:
        self._conn.execute(statement)
        if statement == self.begin:
            # Writers take turns, as SQLite's BEGIN IMMEDIATE makes them: the stores check, then write
            # (a version number is MAX + 1, a job is claimed if still queued) inside one transaction.
            try:
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITERS_LOCK,))
            except psycopg.Error:
                if not self._conn.broken:
                    self._conn.execute("ROLLBACK")
                raise

    @property
    def schema_version(self) -> int:
        row = self._wrapped.execute(
            "SELECT version FROM zhiwen_schema WHERE id = 1"
            if self._has_schema_table()
            else "SELECT 0 AS version"
        ).fetchone()
        return int(row[0]) if row else 0

    def _has_schema_table(self) -> bool:
        row = self._wrapped.execute("SELECT to_regclass('zhiwen_schema') IS NOT NULL").fetchone()
        return row is not None and row[0] is True

    def migrate(self, migrations: Sequence[Sequence[Migration]] = MIGRATIONS) -> None:
        """A new database gets the schema of this version's migrations at once (translated from what
        they build in SQLite); an older one gets the migrations after its version applied in order, each
        statement translated (:func:`upgrade_statements`). All in one transaction: an upgrade that fails
        leaves the version it found."""
        with self._lock, self.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))  # two processes starting at once
            version = self.schema_version
            if version > len(migrations):
                raise RuntimeError(
                    f"this PostgreSQL schema is at version {version}, newer than this Zhiwen knows"
                    f" ({len(migrations)}): run the Zhiwen version that made it, or a newer one"
                )
            if version == 0:
                for statement in schema_statements():
                    conn.execute(statement)
                conn.execute("CREATE TABLE zhiwen_schema (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)")
                version = len(MIGRATIONS)
                conn.execute("INSERT INTO zhiwen_schema VALUES (1, ?)", (version,))
            if version < FIRST_VERSION:
                raise RuntimeError(f"a PostgreSQL schema at version {version} was never made by Zhiwen")
            for number in range(version + 1, len(migrations) + 1):
                steps: list[Migration] = [*migrations[number - 1], *_POSTGRESQL_STEPS.get(number, [])]
                for step in steps:
                    if callable(step):
                        step(conn)  # type: ignore[arg-type]  # written against what both connections have
                        continue
                    for statement in upgrade_statements(step):
                        conn.execute(statement)
                conn.execute("UPDATE zhiwen_schema SET version = ? WHERE id = 1", (number,))

    def columns(self) -> dict[str, list[tuple[str, bool]]]:
        """Every table's columns, each with whether it holds text."""
        with self.reading() as conn:
            rows = conn.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
            ).fetchall()
        found: dict[str, list[tuple[str, bool]]] = {}
        for table, column, kind in rows:
            found.setdefault(table, []).append((column, kind == "text"))
        return found

    def engine_problems(self) -> list[str]:
        """None to find here: PostgreSQL checks its pages as it reads them and enforces foreign keys as
        rows are written (SQLite's ``foreign_keys`` can be off for a connection)."""
        return []

    def forget_deleted(self) -> None:
        """VACUUM the tables an erasure deletes from, on a connection of its own (the stores go on
        meanwhile): their space is made free for reuse. PostgreSQL does not overwrite it at once
        (docs/security.md says what that means for an erasure)."""
        with psycopg.connect(self._url, autocommit=True) as conn:
            conn.execute(f"VACUUM {', '.join(_ERASED_FROM)}")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
        with self._readers_lock:
            self._closed = True  # a reader still borrowed is closed when it comes back
            for reader in self._idle_readers:
                reader.close()
            self._idle_readers.clear()


# Upgrades of what only PostgreSQL has (the tables above), by the number of the migration they come
# with: the SQLite history keeps the numbering, with nothing to do there.
_POSTGRESQL_STEPS: dict[int, list[str]] = {
    23: [
        "ALTER TABLE keyword_postings DROP CONSTRAINT keyword_postings_pkey,"
        " ADD PRIMARY KEY (workspace_id, term, chunk_id) INCLUDE (tf, length)"
    ],
}

_ORDERED_BY_ROWID = ("answers", "chunks", "jobs")  # read in insertion order (`ORDER BY rowid` in SQLite)
_ERASED_FROM = (  # what stores/sqlite/customers.py deletes or rewrites
    "answers",
    "feedback",
    "conversations",
    "desk_conversations",
    "desk_messages",
    "desk_photos",
    "desk_ratings",
    "reviews",
    "review_vectors",
    "review_topics",
    "behaviour_events",
    "model_predictions",
    "webhook_deliveries",
    "golden_items",
    "eval_results",
    "chunks",
    "vectors",
    "sentence_vectors",
    "keyword_postings",
    "keyword_docs",
    "releases",
)
_TYPES = (
    (
        re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b", re.I),
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    ),
    (re.compile(r"\bINTEGER\b", re.I), "BIGINT"),
    (re.compile(r"\bREAL\b", re.I), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b", re.I), "BYTEA"),
)
# The triggers, in PL/pgSQL: their SQLite bodies (``RAISE(ABORT, …)``, ``NEW.`` in an upsert) do not
# translate. A trigger the migrations add must be written here too (a test compares the names).
_APPEND_ONLY = """CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$"""
_BUMP = """CREATE OR REPLACE FUNCTION vectors_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE changed TEXT := CASE WHEN TG_OP = 'DELETE' THEN OLD.workspace_id ELSE NEW.workspace_id END;
    BEGIN
        INSERT INTO vector_versions (workspace_id, version) VALUES (changed, 1)
            ON CONFLICT (workspace_id) DO UPDATE SET version = vector_versions.version + 1;
        RETURN NULL;
    END $$"""
_TRIGGERS: dict[str, tuple[str, ...]] = {
    "audit_log_no_update": (
        _APPEND_ONLY,
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
        " FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    ),
    "audit_log_no_delete": (
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
        " FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    ),
    "vectors_insert_bump": (
        _BUMP,
        "CREATE TRIGGER vectors_insert_bump AFTER INSERT ON vectors"
        " FOR EACH ROW EXECUTE FUNCTION vectors_bump()",
    ),
    "vectors_update_bump": (
        "CREATE TRIGGER vectors_update_bump AFTER UPDATE ON vectors"
        " FOR EACH ROW EXECUTE FUNCTION vectors_bump()",
    ),
    "vectors_delete_bump": (
        "CREATE TRIGGER vectors_delete_bump AFTER DELETE ON vectors"
        " FOR EACH ROW EXECUTE FUNCTION vectors_bump()",
    ),
}


# SQLite's functions the stores call, as PostgreSQL functions (``json_extract`` returns text: the stores
# read objects and strings with it, never numbers).
_FUNCTIONS = (
    "CREATE FUNCTION instr(haystack TEXT, needle TEXT) RETURNS INTEGER LANGUAGE sql IMMUTABLE"
    " RETURN strpos(haystack, needle)",
    "CREATE FUNCTION json_extract(document TEXT, path TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE"
    " RETURN document::jsonb #>> string_to_array(substr(path, 3), '.')",
)

# Vectors as pgvector values beside their bytes, for the HNSW index (:mod:`zhiwen.stores.postgres.vectors`).
# Creating the extension needs a superuser once (`CREATE EXTENSION vector`, docs/deployment.md).
_PGVECTOR = "CREATE EXTENSION IF NOT EXISTS vector"
_EMBEDDINGS = "ALTER TABLE vectors ADD COLUMN embedding vector"

# What stands in for SQLite's FTS5 tables (one per workspace, made with its first chunk there):
# :mod:`zhiwen.stores.postgres.keyword`'s postings and chunk lengths. A term's postings are read from its
# primary key's index alone, which carries what BM25 needs (an index-only scan): the rows themselves lie
# in the order they were written, a page per posting for a common term (migration 23).
_KEYWORD_TABLES = (
    """CREATE TABLE keyword_docs (
        workspace_id TEXT NOT NULL,
        chunk_id TEXT NOT NULL,
        length BIGINT NOT NULL,
        PRIMARY KEY (workspace_id, chunk_id)
    )""",
    """CREATE TABLE keyword_postings (
        workspace_id TEXT NOT NULL,
        term TEXT NOT NULL,
        chunk_id TEXT NOT NULL,
        tf BIGINT NOT NULL,
        length BIGINT NOT NULL,
        PRIMARY KEY (workspace_id, term, chunk_id) INCLUDE (tf, length)
    )""",
    "CREATE INDEX keyword_postings_by_chunk ON keyword_postings (workspace_id, chunk_id)",
    # Statistics kept as postings change (`recount`): a question reads them rather than counting.
    "CREATE TABLE keyword_stats"
    " (workspace_id TEXT PRIMARY KEY, chunks BIGINT NOT NULL, tokens BIGINT NOT NULL)",
    """CREATE TABLE keyword_terms (
        workspace_id TEXT NOT NULL,
        term TEXT NOT NULL,
        df BIGINT NOT NULL,
        PRIMARY KEY (workspace_id, term)
    )""",
)
# Rate limits' token buckets (:mod:`zhiwen.stores.postgres.limits`); SQLite keeps them in a file of their own.
_RATE_TABLES = (
    "CREATE UNLOGGED TABLE rate_buckets"
    " (name TEXT PRIMARY KEY, tokens DOUBLE PRECISION NOT NULL, at DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX rate_buckets_at ON rate_buckets (at)",
)


def sqlite_schema() -> list[tuple[str, str, str]]:
    """(type, name, SQL) of every table, index and trigger the SQLite migrations build, in order."""
    db = Database(":memory:")
    try:
        with db.reading() as conn:
            rows = conn.execute(
                "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
                " ORDER BY rowid"
            ).fetchall()
    finally:
        db.close()
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def schema_statements() -> list[str]:
    """The PostgreSQL DDL of the schema the SQLite migrations build: tables (referenced ones first),
    their indexes, the triggers; SQLite's functions the stores call; pgvector's column; the keyword
    index's and the rate limits' tables."""
    entries = sqlite_schema()
    tables = {name: sql for kind, name, sql in entries if kind == "table"}
    statements = [_table(name, tables[name]) for name in referenced_first(tables)]
    statements += [sql for kind, _, sql in entries if kind == "index"]
    triggers = [name for kind, name, _ in entries if kind == "trigger"]
    missing = sorted(set(triggers) - set(_TRIGGERS))
    if missing:
        raise RuntimeError(f"no PostgreSQL version of the triggers {missing}: add them to _TRIGGERS")
    for name in triggers:
        statements += _TRIGGERS[name]
    return [_PGVECTOR, *_FUNCTIONS, *statements, _EMBEDDINGS, *_KEYWORD_TABLES, *_RATE_TABLES]


def upgrade_statements(step: str) -> list[str]:
    """A migration's SQL in PostgreSQL's words: a new table translated as the schema's are, a trigger
    replaced by its PL/pgSQL twin, column types translated in the rest. What only SQLite has (virtual
    tables, pragmas) is refused: each migration runs on both."""
    translated = []
    for statement in statements(step):
        table = re.match(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", statement, re.I)
        trigger = re.match(r"CREATE TRIGGER (?:IF NOT EXISTS )?(\w+)", statement, re.I)
        if table:
            translated.append(_table(table[1], statement))
        elif trigger:
            if trigger[1] not in _TRIGGERS:
                raise RuntimeError(f"no PostgreSQL version of the trigger {trigger[1]}: add it to _TRIGGERS")
            translated += _TRIGGERS[trigger[1]]
        elif re.match(r"CREATE VIRTUAL TABLE|PRAGMA", statement, re.I):
            raise RuntimeError(f"a migration step only SQLite can run: {statement[:60]}")
        elif re.match(r"ALTER TABLE \w+ ADD (?:COLUMN )?", statement, re.I):
            translated.append(_typed(statement))  # a column's type, never data in other statements
        else:
            translated.append(statement)
    return translated


def _typed(sql: str) -> str:
    for pattern, replacement in _TYPES:
        sql = pattern.sub(replacement, sql)
    return sql


def _table(name: str, sql: str) -> str:
    sql = _typed(sql)
    if name in _ORDERED_BY_ROWID:
        sql = sql.rstrip().rstrip(")") + ",\n    rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE)"
    return sql


def referenced_first(tables: dict[str, str]) -> list[str]:
    """Table names (name → CREATE TABLE) ordered so that a table comes after those it references:
    creating them, or filling them with foreign keys checked row by row, never finds one missing."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order or name in path:
            return
        for referenced in re.findall(r"REFERENCES\s+\"?(\w+)", tables[name], re.I):
            if referenced in tables and referenced != name:
                visit(referenced, (*path, name))
        order.append(name)

    for name in tables:
        visit(name, ())
    return order
