"""backup [create] | verify | list, restore, and migrate: copies of the store you can show to be whole."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from typer.core import TyperGroup

from zhiwen.cli.common import JsonOption, console, err_console, print_json, state
from zhiwen.config import Settings
from zhiwen.errors import InvalidInput
from zhiwen.services.answers.service import AnswerService
from zhiwen.services.backends import redacted
from zhiwen.services.trust import backup_check
from zhiwen.wiring import Services, build_services, move_to_postgresql
from zhiwen.wiring import store_backups as backup

_STATUS_STYLE = {"ok": "green", "failed": "red", "skipped": "dim"}


class _CreateByDefault(TyperGroup):
    """`zhiwen backup [FILE] [--dir DIR --keep N]` is `zhiwen backup create …`: the short form is the one
    cron runs, and `verify` and `list` stay subcommands beside it."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["create", *args]
        return super().parse_args(ctx, args)


backup_app = typer.Typer(
    cls=_CreateByDefault,
    help="Back up the store while it serves, verify a backup, list backups. `zhiwen backup` alone makes "
    "one in <data dir>/backups; `zhiwen restore FILE` puts one back.\n\n"
    "Example (nightly, two weeks kept): zhiwen backup --dir /var/backups/zhiwen --keep 14",
)


def _embedded_store(command: str) -> Settings:
    """The settings, when the store is the embedded SQLite file these commands copy."""
    settings = state.settings()
    if settings.database_url is not None:
        raise InvalidInput(
            f"{command}: the store is on PostgreSQL (ZHIWEN_DATABASE_URL); use PostgreSQL's own tools"
            " (pg_dump and pg_restore, or continuous archiving: docs/deployment.md), and keep the data"
            " dir's master.key apart"
        )
    return settings


def register(app: typer.Typer) -> None:
    app.add_typer(backup_app, name="backup")
    app.command()(restore)
    app.command()(migrate)


