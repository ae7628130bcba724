"""Move a SQLite store into PostgreSQL (`zhiwen migrate --to postgresql://…`).

Every table the migrations build is copied whole, in one transaction, with PostgreSQL's COPY; the
keyword index is carried over term for term from the FTS5 tables (no re-segmentation, so rankings stay
exactly the same) and each vector gets its pgvector copy and HNSW index; row counts are compared before
the commit. A failure anywhere rolls everything back:
the target holds the empty schema or the whole store, never part of it. The SQLite file is only read, so
going back is unsetting ``ZHIWEN_DATABASE_URL`` (docs/deployment.md).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from zhiwen.errors import BackendUnavailable, Conflict, InvalidInput
from zhiwen.stores.postgres.db import PgConnection, PgDatabase, referenced_first, sqlite_schema
from zhiwen.stores.postgres.keyword import keyword_rows, recount
from zhiwen.stores.postgres.vectors import as_text, create_index
from zhiwen.stores.sqlite.backup import alone
from zhiwen.stores.sqlite.db import MIGRATIONS, fts_table

BATCH = 2_000
INDEX_BUILD_MEMORY = "1GB"  # the graph of ~500k 384-value vectors (~2 KB each); beyond, slower
KEYWORD_TABLE = "keyword index"  # how the FTS5 tables' rows are reported

Progress = Callable[[str, int, int], None]  # table, rows copied, rows in it


@dataclass(frozen=True)
class Copied:
    table: str
    source: int  # rows in the SQLite store
    target: int  # rows in PostgreSQL after the copy


def move_store(db_path: Path, url: str, progress: Progress = lambda table, done, total: None) -> list[Copied]:
    """Copy the SQLite store at ``db_path`` into the empty PostgreSQL database at ``url``; the counts of
    every table on both sides. Refuses a store another process has open (and keeps it to itself until
    the copy is done), one made by another version, and a database that already holds tables."""
    if not db_path.is_file():
        raise InvalidInput(f"no SQLite store at {db_path}: give the data dir that holds zhiwen.sqlite3")
    _refuse_unless_empty(url)
    with alone(db_path) as source:  # no `zhiwen serve` can start and write what the copy would miss
        version = int(source.execute("PRAGMA user_version").fetchone()[0])
        if version != len(MIGRATIONS):
            raise InvalidInput(
                f"the store is at schema version {version}, this Zhiwen writes {len(MIGRATIONS)}: run "
                "`zhiwen check` with this version once (it upgrades the store), then migrate"
            )
        tables = referenced_first({name: sql for kind, name, sql in sqlite_schema() if kind == "table"})
        totals = {t: _count(source, t) for t in tables}
        keyword_sources = _keyword_tables(source)
        totals[KEYWORD_TABLE] = sum(_count(source, table) for table in keyword_sources.values())
        try:
            target = PgDatabase(url)  # makes the schema: the one thing a failure below leaves
        except psycopg.Error as error:
            raise BackendUnavailable(
                f"cannot make Zhiwen's schema in the target database ({error}); `CREATE EXTENSION vector`"
                " needs a superuser once (docs/deployment.md)"
            ) from None
        try:
            with target.transaction() as conn:
                for table in tables:
                    _copy_table(source, conn, table, totals[table], progress)
                _continue_identities(conn, dict(source.execute("SELECT name, seq FROM sqlite_sequence")))
                # Built once here rather than at the first start, with room for the graph in memory
                # (pgvector builds far slower once it no longer fits; this transaction's setting only).
                conn.execute(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
                for (dim,) in conn.execute("SELECT DISTINCT vector_dims(embedding) FROM vectors").fetchall():
                    create_index(conn, int(dim))
                _copy_keywords(source, conn, keyword_sources, totals[KEYWORD_TABLE], progress)
                copied = [Copied(t, totals[t], _count(conn, t)) for t in tables]
                copied.append(Copied(KEYWORD_TABLE, totals[KEYWORD_TABLE], _count(conn, "keyword_docs")))
                wrong = [c for c in copied if c.source != c.target]
                if wrong:  # raising rolls the whole copy back
                    raise Conflict(
                        "row counts differ after the copy, nothing was kept: "
                        + ", ".join(f"{c.table} {c.source} → {c.target}" for c in wrong)
                    )
        except psycopg.Error as error:
            raise BackendUnavailable(f"the move failed, nothing was kept: {error}") from error
        finally:
            target.close()
    # Keyword search reads postings from their index alone once VACUUM has marked the pages it wrote as
    # visible to all; autovacuum would get there, later.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE keyword_postings")
    return copied


def _refuse_unless_empty(url: str) -> None:
    """Only a new database (no table in its schema), or one holding Zhiwen's schema without a row (what
    a failed move leaves), is filled: a mistyped URL must not add Zhiwen's tables beside another
    application's, nor a second store's rows to a first's."""
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            tables = [
                str(r[0])
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
                    " ORDER BY table_name"
                )
            ]
            holding = [
                t
                for t in tables
                if t != "zhiwen_schema"
                and conn.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone() is not None
            ]
    except psycopg.Error as error:
        raise BackendUnavailable(f"cannot open the target database: {error}") from None
    if holding or (tables and "zhiwen_schema" not in tables):
        named = holding or tables
        shown = ", ".join(named[:5]) + (", …" if len(named) > 5 else "")
        raise Conflict(
            f"the target database already holds data ({shown}): migrate into a new, empty database"
            " (CREATE DATABASE …)"
        )


