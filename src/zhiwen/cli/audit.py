"""audit list|export|verify: the append-only log of every change, and recording the command line's own."""

from __future__ import annotations

import dataclasses
import getpass
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import typer
from rich.table import Table

from zhiwen.cli.common import (
    JsonOption,
    WorkspaceOption,
    console,
    err_console,
    print_json,
    state,
)
from zhiwen.services.trust.audit import export_lines
from zhiwen.types import AuditEntry, AuditQuery

audit_app = typer.Typer(
    help="The audit log: every change by a person, a key or the command line (who, what, when, from "
    "where), append-only and hash-chained. `zhiwen audit verify` proves nobody edited it.",
    no_args_is_help=True,
)
StoreWideOption = typer.Option(
    False, "--store-wide", help="The log of commands outside any workspace (init, workspace create)."
)

# Commands that only read: not changes, so not recorded (exports are recorded).
_READ_ONLY = frozenset(
    {"list", "show", "search", "ask", "check", "serve", "replay", "report", "compare", "thresholds",
     "history", "summary", "models", "gate", "for", "similar", "try", "queue", "ratings", "stats",
     "verify", "new-key", "retrieval", "answers"}
)  # fmt: skip


def _log_of(workspace: str, store_wide: bool) -> str:
    return "" if store_wide else state.workspace(workspace).id


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


def command_path(root: Any, args: Sequence[str]) -> list[str]:
    """The command's words ("release", "promote") without arguments or option values; ``root`` is the
    click command tree Typer built (groups have ``commands``)."""
    path: list[str] = []
    command = root
    for arg in args:
        subcommands = getattr(command, "commands", None)
        if arg.startswith("-"):
            if path:
                break
            continue  # a root option (--data-dir) before the command
        if subcommands is None or arg not in subcommands:
            if path:
                break
            continue  # the value of a root option
        command = subcommands[arg]
        path.append(arg)
    return path


def record_command(root: Any, args: Sequence[str], exit_code: int) -> None:
    """Append a changing command to the audit log of each workspace it used (or the store's own log).
    Only option names are kept, never values or arguments (they may be passwords or customers' words)."""
    path = command_path(root, args)
    if not state.opened_store or not path or path[-1] in _READ_ONLY or path[0] == "bench":
        return
    options = sorted({a.split("=", 1)[0] for a in args if a.startswith("--") and a != "--data-dir"})
    try:
        who = f"cli:{getpass.getuser()}@{socket.gethostname()}"
        audit = state.services().audit
        for workspace_id in sorted(state.used_workspaces) or [""]:
            audit.record(workspace_id, who, "cli " + " ".join(path), " ".join(options), exit_code, "cli")
    except Exception as failure:  # the command already ran: say the record is missing, do not hide its result
        err_console.print(f"[yellow]warning:[/yellow] not recorded in the audit log ({failure})")
    finally:
        state.close()


@audit_app.command("list")
def list_entries(
    actor: str | None = typer.Option(None, "--actor", help="Exactly, e.g. user:ann@shop.example."),
    action: str | None = typer.Option(None, "--action", help="A part of it, e.g. release or DELETE."),
    since: str | None = typer.Option(None, "--since", help="ISO date or time, inclusive: 2026-12-01."),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    workspace: str = WorkspaceOption,
    store_wide: bool = StoreWideOption,
    as_json: bool = JsonOption,
) -> None:
    """Newest first. Example: zhiwen audit list --action promote --since 2026-12-01"""
    query = AuditQuery(actor=actor, action=action, since=since, limit=limit)
    entries = state.services().audit.entries(_log_of(workspace, store_wide), query)
    if as_json:
        print_json([dataclasses.asdict(e) for e in entries])
        return
    table = Table("seq", "at (UTC)", "actor", "action", "target", "outcome", "from")
    for e in entries:
        table.add_row(str(e.seq), e.at[:19], e.actor, e.action, e.target, str(e.outcome), e.source)
    console.print(table)


@audit_app.command("export")
def export(
    out: Path = typer.Argument(..., help="File to write; .csv for CSV, anything else JSON Lines."),
    workspace: str = WorkspaceOption,
    store_wide: bool = StoreWideOption,
) -> None:
    """The whole log, oldest first, with the hashes, so the copy can be checked on its own."""
    written = 0

    def counted(entries: Iterator[AuditEntry]) -> Iterator[AuditEntry]:
        nonlocal written
        for entry in entries:  # a long log is streamed, never held whole
            written += 1
            yield entry

    format: Literal["jsonl", "csv"] = "csv" if out.suffix.lower() == ".csv" else "jsonl"
    with out.open("w", encoding="utf-8", newline="") as handle:
        handle.writelines(
            export_lines(counted(state.services().audit.export(_log_of(workspace, store_wide))), format)
        )
    console.print(f"{written} entries written to {out}.")


@audit_app.command("verify")
def verify(
    workspace: str = WorkspaceOption, store_wide: bool = StoreWideOption, as_json: bool = JsonOption
) -> None:
    """Recompute the hash chain. Exits 1 naming the first entry that was changed, removed or inserted.
    Keep the head hash it prints somewhere else: a later log must still contain it."""
    result = state.services().audit.verify(_log_of(workspace, store_wide))
    if as_json:
        print_json(dataclasses.asdict(result))
    elif result.ok:
        console.print(f"[green]ok[/green]: {result.entries} entries chain; head {result.head or '(empty)'}")
    else:
        console.print(f"[red]broken[/red] after {result.entries} good entries: {result.problem}")
    if not result.ok:
        sys.exit(1)
