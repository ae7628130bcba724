"""Backups from the command line: online copies, their manifests, scheduled pruning, verification that a
backup restores and answers identically, and restore with its refusals."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from tests.cli.test_cli import zhiwen
from zhiwen.adapters.embedders import BundledE5Embedder
from zhiwen.cli import app
from zhiwen.config import Settings
from zhiwen.errors import Conflict, CorruptFile, InvalidInput, NotFound
from zhiwen.sample_kb import build_sample_kb
from zhiwen.stores.sqlite import backup
from zhiwen.stores.sqlite.db import MIGRATIONS, Database
from zhiwen.wiring import build_services

# A few of the demo shop's files (passages in both languages and an FAQ table): enough knowledge to
# answer from, small enough to embed in seconds.
KB_FILES = ("returns-zh.md", "returns-en.md", "shipping-zh.md", "warranty-en.md", "faq-zh.csv")
QUESTIONS = ("退货运费谁承担？", "How long is the warranty?", "发货后几天能到？")
STAMPED = "zhiwen-2020010{}-020000.sqlite3"  # earlier nights' backups


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, embedder: BundledE5Embedder) -> Path:
    """A small store with embedded knowledge, built once; each test gets a copy of the file."""
    root = tmp_path_factory.mktemp("backup-template")
    services = build_services(Settings(data_dir=root / "data"), embedder=embedder)
    workspace = services.workspaces.create_workspace("default")
    folder = build_sample_kb(root / "kb")
    results = services.ingest.ingest_paths(workspace.id, [folder / name for name in KB_FILES], base=folder)
    assert all(r.status == "added" for r in results), results
    services.embedding_worker.run_until_done()
    services.close()  # the last connection folds the WAL in: the file alone is the store
    return root / "data" / "zhiwen.sqlite3"


@pytest.fixture
def data(template: Path, tmp_path: Path) -> Path:
    """A data dir of this test's own, holding a copy of the template store (and no open connection)."""
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copyfile(template, folder / "zhiwen.sqlite3")
    return folder


@pytest.fixture
def made(data: Path, tmp_path: Path) -> Path:
    """A backup of ``data`` with its manifest, made by `zhiwen backup FILE`."""
    target = tmp_path / "backups" / "nightly.sqlite3"
    code, _ = zhiwen(data, "backup", str(target), "--json")
    assert code == 0
    return target


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


def test_a_backup_taken_while_another_connection_writes_is_a_consistent_snapshot(
    data: Path, tmp_path: Path
) -> None:
    db_path = data / "zhiwen.sqlite3"
    writer = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None, timeout=5)
    workspace = writer.execute("SELECT id FROM workspaces").fetchone()[0]
    stop, committed, written = threading.Event(), threading.Event(), [0]

    def write() -> None:  # each commit adds a conversation and its answer: both or neither are in a copy
        while not stop.is_set():
            n = written[0]
            writer.execute("BEGIN IMMEDIATE")
            writer.execute(
                "INSERT INTO conversations (id, workspace_id, created_at) VALUES (?, ?, '2026-01-01')",
                (f"conv_w{n}", workspace),
            )
            writer.execute(
                "INSERT INTO answers (id, workspace_id, conversation_id, question, record, created_at)"
                " VALUES (?, ?, ?, ?, '{}', '2026-01-01')",
                (f"ans_w{n}", workspace, f"conv_w{n}", f"question {n}"),
            )
            writer.execute("COMMIT")
            written[0] += 1
            committed.set()

    steps: list[float] = []

    def progress(fraction: float) -> None:  # another transaction commits between every two steps
        steps.append(fraction)
        assert len(steps) < 2000, "the copy keeps starting over: it must read one snapshot throughout"
        committed.clear()
        assert committed.wait(5)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        assert committed.wait(5)
        before = written[0]
        target = tmp_path / "copy.sqlite3"
        manifest = backup.create_backup(db_path, target, progress, pages_per_step=8)
    finally:
        stop.set()
        thread.join()
        writer.close()

    assert len(steps) > 20 and steps[-1] == 1.0 and written[0] > before + 20
    assert _rows(target, "PRAGMA integrity_check") == [("ok",)]
    assert _rows(target, "PRAGMA foreign_key_check") == []
    conversations = _rows(target, "SELECT count(*) FROM conversations WHERE id LIKE 'conv_w%'")[0][0]
    answers = _rows(target, "SELECT count(*) FROM answers WHERE id LIKE 'ans_w%'")[0][0]
    assert isinstance(answers, int) and conversations == answers and before <= answers < written[0]
    assert manifest["tables"]["answers"] == _rows(target, "SELECT count(*) FROM answers")[0][0]
    assert not list(tmp_path.glob(".copy.sqlite3*")), "the temporary file is gone"


