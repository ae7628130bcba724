"""Backups of the SQLite store: an online copy with its manifest, checks of a backup file, and restore.

A backup is one SQLite file plus ``<file>.json``, its manifest (Zhiwen and schema versions, when, the
file's SHA-256 and the row count of every table). The copy is taken with SQLite's online backup API from
a connection of its own that holds one read transaction for the whole copy: in WAL mode writers carry on
meanwhile, and the copy is the store as it was at that transaction's start (without it, every commit by
the server would restart the copy, and a busy server could keep it from ever finishing).

What is *not* in a backup: the master key (``ZHIWEN_MASTER_KEY`` or ``data_dir/master.key``), which
seals the stored secrets and must be kept apart from the data it protects, and the upload spool
(``data_dir/spool``), which only holds uploads still being ingested.

This is the SQLite backend's business; the PostgreSQL backend, when there is one, will use ``pg_dump``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from zhiwen import __version__
from zhiwen.errors import Conflict, CorruptFile, InvalidInput, NotFound, ZhiwenError
from zhiwen.stores.sqlite import integrity
from zhiwen.stores.sqlite.db import MIGRATIONS, Database
from zhiwen.stores.sqlite.keyword import SqliteKeywordIndex

# zhiwen-20250131-020000.sqlite3, and zhiwen-20250131-020000-2.sqlite3 for a second one in that second.
# Times are UTC, so names sort in time order across daylight-saving changes.
BACKUP_NAME = re.compile(r"zhiwen-(\d{8})-(\d{6})(?:-(\d+))?\.sqlite3")
MANIFEST_FORMAT = 1
# 1,024 pages (4 MiB at SQLite's default page size) per step: progress moves several times a second on a
# slow disk, and the per-step overhead stays negligible.
PAGES_PER_STEP = 1024
_FTS5_SHADOWS = ("_data", "_idx", "_content", "_docsize", "_config")
_HASH_BLOCK = 1 << 20

Progress = Callable[[float], None]
Status = Literal["ok", "failed", "skipped"]


@dataclass(frozen=True)
class Check:
    """One step of verifying a backup, in words an operator can act on."""

    name: str
    status: Status
    detail: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class RestorePlan:
    """A backup that passed the checks a restore makes before asking for confirmation."""

    backup: Path
    manifest: dict[str, Any]
    db_path: Path
    keep_as: Path | None  # where the current store will be kept (None: there is none)


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + ".json")


def timestamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")


def default_target(folder: Path, now: datetime | None = None) -> Path:
    """A new timestamped file name in ``folder`` that no backup (or manifest) has yet."""
    stamp = timestamp(now)
    candidate, number = folder / f"zhiwen-{stamp}.sqlite3", 2
    while candidate.exists() or manifest_path(candidate).exists():
        candidate, number = folder / f"zhiwen-{stamp}-{number}.sqlite3", number + 1
    return candidate


def create_backup(
    db_path: Path,
    target: Path,
    progress: Progress | None = None,
    pages_per_step: int = PAGES_PER_STEP,
) -> dict[str, Any]:
    """Copy the store at ``db_path`` to ``target`` while it keeps serving; returns the manifest.

    The copy is written to a hidden temporary file beside ``target``, checked (``PRAGMA integrity_check``)
    and renamed into place only once whole, after its manifest: an interrupted or refused backup never
    leaves a file that looks complete.
    """
    if not db_path.is_file():
        raise NotFound(
            f"backup: there is no store at {db_path}; pass the store's --data-dir (or ZHIWEN_DATA_DIR)"
        )
    if target.exists():
        raise Conflict(f"backup: {target} exists already; choose another file name or remove it first")
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
    # Readable by this user only from its first byte, like the key hashes and conversations it holds.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    manifest_file = manifest_path(target)
    started, taken = time.perf_counter(), datetime.now(UTC)
    try:
        try:
            with closing(_connect_source(db_path)) as source, closing(_connect(partial)) as copy:
                source.execute("BEGIN")
                schema = _zhiwen_schema(source, f"backup: {db_path}")  # the snapshot starts here
                source.backup(
                    copy,
                    pages=pages_per_step,
                    progress=lambda _status, remaining, total: _report(progress, remaining, total),
                )
                source.execute("COMMIT")
                # One self-contained file: no -wal or -shm is needed to read it, even from a read-only disk.
                copy.execute("PRAGMA journal_mode = DELETE")
                problems = _integrity(copy)
                counts = table_counts(copy)
        except sqlite3.DatabaseError as error:
            if "not a database" in str(error) or "malformed" in str(error):
                raise CorruptFile(f"backup: cannot read {db_path} ({error}); run `zhiwen check`") from None
            raise ZhiwenError(f"backup: copying {db_path} to {target} failed ({error})") from None
        if problems:
            raise CorruptFile(
                f"backup: the copy of {db_path} fails SQLite's integrity check ({'; '.join(problems)});"
                " nothing was written. Run `zhiwen check` on the store"
            )
        _fsync(partial)
        manifest = {
            "format": MANIFEST_FORMAT,
            "file": target.name,
            "zhiwen_version": __version__,
            "schema_version": schema,
            "created_at": taken.isoformat(timespec="seconds"),  # when the snapshot was taken
            "source": str(db_path.resolve()),
            "bytes": partial.stat().st_size,
            "sha256": sha256_of(partial),
            "tables": counts,
            "seconds": round(time.perf_counter() - started, 3),
        }
        _write_atomically(manifest_file, json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
        os.replace(partial, target)
        _fsync_folder(target.parent)
        return manifest
    except BaseException:
        if not target.exists():
            manifest_file.unlink(missing_ok=True)
        _remove_database(partial)
        raise


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete the oldest timestamped backups in ``folder`` beyond the newest ``keep``, each with its
    manifest; returns what was deleted. Only files named like our backups are touched."""
    if keep < 1:
        raise InvalidInput("--keep must be at least 1 (the backup just made)")
    backups = sorted(_named_backups(folder), key=_age_key, reverse=True)
    removed = []
    for backup in backups[keep:]:
        backup.unlink()
        manifest_path(backup).unlink(missing_ok=True)
        removed.append(backup)
    return removed