@backup_app.command("create")
def create(
    file: Path | None = typer.Argument(
        None, help="Where to write it (default <data dir>/backups/zhiwen-YYYYmmdd-HHMMSS.sqlite3, UTC)."
    ),
    folder: Path | None = typer.Option(
        None, "--dir", help="Write a timestamped backup into this folder (instead of FILE)."
    ),
    keep: int | None = typer.Option(
        None,
        "--keep",
        min=1,
        help="After a successful backup, delete the oldest timestamped backups in the folder beyond this "
        "many (other files are never touched).",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Back up the store while the server keeps serving (what `zhiwen backup` alone does).

    The copy is a consistent snapshot, checked with SQLite's integrity check, with a manifest beside it
    (FILE.json: versions, SHA-256, row counts). An interrupted backup leaves no file that looks complete.
    The master key is not copied: back it up apart.

    Example: zhiwen backup --dir /var/backups/zhiwen --keep 14"""
    state.opened_store = True  # a backup is recorded in the audit log, like every change
    settings = _embedded_store("backup")
    if file is not None and folder is not None:
        raise InvalidInput("backup: give FILE or --dir, not both")
    if file is not None and keep is not None:
        raise InvalidInput(
            "backup: --keep prunes a folder of timestamped backups; use it with --dir, not FILE"
        )
    folder = folder if file is None and folder is not None else settings.data_dir / "backups"
    target = file if file is not None else backup.default_target(folder)
    with _bar(f"Backing up to {target.name}", quiet=as_json) as progress:
        manifest = backup.create_backup(settings.db_path, target, progress)
    pruned = backup.prune(folder, keep) if keep is not None else []
    if as_json:
        print_json({**manifest, "path": str(target), "pruned": [str(p) for p in pruned]})
        return
    megabytes = manifest["bytes"] / 1e6
    tables = manifest["tables"]
    console.print(
        f"Backed up {settings.db_path} (schema {manifest['schema_version']}) to [bold]{target}[/]\n"
        f"  {megabytes:,.1f} MB in {manifest['seconds']:.1f} s; integrity check ok; "
        f"{tables.get('documents', 0):,} documents, {tables.get('chunks', 0):,} chunks, "
        f"{tables.get('answers', 0):,} answers\n"
        f"  manifest {backup.manifest_path(target).name} (sha256 {manifest['sha256'][:16]}…)",
        soft_wrap=True,  # paths stay whole, ready to copy (a pipe is 80 columns wide)
    )
    for path in pruned:
        console.print(f"  pruned {path.name}")
    console.print(_master_key_note(settings.data_dir), soft_wrap=True)


@backup_app.command("verify")
def verify(
    file: Path = typer.Argument(..., help="The backup file (its manifest FILE.json beside it)."),
    against: Path | None = typer.Option(
        None,
        "--against",
        help="The data dir the backup was taken from: its answers must be identical to the restored copy's.",
    ),
    questions: int = typer.Option(
        backup_check.DEFAULT_QUESTIONS,
        "--questions",
        min=1,
        help="How many of the most recent distinct questions in the backup to ask.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Show that a backup restores and answers as the store did; exits 1 if any check fails.

    Its SHA-256 matches the manifest, SQLite's integrity check passes, the row counts match, it opens (and
    migrates) as a store in a scratch data dir, `zhiwen check` finds nothing, and it answers the backup's
    own recent questions. With --against the same questions go to that store too and the answers must be
    identical (text, citations, confidence). Nothing is changed anywhere.

    Example: zhiwen backup verify zhiwen-data/backups/zhiwen-20260101-020000.sqlite3 --against zhiwen-data"""
    if against is not None and not (against / "zhiwen.sqlite3").is_file():
        raise InvalidInput(f"verify: --against {against} holds no store (no zhiwen.sqlite3 in it)")
    replayed: list[backup_check.Replayed] = []
    with tempfile.TemporaryDirectory(prefix="zhiwen-verify-") as scratch:
        checks, _ = backup.verify_file(file)
        restored_db = Path(scratch) / "zhiwen.sqlite3"
        if _status(checks, "integrity") == "ok":
            checks += backup.open_copy(file, restored_db)
        else:
            checks.append(backup.Check("opens", "skipped", "the file is not a readable store"))
        if _status(checks, "opens") == "ok":
            replayed = _replay(restored_db, against, questions, quiet=as_json)
            passed, detail = backup_check.summary(replayed, compared=against is not None)
            checks.append(backup.Check("answers", "ok" if passed else "failed", detail))
        else:
            checks.append(backup.Check("answers", "skipped", "the copy did not open as a store"))
    ok = all(c.status != "failed" for c in checks)
    if as_json:
        print_json(
            {
                "file": str(file),
                "ok": ok,
                "checks": [c.to_dict() for c in checks],
                "answers": _dicts(replayed),
            }
        )
    else:
        _print_checks(file, checks, replayed, against is not None)
    if not ok:
        raise typer.Exit(1)


@backup_app.command("list")
def list_backups(
    folder: Path | None = typer.Option(None, "--dir", help="Folder of backups (default <data dir>/backups)."),
    as_json: bool = JsonOption,
) -> None:
    """The timestamped backups in a folder, newest first, as their manifests describe them."""
    folder = folder or state.settings().data_dir / "backups"
    listed = backup.list_backups(folder)
    if as_json:
        print_json(listed)
        return
    if not listed:
        console.print(f"No backups in {folder}. Make one with `zhiwen backup`.")
        return
    table = Table("file", "created", "MB", "schema", "chunks", "sha256")
    for entry in listed:
        manifest = entry["manifest"] or {}
        table.add_row(
            Path(entry["path"]).name,
            str(manifest.get("created_at", "[red]no manifest[/]")),
            f"{entry['bytes'] / 1e6:,.1f}",
            str(manifest.get("schema_version", "")),
            f"{manifest.get('tables', {}).get('chunks', 0):,}" if manifest else "",
            str(manifest.get("sha256", ""))[:12],
        )
    console.print(table)


def restore(
    file: Path = typer.Argument(..., help="The backup file (its manifest FILE.json beside it)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = JsonOption,
) -> None:
    """Put a backup in place of the store (stop `zhiwen serve` first).

    Refuses when the file does not match its manifest's SHA-256, or while the store is open. The current
    store is kept beside it as zhiwen.sqlite3.before-restore-<time>; an older backup is migrated to this
    version. The master key is not in backups: put it back too (ZHIWEN_MASTER_KEY or <data
    dir>/master.key).

    Example: zhiwen restore /var/backups/zhiwen/zhiwen-20260101-020000.sqlite3"""
    settings = _embedded_store("restore")  # never state.services(): this process must not hold the store open
    plan = backup.plan_restore(file, settings.db_path)
    chunks = plan.manifest["tables"].get("chunks", 0)
    if not yes:
        keeping = f"; the current store is kept as {plan.keep_as.name}" if plan.keep_as else ""
        typer.confirm(
            f"Restore {file.name} (made {plan.manifest.get('created_at', '?')}, {chunks:,} chunks) into "
            f"{settings.data_dir}{keeping}?",
            abort=True,
            err=True,
        )
    with _bar(f"Restoring {file.name}", quiet=as_json) as progress:
        result = backup.restore(plan, progress)
    state.opened_store = True  # recorded in the audit log of the store now in place (it rewound the log)
    if as_json:
        print_json(result)
        return
    tables, schema = result["tables"], result["schema_version"]
    console.print(
        f"Restored {file} (made {result['created_at']}) into [bold]{result['into']}[/]\n"
        f"  schema {schema['backup']}"
        + (f" → {schema['now']} (migrated)" if schema["now"] != schema["backup"] else "")
        + f"; {tables.get('documents', 0):,} documents, {tables.get('chunks', 0):,} chunks,"
        f" {tables.get('answers', 0):,} answers"
    )
    if result["kept_as"]:
        console.print(f"  the store it replaced is kept as {result['kept_as']}")
    console.print("Start the server again; `zhiwen check` confirms the store is whole.")
    console.print(_master_key_note(settings.data_dir, restoring=True), soft_wrap=True)


def migrate(
    to: str = typer.Option(
        ..., "--to", help="The empty PostgreSQL database to move into: postgresql://user:password@host/db"
    ),
    as_json: bool = JsonOption,
) -> None:
    """Move the SQLite store into PostgreSQL (stop `zhiwen serve` first).

    Copies every table whole in one transaction and the keyword index as it is, then compares the row
    counts of every table: a failure keeps no row in PostgreSQL (the empty schema stays; migrate again).
    The SQLite file is only read; to go back, unset ZHIWEN_DATABASE_URL. Keep the data dir: its master.key
    reads the secrets, and uploads are spooled there.

    Example: zhiwen migrate --to postgresql://zhiwen:secret@db.internal:5432/zhiwen"""
    settings = state.settings()  # never state.services(): the store is copied, not opened for work
    if settings.database_url is not None:
        raise InvalidInput(
            "migrate: ZHIWEN_DATABASE_URL is set, so the store is already on PostgreSQL; the data dir's"
            " SQLite file is not what serves. Unset it to move that file."
        )
    if not to.startswith(("postgresql://", "postgres://")):
        raise InvalidInput(f"--to must be a postgresql:// URL, not {redacted(to)!r}")
    started = time.perf_counter()
    with _bar("Copying", quiet=as_json) as progress:
        tables = move_to_postgresql(
            settings, to, lambda table, done, total: progress(done / total if total else 1.0, table)
        )
    seconds = round(time.perf_counter() - started, 1)
    if as_json:
        print_json(
            {
                "from": str(settings.db_path),
                "to": redacted(to),
                "seconds": seconds,
                "tables": {name: {"sqlite": source, "postgresql": target} for name, source, target in tables},
            }
        )
        return
    rows = sum(source for _, source, _ in tables)
    table = Table("table", "SQLite", "PostgreSQL", title=f"{settings.db_path} → {redacted(to)}")
    for name, source, target in tables:
        if source:
            table.add_row(name, f"{source:,}", f"{target:,}")
    console.print(table, soft_wrap=True)
    console.print(
        f"Moved {rows:,} rows in {seconds:.1f} s; every table's count matches (empty tables not shown).\n"
        "Next: set ZHIWEN_DATABASE_URL to that URL and start `zhiwen serve` with the same data dir"
        " (its master.key reads the secrets). The SQLite file is unchanged: to go back, unset"
        " ZHIWEN_DATABASE_URL (what was written in PostgreSQL meanwhile stays there only).",
        soft_wrap=True,
    )


def _replay(restored_db: Path, against: Path | None, limit: int, quiet: bool) -> list[backup_check.Replayed]:
    """Ask the backup's recent questions of the restored copy (and of ``against``), through the same
    services `zhiwen serve` builds, with the same settings except the data dir and no LLM."""
    asked = backup.sample_questions(restored_db, limit)
    # The copies are SQLite files: never the configured database, nor an LLM.
    base = state.settings().model_copy(update={"llm_base_url": None, "llm_gguf": None, "database_url": None})
    restored = build_services(base.model_copy(update={"data_dir": restored_db.parent}))
    original: Services | None = None
    try:
        if against is not None:
            original = build_services(
                base.model_copy(update={"data_dir": against}), embedder=restored.embedder
            )
        with _bar("Asking", quiet=quiet) as progress:
            return backup_check.replay(
                asked,
                _answerer(restored),
                _answerer(original) if original is not None else None,
                lambda done: progress(done / max(len(asked), 1)),
            )
    finally:
        if original is not None:
            original.close()
        restored.close()


def _status(checks: list[backup.Check], name: str) -> str:
    return next((c.status for c in checks if c.name == name), "skipped")


def _answerer(services: Services) -> AnswerService:
    return backup_check.knowledge_answerer(
        services.retriever, services.answers, services.targets, services.settings.max_question_chars
    )


def _print_checks(
    file: Path, checks: list[backup.Check], replayed: list[backup_check.Replayed], compared: bool
) -> None:
    table = Table("check", "", "detail", title=str(file), title_justify="left")
    for check in checks:
        style = _STATUS_STYLE[check.status]
        table.add_row(check.name, f"[{style}]{check.status}[/]", check.detail)
    console.print(table)
    shown = [r for r in replayed if r.same is not True] if compared else replayed
    for item in shown:
        answer = item.restored or {}
        console.print(f"[bold]{item.question}[/]  ({item.workspace_id})")
        if item.error:
            console.print(f"  [red]{item.error}[/]")
        elif compared:
            console.print(f"  restored: {_brief(item.restored)}\n  original: {_brief(item.original)}")
        else:
            console.print(f"  {_brief(answer)}")
    failed = [c.name for c in checks if c.status == "failed"]
    if failed:
        err_console.print(f"[red]The backup failed: {', '.join(failed)}.[/] Use another backup.")
    else:
        console.print("[green]The backup restores and answers.[/]")


def _brief(answer: dict[str, Any] | None) -> str:
    if answer is None:
        return "(none)"
    text = " ".join(str(answer["text"]).split())
    text = text if len(text) <= 80 else text[:79] + "…"
    cited = ", ".join(str(c[3]) for c in answer["citations"]) or "no citation"
    return f"{text}  [dim]({answer['mode']}, confidence {answer['confidence']}, {cited})[/]"


def _dicts(replayed: list[backup_check.Replayed]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in replayed]


def _master_key_note(data_dir: Path, restoring: bool = False) -> str:
    """The one thing a backup deliberately lacks, said once per command in human output."""
    where = (
        "ZHIWEN_MASTER_KEY"
        if os.environ.get("ZHIWEN_MASTER_KEY")
        else f"{data_dir / 'master.key'}"
        if (data_dir / "master.key").exists()
        else f"ZHIWEN_MASTER_KEY or {data_dir / 'master.key'}"
    )
    if restoring:
        return (
            f"[yellow]Note:[/] the master key ({where}) is not in backups; the stored secrets (webhook"
            " secrets, tools' tokens) open only with the key that sealed them."
        )
    return (
        f"[yellow]Note:[/] the master key ({where}) is not in the backup, on purpose: back it up separately"
        " and keep it apart. Without it the secrets stored in this backup (webhook secrets, tools' tokens)"
        " cannot be read."
    )


@contextmanager
def _bar(label: str, quiet: bool) -> Iterator[Callable[..., None]]:
    """A bar on stderr fed by a fraction and, optionally, what it is working on now (none with --json,
    whose stdout is one document)."""
    if quiet:
        yield lambda fraction, now=None: None
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )
    with progress:
        task = progress.add_task(label, total=1.0)

        def update(fraction: float, now: str | None = None) -> None:
            progress.update(task, completed=fraction, description=f"{label} {now}" if now else label)

        yield update
