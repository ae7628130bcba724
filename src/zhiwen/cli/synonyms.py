"""synonyms list|add|remove|import: the words customers use for what the documents name otherwise."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import Progress
from rich.table import Table

from zhiwen.cli.common import (
    JsonOption,
    WorkspaceOption,
    console,
    print_json,
    read_input,
    state,
)
from zhiwen.cli.feedback import say_when_customers_see_it
from zhiwen.errors import InvalidInput
from zhiwen.services.answers.synonyms import said_key, synonyms_from_file
from zhiwen.services.knowledge.vocabulary import synonym_warnings

synonyms_app = typer.Typer(
    help="Synonyms: the words your customers use (白金会员, 价保, postage) for what your documents name "
    "otherwise (铂金卡, 价格保护, shipping). A question is searched and read in the documents' words.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(synonyms_app, name="synonyms")


def _show(synonyms: dict[str, str], as_json: bool) -> None:
    if as_json:
        print_json({"synonyms": synonyms})
        return
    if not synonyms:
        console.print("No synonyms yet. Add one: zhiwen synonyms add 铂金卡 白金会员")
        return
    table = Table("customers say", "documents say")
    for said, written in sorted(synonyms.items(), key=lambda item: (item[1], item[0])):
        table.add_row(said, written)
    console.print(table)


@synonyms_app.command("list")
def synonyms_list(workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """Every synonym of the working settings (what the next release freezes)."""
    _show(state.services().targets.synonyms(state.workspace(workspace).id), as_json)


@synonyms_app.command("add")
def synonyms_add(
    written: str = typer.Argument(..., help="The word your documents use, exactly as they write it."),
    said: list[str] = typer.Argument(..., help="One or more words your customers use for it."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Add the words customers use for a word of the documents.

    Example: zhiwen synonyms add 铂金卡 白金会员 白金卡
    """
    workspace_id = state.workspace(workspace).id
    services = state.services()
    before = services.targets.synonyms(workspace_id)
    stored = services.targets.add_synonyms(workspace_id, said, written)
    added = {said_key(w): stored[said_key(w)] for w in said}
    warnings = synonym_warnings(services.retriever, workspace_id, added)
    if as_json:
        print_json({"synonyms": stored, "warnings": warnings})
        return
    for word in said:
        if before.get(key := said_key(word), stored[key]) != stored[key]:
            console.print(f"{word} meant {before[key]} before.")
    console.print(f"{', '.join(said)} → {written}; {len(stored)} synonym(s) in all.")
    _warn(warnings)
    say_when_customers_see_it(workspace_id)


@synonyms_app.command("remove")
def synonyms_remove(
    said: list[str] | None = typer.Argument(None, help="The customers' word(s) to forget."),
    every: bool = typer.Option(False, "--all", help="Forget every synonym."),
    yes: bool = typer.Option(False, "--yes", "-y", help="With --all: do not ask first."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Forget customers' words (or --all of them)."""
    if bool(said) == every:
        raise InvalidInput("name the customers' words to forget, or --all (not both)")
    if every and not yes and not typer.confirm("Forget every synonym?"):
        raise typer.Exit(1)
    workspace_id = state.workspace(workspace).id
    targets = state.services().targets
    stored = (
        targets.save_synonyms(workspace_id, {})
        if every
        else targets.remove_synonyms(workspace_id, said or [])
    )
    if as_json:
        print_json({"synonyms": stored})
        return
    console.print(f"Removed {'every synonym' if every else ', '.join(said or [])}; {len(stored)} left.")
    say_when_customers_see_it(workspace_id)


@synonyms_app.command("import")
def synonyms_import(
    file: Path = typer.Argument(
        ...,
        help="CSV, XLSX or JSONL with a 'said' (同义词) and a 'written' (标准词) column; several customer "
        "words in one cell are separated by , ， 、 or |.",
    ),
    replace: bool = typer.Option(False, "--replace", help="Replace every synonym instead of adding."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Add the synonyms in a table (checked whole first: a bad row changes nothing).

    Example: zhiwen synonyms import synonyms.csv
    """
    found = synonyms_from_file(file.name, read_input(file))
    workspace_id = state.workspace(workspace).id
    services = state.services()
    kept = {} if replace else services.targets.synonyms(workspace_id)
    stored = services.targets.save_synonyms(workspace_id, {**kept, **found})
    with Progress(transient=True, console=console) as progress:
        progress.add_task("checking them against the documents", total=None)
        warnings = synonym_warnings(services.retriever, workspace_id, found)
    if as_json:
        print_json({"synonyms": stored, "warnings": warnings})
        return
    console.print(f"Read {len(found)} synonym(s) from {file.name}; {len(stored)} in all.")
    _warn(warnings)
    say_when_customers_see_it(workspace_id)


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        console.print(f"[yellow]warning[/] {warning}")