def test_the_manifest_holds_versions_the_checksum_and_every_tables_rows(data: Path, tmp_path: Path) -> None:
    (data / "master.key").write_text("not-a-real-key\n")
    code, out = zhiwen(data, "backup", "--json")
    manifest = json.loads(out)
    target = Path(manifest["path"])
    assert code == 0 and target.parent == data / "backups"
    assert backup.BACKUP_NAME.fullmatch(target.name)
    assert json.loads(backup.manifest_path(target).read_text())["sha256"] == manifest["sha256"]
    assert manifest["sha256"] == backup.sha256_of(target) and manifest["bytes"] == target.stat().st_size
    assert manifest["schema_version"] == len(MIGRATIONS)
    assert manifest["zhiwen_version"] and manifest["created_at"].endswith("+00:00")
    tables = manifest["tables"]
    chunks = _rows(target, "SELECT count(*) FROM chunks")[0][0]
    workspace = _rows(target, "SELECT id FROM workspaces")[0][0]
    fts = f"fts_{workspace}"
    assert isinstance(chunks, int) and chunks > 10 and tables["chunks"] == chunks and tables[fts] == chunks
    assert tables["vectors"] == chunks and tables["documents"] == len(KB_FILES)
    assert not any(name.startswith("sqlite_") for name in tables), "SQLite's own tables are left out"
    assert f"{fts}_data" not in tables and f"{fts}_vocab" not in tables, "FTS5 internals are left out"
    assert not list((data / "backups").glob("*master*")), "the master key is never copied"

    code, out = zhiwen(data, "backup")
    assert code == 0 and "master key" in out and str(data / "master.key") in out
    assert out.count("master key") == 1


