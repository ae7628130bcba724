"""PostgreSQL reads outside a transaction take a reader of their own: a question's keyword and vector
searches, and other requests' reads, run at once instead of taking turns on the shared connection."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from zhiwen.stores.postgres.db import PgDatabase
from zhiwen.stores.sqlite.workspaces import SqliteWorkspaceStore


def test_a_read_runs_while_another_thread_reads_and_a_writer_holds_the_shared_connection(
    postgres_url: str,
) -> None:
    db = PgDatabase(postgres_url)
    workspaces = SqliteWorkspaceStore(db)
    reading, writing, done = threading.Event(), threading.Event(), threading.Event()

    def read_until_done() -> bool:
        with db.reading() as conn:
            conn.execute("SELECT 1")
            reading.set()
            return done.wait(timeout=20)

    def write_until_done() -> bool:
        with db.transaction():
            workspaces.create_workspace("held")
            writing.set()
            return done.wait(timeout=20)

    with ThreadPoolExecutor(2) as threads:
        reader, writer = threads.submit(read_until_done), threads.submit(write_until_done)
        assert reading.wait(timeout=20) and writing.wait(timeout=20)
        try:
            # Both other threads hold on: this read must not wait for either, nor see the open write.
            assert [w.name for w in workspaces.list_workspaces()] == []
        finally:
            done.set()
        assert reader.result() and writer.result()
    assert [w.name for w in workspaces.list_workspaces()] == ["held"]
    db.close()


def test_a_read_inside_a_transaction_sees_its_writes_and_nested_reads_share_a_reader(
    postgres_url: str,
) -> None:
    db = PgDatabase(postgres_url)
    workspaces = SqliteWorkspaceStore(db)
    with db.transaction():
        workspace = workspaces.create_workspace("acme")
        assert workspaces.get_workspace(workspace.id).name == "acme"  # on the shared connection
    with db.reading() as outer, db.reading() as inner:
        assert outer is inner
        (pid,) = outer.execute("SELECT pg_backend_pid()").fetchone()
    with db.reading() as conn:  # the reader went back to the pool and is taken again
        assert conn.execute("SELECT pg_backend_pid()").fetchone()[0] == pid
    db.close()