def list_backups(folder: Path) -> list[dict[str, Any]]:
    """The timestamped backups in ``folder``, newest first, as their manifests describe them (the files
    are not hashed here: that is what verifying does)."""
    listed = []
    for backup in sorted(_named_backups(folder), key=_age_key, reverse=True):
        entry: dict[str, Any] = {"path": str(backup), "bytes": backup.stat().st_size, "manifest": None}
        with suppress(OSError, ValueError, InvalidInput):
            entry["manifest"] = read_manifest(backup)
        listed.append(entry)
    return listed


def read_manifest(backup: Path) -> dict[str, Any]:
    path = manifest_path(backup)
    if not path.is_file():
        raise InvalidInput(
            f"{backup} has no manifest ({path.name} beside it): without it the file cannot be shown to be"
            " the backup that was made; copy the manifest along with the backup"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidInput(f"{path} is not a backup manifest ({error})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("sha256"), str):
        raise InvalidInput(f"{path} is not a backup manifest (no sha256)")
    if not isinstance(manifest.get("tables"), dict) or not isinstance(manifest.get("schema_version"), int):
        raise InvalidInput(f"{path} is not a backup manifest (no tables or schema_version)")
    return manifest


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows per table: ordinary tables and FTS5 tables (their rows are the indexed chunks); SQLite's own
    tables, FTS5's shadow tables and fts5vocab views are left out, since they follow from the others."""
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    tables = {str(name): str(sql or "") for name, sql in rows}
    virtual = {name for name, sql in tables.items() if sql.upper().startswith("CREATE VIRTUAL TABLE")}
    shadows = {name + suffix for name in virtual for suffix in _FTS5_SHADOWS}
    counted = sorted(
        name
        for name, sql in tables.items()
        if name not in shadows and (name not in virtual or re.search(r"USING\s+fts5\s*\(", sql, re.I))
    )
    return {
        name: int(conn.execute(f"SELECT count(*) FROM {_quoted(name)}").fetchone()[0]) for name in counted
    }


def verify_file(backup: Path) -> tuple[list[Check], dict[str, Any] | None]:
    """The checks a backup file can pass on its own: its manifest, its SHA-256, SQLite's integrity check
    and the row counts. Returns them with the manifest (None when it is missing or unreadable)."""
    _require_file(backup, "verify")
    checks = []
    manifest: dict[str, Any] | None
    try:
        manifest = read_manifest(backup)
        checks.append(
            Check(
                "manifest",
                "ok",
                f"made by Zhiwen {manifest.get('zhiwen_version', '?')} at {manifest.get('created_at', '?')},"
                f" schema {manifest['schema_version']}",
            )
        )
    except InvalidInput as error:
        manifest = None
        checks.append(Check("manifest", "failed", error.message))
    digest = sha256_of(backup)
    if manifest is None:
        checks.append(Check("sha256", "skipped", f"{digest} (no manifest to compare with)"))
    elif digest == manifest["sha256"]:
        checks.append(Check("sha256", "ok", f"{digest} matches the manifest"))
    else:
        checks.append(Check("sha256", "failed", _changed(backup, digest, manifest["sha256"])))
    try:
        with closing(_connect_read_only(backup)) as conn:
            problems = _integrity(conn)
            if problems:
                checks.append(Check("integrity", "failed", "; ".join(problems)))
                return [*checks, Check("counts", "skipped", "the file is damaged")], manifest
            schema = _zhiwen_schema(conn, str(backup))
            checks.append(Check("integrity", "ok", f"SQLite integrity check passed; schema {schema}"))
            counts = table_counts(conn)
    except (sqlite3.DatabaseError, InvalidInput) as error:
        detail = error.message if isinstance(error, InvalidInput) else _unreadable(backup, error)
        checks.append(Check("integrity", "failed", detail))
        return [*checks, Check("counts", "skipped", "the file cannot be read as a store")], manifest
    if manifest is None:
        checks.append(
            Check("counts", "skipped", f"{sum(counts.values()):,} rows; no manifest to compare with")
        )
    else:
        checks.append(_compare_counts(counts, manifest["tables"]))
    return checks, manifest


def open_copy(backup: Path, db_path: Path) -> list[Check]:
    """Copy ``backup`` to ``db_path`` (a scratch data dir) and open it as Zhiwen opens its store: the
    migrations bring an older backup up to this version. Then Zhiwen's own consistency checks
    (`zhiwen check`) run on it."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(backup, db_path)
    try:
        with closing(_connect_read_only(db_path)) as conn:
            before = _zhiwen_schema(conn, str(backup))
        db = Database(db_path)
    except (sqlite3.DatabaseError, InvalidInput) as error:
        detail = error.message if isinstance(error, InvalidInput) else _unreadable(backup, error)
        return [Check("opens", "failed", detail), Check("consistent", "skipped", "it did not open")]
    try:
        after = db.schema_version
        opened = Check(
            "opens",
            "ok",
            f"schema {before} → {after} (migrated)"
            if after != before
            else f"schema {after}, no migration needed",
        )
        found = integrity.problems(db, SqliteKeywordIndex(db))
    finally:
        db.close()
    if found:
        shown = "; ".join(found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
        return [opened, Check("consistent", "failed", shown)]
    return [opened, Check("consistent", "ok", "`zhiwen check` finds no problem")]


def sample_questions(db_path: Path, limit: int) -> list[tuple[str, str]]:
    """(workspace id, question) pairs to ask a restored store: the most recent distinct questions its
    answers table holds, or else the first FAQ questions and passage headings of its knowledge."""
    with closing(_connect_read_only(db_path)) as conn:
        rows = conn.execute(
            "SELECT a.workspace_id, a.question FROM answers a"
            " JOIN workspaces w ON w.id = a.workspace_id AND w.snapshot_of IS NULL"
            " GROUP BY a.workspace_id, a.question ORDER BY max(a.created_at) DESC LIMIT ?",
            (limit,),
        ).fetchall()
        if not rows:
            rows = conn.execute(
                "SELECT c.workspace_id, coalesce(nullif(c.question, ''), c.title_path) AS q FROM chunks c"
                " JOIN workspaces w ON w.id = c.workspace_id AND w.snapshot_of IS NULL"
                " WHERE q != '' GROUP BY c.workspace_id, q ORDER BY min(c.rowid) LIMIT ?",
                (limit,),
            ).fetchall()
    return [(str(workspace), str(question)) for workspace, question in rows]


def in_use(db_path: Path) -> bool:
    """Whether any other connection has the store open: a running ``zhiwen serve`` or its worker, or
    another ``zhiwen`` command, in this process or another.

    The server writes no pid or lock file, and one could be stale anyway; SQLite's own locks are the
    truth. Every connection to a WAL database holds a shared lock on the file for as long as it is open,
    even when idle, so only a connection that is alone gets an exclusive lock (``locking_mode =
    EXCLUSIVE`` and ``BEGIN EXCLUSIVE``). ``BEGIN EXCLUSIVE`` by itself would not do: in WAL mode it
    waits only for writers, and an idle server is not writing.
    """
    if not db_path.exists():
        return False
    try:
        with alone(db_path):
            return False
    except Conflict:
        return True
    except sqlite3.DatabaseError:  # not a database at all: nothing can be serving from it
        return False


def plan_restore(backup: Path, db_path: Path, now: datetime | None = None) -> RestorePlan:
    """What a restore would do, after the checks that can refuse it without touching anything: the file
    is there, its manifest is, and its SHA-256 matches; no one has the current store open."""
    _require_file(backup, "restore")
    manifest = read_manifest(backup)
    digest = sha256_of(backup)
    if digest != manifest["sha256"]:
        raise CorruptFile(f"restore: {_changed(backup, digest, manifest['sha256'])}; nothing was changed")
    _refuse_if_newer(int(manifest["schema_version"]), backup)
    if in_use(db_path):
        raise Conflict(_running(db_path))
    keep_as = (
        db_path.with_name(f"{db_path.name}.before-restore-{timestamp(now)}") if db_path.exists() else None
    )
    return RestorePlan(backup, manifest, db_path, keep_as)


def restore(plan: RestorePlan, progress: Progress | None = None) -> dict[str, Any]:
    """Put the backup in place of the store, keeping the current one as ``keep_as``.

    The backup is copied (and hashed again while copying) to a temporary file beside the store, checked
    and migrated there by opening it with :class:`Database`, and only then renamed over the store: the
    rename is atomic, so the store is at every moment either the old one or the restored one. The old
    one is checkpointed first (its WAL folded into the file) and kept by a hard link, or a copy where the
    file system has none.
    """
    db_path = plan.db_path
    db_path.parent.mkdir(parents=True, exist_ok=True)
    staged = db_path.with_name(f".{db_path.name}.restore-{secrets.token_hex(4)}")
    try:
        digest = _copy_hashing(plan.backup, staged, progress)
        if digest != plan.manifest["sha256"]:
            raise CorruptFile(f"restore: {_changed(plan.backup, digest, plan.manifest['sha256'])}")
        with closing(_connect(staged)) as conn:
            try:
                problems = _integrity(conn)
                before = _zhiwen_schema(conn, str(plan.backup))
            except sqlite3.DatabaseError as error:
                raise CorruptFile(
                    f"restore: {_unreadable(plan.backup, error)}; nothing was changed"
                ) from None
        if problems:
            raise CorruptFile(
                f"restore: {plan.backup} fails SQLite's integrity check ({'; '.join(problems)})"
            )
        _refuse_if_newer(before, plan.backup)  # the file's own word, not only its manifest's
        db = Database(staged)
        after = db.schema_version
        db.close()
        if db_path.exists():
            _checkpoint(db_path)
            if Path(f"{db_path}-wal").exists():  # someone opened it since: a WAL must never be orphaned
                raise Conflict(_running(db_path))
            assert plan.keep_as is not None
            _keep(db_path, plan.keep_as)
        Path(f"{db_path}-shm").unlink(missing_ok=True)
        os.replace(staged, db_path)
        _fsync_folder(db_path.parent)
    finally:
        _remove_database(staged)
    with closing(_connect_read_only(db_path)) as conn:
        counts = table_counts(conn)
    return {
        "restored": str(plan.backup),
        "into": str(db_path),
        "kept_as": str(plan.keep_as) if plan.keep_as else None,
        "created_at": plan.manifest.get("created_at"),
        "schema_version": {"backup": before, "now": after},
        "tables": counts,
    }


def _report(progress: Progress | None, remaining: int, total: int) -> None:
    if progress is not None:
        progress(1.0 if total <= 0 else (total - remaining) / total)


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(str(path), isolation_level=None)


def _connect_source(db_path: Path) -> sqlite3.Connection:
    """A connection of the backup's own (never the server's), which may not create a missing file."""
    conn = sqlite3.connect(db_path.resolve().as_uri() + "?mode=rw", uri=True, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """``immutable``: nothing is written beside the file (no -wal, no -shm), so reading a backup never
    changes it or needs a writable folder."""
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro&immutable=1", uri=True, isolation_level=None)


@contextmanager
def alone(db_path: Path) -> Iterator[sqlite3.Connection]:
    """A connection holding the store's exclusive lock; Conflict when another connection has it open."""
    conn = sqlite3.connect(str(db_path), isolation_level=None, timeout=0.5)
    try:
        try:
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute("COMMIT")
        except sqlite3.OperationalError as error:
            if "locked" in str(error) or "busy" in str(error):
                raise Conflict(_running(db_path)) from None
            raise
        yield conn
    finally:
        conn.close()


def _checkpoint(db_path: Path) -> None:
    """Fold the store's WAL into its file, so the file alone is the whole store and no WAL is left to be
    read with the restored file by mistake."""
    # An unreadable store (perhaps why it is being restored) has no WAL to fold in: it is kept as it is.
    with suppress(sqlite3.DatabaseError), alone(db_path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _running(db_path: Path) -> str:
    return (
        f"the store in {db_path.parent} is open in another process (a running `zhiwen serve` or its"
        " worker, or another zhiwen command); stop it first"
    )


def _zhiwen_schema(conn: sqlite3.Connection, what: str) -> int:
    """The schema version of a Zhiwen store; InvalidInput for any other SQLite file."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'workspaces'"
    ).fetchone()
    if version < 1 or found is None:
        raise InvalidInput(f"{what} is a SQLite database but not a Zhiwen store")
    return version


def _refuse_if_newer(schema: int, backup: Path) -> None:
    if schema > len(MIGRATIONS):
        raise InvalidInput(
            f"{backup} has schema {schema}, newer than this Zhiwen {__version__} knows ({len(MIGRATIONS)});"
            " upgrade Zhiwen first"
        )


def _integrity(conn: sqlite3.Connection) -> list[str]:
    return [str(row[0]) for row in conn.execute("PRAGMA integrity_check(20)") if row[0] != "ok"]


def _compare_counts(counts: dict[str, int], expected: dict[str, Any]) -> Check:
    differences = [
        f"{name}: {counts.get(name, 'missing')} rows, manifest {expected.get(name, 'none')}"
        for name in sorted(set(counts) | set(expected))
        if counts.get(name) != expected.get(name)
    ]
    if differences:
        shown = "; ".join(differences[:5]) + (
            f"; and {len(differences) - 5} more" if len(differences) > 5 else ""
        )
        return Check("counts", "failed", shown)
    return Check("counts", "ok", f"{len(counts)} tables, {sum(counts.values()):,} rows, as the manifest says")


def _changed(backup: Path, digest: str, expected: str) -> str:
    return (
        f"{backup} was changed or damaged after the backup: its sha256 is {digest[:16]}…, the manifest says"
        f" {expected[:16]}…; use another backup"
    )


def _unreadable(backup: Path, error: sqlite3.DatabaseError) -> str:
    return f"{backup} is not a readable SQLite database ({error}): it is truncated, damaged or another file"


def _require_file(backup: Path, command: str) -> None:
    if not backup.is_file():
        raise NotFound(f"{command}: there is no file {backup}; `zhiwen backup list` shows the backups")
    if backup.stat().st_size == 0:
        raise CorruptFile(f"{command}: {backup} is empty (0 bytes): it is not a backup; use another one")


def _named_backups(folder: Path) -> Iterator[Path]:
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if BACKUP_NAME.fullmatch(path.name) and path.is_file():
            yield path


def _age_key(path: Path) -> tuple[str, str, int]:
    match = BACKUP_NAME.fullmatch(path.name)
    assert match is not None
    return match[1], match[2], int(match[3] or 1)


def _copy_hashing(source: Path, target: Path, progress: Progress | None) -> str:
    digest, total, done = hashlib.sha256(), max(source.stat().st_size, 1), 0
    with source.open("rb") as reader, target.open("wb") as writer:
        while block := reader.read(_HASH_BLOCK):
            digest.update(block)
            writer.write(block)
            done += len(block)
            if progress is not None:
                progress(done / total)
        writer.flush()
        os.fsync(writer.fileno())
    return digest.hexdigest()


def _keep(db_path: Path, keep_as: Path) -> None:
    try:
        os.link(db_path, keep_as)
    except OSError:
        shutil.copy2(db_path, keep_as)


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    try:
        with partial.open("w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _remove_database(path: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    with path.open("rb") as file:
        os.fsync(file.fileno())


def _fsync_folder(folder: Path) -> None:
    """A rename is durable once its folder is synced (where the OS lets a folder be opened)."""
    with suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
