"""What the command modules share: lazily built services, consoles, JSON output."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from zhiwen.config import Settings
from zhiwen.errors import InvalidInput
from zhiwen.types import Workspace
from zhiwen.wiring import Services, build_services

console = Console()
err_console = Console(stderr=True)


@dataclass
class _State:
    data_dir: str | None = None
    _services: Services | None = None
    used_workspaces: set[str] = field(default_factory=set)  # the audit log records a command in each
    opened_store: bool = False  # a command that never opened the store changed nothing to record

    def settings(self) -> Settings:
        settings = Settings()
        if self.data_dir:
            settings = settings.model_copy(update={"data_dir": Path(self.data_dir)})
        return settings

    def services(self) -> Services:
        if self._services is None:
            self._services = build_services(self.settings())
            self.opened_store = True
        return self._services

    def workspace(self, name: str) -> Workspace:
        workspace = self.services().workspaces.get_workspace(name)
        self.used_workspaces.add(workspace.id)
        return workspace

    def close(self) -> None:
        if self._services is not None:
            self._services.close()
            self._services = None


state = _State()


def read_input(path: Path) -> bytes:
    """The bytes of a file the command was given, or a clear error naming it ("no such file", a folder,
    no permission)."""
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    try:
        return path.read_bytes()
    except OSError as error:
        raise InvalidInput(f"{path}: cannot read it ({error.strerror})") from None


def print_json(value: Any) -> None:
    """The one JSON document a ``--json`` command prints on stdout."""
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


WORKSPACE_HELP = "Workspace name or id."
JSON_HELP = "Print one JSON document on stdout (progress goes to stderr)."
# The options nearly every command takes; one definition, so their flags and help read the same everywhere.
WorkspaceOption = typer.Option("default", "--workspace", "-w", help=WORKSPACE_HELP)
JsonOption = typer.Option(False, "--json", help=JSON_HELP)


def progress_bars() -> Progress:
    """Bars for long work, on stderr (so --json output stays clean), gone when done."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )


def step_bars(progress: Progress) -> Callable[[str, float], None]:
    """One bar per step of a long job ("embed", "search", …), each filled by its fraction."""
    tasks: dict[str, TaskID] = {}

    def update(step: str, fraction: float) -> None:
        label = step.split(" {")[0][:60]
        if label not in tasks:
            tasks[label] = progress.add_task(label, total=100)
        progress.update(tasks[label], completed=round(100 * fraction))

    return update


def figure(value: Any) -> str:
    """A model's figure in a table: four decimals, or a dash where it was not measured."""
    return "–" if value is None else f"{value:.4f}"


def print_verdict(verdict: dict[str, Any]) -> None:
    """A gate's verdict: live, or refused with each failure."""
    if verdict.get("passed"):
        console.print(f"[green]v{verdict['version']} is live.[/]")
        return
    console.print(f"[red]v{verdict['version']} refused by the gate:[/]")
    for failure in verdict.get("failures", []):
        console.print(f"  - {failure}")


def parse_minimums(pairs: Sequence[str], example: str) -> dict[str, float]:
    """``--min metric=value`` options as a mapping."""
    parsed = {}
    for item in pairs:
        name, _, value = item.partition("=")
        try:
            parsed[name.strip()] = float(value)
        except ValueError:
            raise InvalidInput(f"--min {item!r}: write it as metric=value, e.g. {example}") from None
    return parsed