def test_scheduled_backups_keep_the_newest_n_and_never_touch_other_files(data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "scheduled"
    folder.mkdir()
    for day in (1, 2, 3):  # older backups, made on earlier nights
        (folder / STAMPED.format(day)).write_bytes(b"old")
        backup.manifest_path(folder / STAMPED.format(day)).write_text("{}")
    strangers = ["notes.txt", "zhiwen-manual.sqlite3", "zhiwen-20200101-020000.sqlite3.bak", "other.sqlite3"]
    for name in strangers:
        (folder / name).write_text("keep me")

    for _ in range(2):  # two in the same second get distinct names
        code, out = zhiwen(data, "backup", "--dir", str(folder), "--keep", "3", "--json")
        assert code == 0
    pruned = json.loads(out)["pruned"]

    left = sorted(p.name for p in folder.iterdir())
    made = [n for n in left if backup.BACKUP_NAME.fullmatch(n) and not n.startswith("zhiwen-2020010")]
    assert len(made) == 2 and STAMPED.format(3) in left
    assert STAMPED.format(1) not in left and STAMPED.format(2) not in left
    assert STAMPED.format(1) + ".json" not in left and STAMPED.format(2) + ".json" not in left
    assert [Path(p).name for p in pruned] == [STAMPED.format(2)]
    assert all((folder / name).read_text() == "keep me" for name in strangers)
    listed = json.loads(zhiwen(data, "backup", "list", "--dir", str(folder), "--json")[1])
    assert [Path(e["path"]).name for e in listed][-1] == STAMPED.format(3)


def test_verify_names_a_tampered_file_and_exits_1(made: Path) -> None:
    content = bytearray(made.read_bytes())
    content[len(content) // 2] ^= 0xFF
    made.write_bytes(bytes(content))
    code, out = zhiwen(made.parent, "backup", "verify", str(made), "--json")
    report = json.loads(out)
    checks = {c["name"]: c for c in report["checks"]}
    assert code == 1 and report["ok"] is False
    assert checks["sha256"]["status"] == "failed"
    assert str(made) in checks["sha256"]["detail"] and "changed or damaged" in checks["sha256"]["detail"]


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_verify_explains_a_truncated_or_garbage_file_without_a_traceback(made: Path, damage: str) -> None:
    content = made.read_bytes()
    made.write_bytes(content[: len(content) // 3] if damage == "truncated" else b"PK\x03\x04 not sqlite" * 64)
    result = CliRunner().invoke(app, ["backup", "verify", str(made)], catch_exceptions=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "changed or damaged" in result.output and "The backup failed" in result.output
    _, out = zhiwen(made.parent, "backup", "verify", str(made), "--json")
    checks = {c["name"]: c["status"] for c in json.loads(out)["checks"]}
    assert checks["integrity"] == "failed" and checks["answers"] == "skipped"


def test_restore_brings_back_the_store_as_it_was_and_keeps_the_one_it_replaced(
    data: Path, made: Path
) -> None:
    code, out = zhiwen(data, "ask", QUESTIONS[0], "--json")  # recorded after the backup
    assert code == 0
    added = json.loads(out)["answer_id"]
    code, out = zhiwen(data, "restore", str(made), "--yes", "--json")
    result = json.loads(out)
    assert code == 0 and result["tables"]["answers"] == 0
    assert _rows(data / "zhiwen.sqlite3", f"SELECT count(*) FROM answers WHERE id = '{added}'") == [(0,)]
    kept = Path(result["kept_as"])
    assert kept.parent == data and kept.name.startswith("zhiwen.sqlite3.before-restore-")
    assert _rows(kept, f"SELECT count(*) FROM answers WHERE id = '{added}'") == [(1,)]
    assert not (data / "zhiwen.sqlite3-wal").exists() and not list(data.glob(".zhiwen.sqlite3.restore-*"))
    assert zhiwen(data, "check", "--json")[0] == 0


def test_restore_refuses_while_the_store_is_open(data: Path, made: Path) -> None:
    before = backup.sha256_of(data / "zhiwen.sqlite3")
    server = Database(data / "zhiwen.sqlite3")  # what `zhiwen serve` holds open, idle
    try:
        with pytest.raises(Conflict, match="stop it first"):
            zhiwen(data, "restore", str(made), "--yes")
    finally:
        server.close()
    assert backup.sha256_of(data / "zhiwen.sqlite3") == before
    assert not list(data.glob("zhiwen.sqlite3.before-restore-*"))
    assert zhiwen(data, "restore", str(made), "--yes")[0] == 0, "once it is closed, the restore goes ahead"


def test_restore_of_a_missing_empty_or_foreign_file_is_refused_and_the_store_is_untouched(
    data: Path, tmp_path: Path
) -> None:
    before = backup.sha256_of(data / "zhiwen.sqlite3")
    missing, empty, foreign, other_db = (
        tmp_path / n for n in ("gone.sqlite3", "e.sqlite3", "f.sqlite3", "o.db")
    )
    empty.write_bytes(b"")
    foreign.write_bytes(b"%PDF-1.7 this is not a database" * 100)
    with closing(sqlite3.connect(other_db)) as conn:
        conn.execute("CREATE TABLE t (x)")
    for forged in (foreign, other_db):  # a manifest that matches, so the contents are what is judged
        backup.manifest_path(forged).write_text(
            json.dumps({"sha256": backup.sha256_of(forged), "tables": {}, "schema_version": 1})
        )
    refusals = {
        missing: (NotFound, "there is no file"),
        empty: (CorruptFile, "is empty"),
        foreign: (CorruptFile, "not a readable SQLite database"),
        other_db: (InvalidInput, "not a Zhiwen store"),
    }
    for file, (error, message) in refusals.items():
        with pytest.raises(error, match=message):
            zhiwen(data, "restore", str(file), "--yes")
    assert backup.sha256_of(data / "zhiwen.sqlite3") == before
    assert sorted(p.name for p in data.iterdir()) == ["zhiwen.sqlite3"], "nothing left behind"


def test_a_restored_backup_answers_identically_to_the_store_it_was_taken_from(data: Path) -> None:
    for question in QUESTIONS:
        assert zhiwen(data, "ask", question)[0] == 0
    code, out = zhiwen(data, "backup", "--json")
    target = json.loads(out)["path"]
    code, out = zhiwen(data, "backup", "verify", target, "--against", str(data), "--json")
    report = json.loads(out)
    checks = {c["name"]: c for c in report["checks"]}
    assert code == 0 and report["ok"], report["checks"]
    assert all(c["status"] == "ok" for c in report["checks"])
    assert checks["answers"]["detail"].startswith(
        f"{len(QUESTIONS)}/{len(QUESTIONS)} questions answered identically"
    )
    assert {a["question"] for a in report["answers"]} == set(QUESTIONS)
    assert all(a["same"] and a["restored"]["citations"] for a in report["answers"])

    assert zhiwen(data, "ask", "How long is the warranty?")[0] == 0  # recorded: the live store moved on
    code, out = zhiwen(data, "backup", "verify", target)
    assert code == 0 and "answered by the restored copy" in out  # no --against: each answered, shown


def test_restore_refuses_a_backup_from_a_newer_zhiwen(data: Path, made: Path) -> None:
    manifest = json.loads(backup.manifest_path(made).read_text())
    backup.manifest_path(made).write_text(json.dumps({**manifest, "schema_version": len(MIGRATIONS) + 1}))
    with pytest.raises(InvalidInput, match="upgrade Zhiwen first"):
        zhiwen(data, "restore", str(made), "--yes")
    assert sorted(p.name for p in data.iterdir()) == ["zhiwen.sqlite3"]


@pytest.mark.parametrize("command", [["backup"], ["restore", "latest"]])
def test_backup_and_restore_refuse_a_store_on_postgresql_and_say_what_to_use(
    tmp_path: Path, command: list[str]
) -> None:
    nowhere = "postgresql://zhiwen@127.0.0.1:1/zhiwen"  # never connected to: refused before
    result = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path), *command], env={"ZHIWEN_DATABASE_URL": nowhere}
    )
    assert isinstance(result.exception, InvalidInput)  # the entry point prints it, exit code 2
    assert "on PostgreSQL" in result.exception.message and "pg_dump" in result.exception.message


def _migrate(data: Path, url: str, *more: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["--data-dir", str(data), "migrate", "--to", url, *more], catch_exceptions=False
    )
    return result.exit_code, result.stdout


def test_a_store_moves_into_postgresql_whole_and_answers_there_as_before(
    data: Path, postgres_url: str, embedder: BundledE5Embedder
) -> None:
    services = build_services(Settings(data_dir=data), embedder=embedder)
    workspace = services.workspaces.get_workspace("default")
    services.releases.create(workspace.id, "test")  # a snapshot, with a keyword index of its own
    before = [services.answerer.answer(workspace.id, q) for q in QUESTIONS]  # recorded answers
    services.close()
    sqlite_before = backup.sha256_of(data / "zhiwen.sqlite3")

    code, out = _migrate(data, postgres_url, "--json")
    report = json.loads(out)
    tables = report["tables"]
    assert code == 0 and all(t["sqlite"] == t["postgresql"] for t in tables.values())
    assert tables["chunks"]["sqlite"] > 10 and tables["answers"]["sqlite"] == len(QUESTIONS)
    assert tables["keyword index"]["sqlite"] == tables["chunks"]["sqlite"]  # the working set and the release
    assert backup.sha256_of(data / "zhiwen.sqlite3") == sqlite_before, "the SQLite store is only read"

    moved = build_services(Settings(data_dir=data, database_url=postgres_url), embedder=embedder)
    try:
        after = [moved.answerer.answer(workspace.id, q, record=False) for q in QUESTIONS]
        assert [(a.text, round(a.confidence, 6)) for a in after] == [
            (b.text, round(b.confidence, 6)) for b in before
        ]
        assert len(moved.releases.list_releases(workspace.id)) == 1
        assert moved.answerer.answer(workspace.id, "退货要几天？").id not in {b.id for b in before}
    finally:
        moved.close()
    verified = CliRunner().invoke(
        app,
        ["--data-dir", str(data), "audit", "verify", "--json"],
        env={"ZHIWEN_DATABASE_URL": postgres_url},
        catch_exceptions=False,
    )
    assert verified.exit_code == 0, verified.stdout  # the audit log's chain survived the move


def test_migrate_refuses_a_database_holding_data_a_store_in_use_and_keeps_nothing_of_a_failed_copy(
    data: Path, postgres_url: str
) -> None:
    server = Database(data / "zhiwen.sqlite3")  # what `zhiwen serve` holds open
    try:
        with pytest.raises(Conflict, match="stop it first"):
            _migrate(data, postgres_url)
    finally:
        server.close()
    with pytest.raises(InvalidInput, match="postgresql:// URL"):
        _migrate(data, str(data / "zhiwen.sqlite3"))

    with closing(sqlite3.connect(data / "zhiwen.sqlite3")) as conn, conn:  # a value PostgreSQL refuses
        conn.execute("UPDATE chunks SET position = 'third' WHERE rowid = (SELECT max(rowid) FROM chunks)")
    with pytest.raises(InvalidInput, match="chunks: a row could not be copied, nothing was kept"):
        _migrate(data, postgres_url)
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM workspaces").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM documents").fetchone() == (0,)

    with closing(sqlite3.connect(data / "zhiwen.sqlite3")) as conn, conn:
        conn.execute("UPDATE chunks SET position = 3 WHERE position = 'third'")
    code, out = _migrate(data, postgres_url)
    assert code == 0 and "every table's count matches" in out and "ZHIWEN_DATABASE_URL" in out
    with pytest.raises(Conflict, match="already holds data"):
        _migrate(data, postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:  # another application's database
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(Conflict, match=r"already holds data \(invoices\)"):
        _migrate(data, postgres_url)
    moved = CliRunner().invoke(
        app,
        ["--data-dir", str(data), "migrate", "--to", postgres_url],
        env={"ZHIWEN_DATABASE_URL": postgres_url},
    )
    assert isinstance(moved.exception, InvalidInput) and "already on PostgreSQL" in moved.exception.message