def _count(conn: sqlite3.Connection | PgConnection, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row is not None else 0


def _copy_table(
    source: sqlite3.Connection, target: PgConnection, table: str, total: int, progress: Progress
) -> None:
    columns = [r[1] for r in source.execute(f"PRAGMA table_info({table})")]
    # Rows go in as they are: triggers (the vector versions' counter) would count the copy as changes.
    target.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    progress(table, 0, total)
    done = 0
    for rows in _batches(source, f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid"):
        try:
            if table == "vectors":  # pgvector's copy of each vector, for the HNSW index
                at = columns.index("vector")
                embedded = [(*r, as_text(np.frombuffer(r[at], dtype=np.float32))) for r in rows]
                target.copy_rows(table, [*columns, "embedding"], embedded)
            else:
                target.copy_rows(table, columns, rows)
        except (psycopg.DataError, psycopg.IntegrityError) as error:
            raise InvalidInput(f"{table}: a row could not be copied, nothing was kept: {error}") from error
        done += len(rows)
        progress(table, done, total)
    target.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def _batches(source: sqlite3.Connection, query: str) -> Iterator[list[tuple[Any, ...]]]:
    cursor = source.execute(query)
    while rows := cursor.fetchmany(BATCH):
        yield rows


def _continue_identities(conn: PgConnection, sequences: dict[str, int]) -> None:
    """Numbered columns (``INTEGER PRIMARY KEY AUTOINCREMENT`` in SQLite) go on after the highest number
    SQLite ever gave (``sqlite_sequence``; deleted rows' numbers are never given again)."""
    numbered = conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema ="
        " current_schema() AND is_identity = 'YES' AND identity_generation = 'BY DEFAULT'"
    ).fetchall()
    for table, column in numbered:
        (highest,) = conn.execute(f"SELECT max({column}) FROM {table}").fetchone() or (None,)
        last = max(int(highest or 0), int(sequences.get(table, 0)))
        if last:
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), ?)", (last,))


def _keyword_tables(source: sqlite3.Connection) -> dict[str, str]:
    """Each workspace's (and release snapshot's) FTS5 table, by workspace id."""
    existing = {r[0] for r in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    workspaces = [r[0] for r in source.execute("SELECT DISTINCT workspace_id FROM chunks")]
    return {w: fts_table(w) for w in workspaces if fts_table(w) in existing}


def _copy_keywords(
    source: sqlite3.Connection, target: PgConnection, tables: dict[str, str], total: int, progress: Progress
) -> None:
    done = 0
    progress(KEYWORD_TABLE, 0, total)
    for workspace_id, table in tables.items():
        for rows in _batches(source, f"SELECT chunk_id, terms FROM {table}"):
            lengths, postings = [], []
            for chunk_id, terms in rows:
                length, counts = keyword_rows(workspace_id, str(chunk_id), str(terms))
                lengths.append(length)
                postings += counts
            target.copy_rows("keyword_docs", ("workspace_id", "chunk_id", "length"), lengths)
            target.copy_rows(
                "keyword_postings", ("workspace_id", "term", "chunk_id", "tf", "length"), postings
            )
            done += len(rows)
            progress(KEYWORD_TABLE, done, total)
        recount(target, workspace_id)
