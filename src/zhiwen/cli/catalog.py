"""zhiwen catalog import|list, zhiwen events import: what recommendations learn from."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from zhiwen.cli.common import (
    JsonOption,
    WorkspaceOption,
    console,
    print_json,
    read_input,
    state,
)
from zhiwen.services.recommend.catalog import ImportReport

catalog_app = typer.Typer(
    help="The product catalogue: items with title, description, category, price and availability.",
    no_args_is_help=True,
)
events_app = typer.Typer(
    help="Customers' behaviour: views, carts, purchases and ratings of catalogue items.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")
    app.add_typer(events_app, name="events")


def _print(report: ImportReport, as_json: bool) -> None:
    if as_json:
        print_json(report.to_dict())
        return
    console.print(
        f"{report.source}: {report.added} added, {report.updated} updated, {report.already_stored} already "
        f"stored, {len(report.problems)} rows with problems"
        + (f", {report.out_of_order} out of time order (accepted)" if report.out_of_order else "")
        + "."
    )
    for problem in report.problems[:20]:
        console.print(f"  row {problem['row']}: {problem['problem']}", style="yellow")
    if len(report.problems) > 20:
        console.print(f"  … and {len(report.problems) - 20} more (use --json for all)", style="yellow")


@catalog_app.command("import")
def catalog_import(
    file: Path = typer.Argument(
        ..., help="CSV, XLSX or JSONL: item_id, title, description, category, price, available."
    ),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Add new items and update changed ones. MovieLens' movies.csv (movieId, title, genres) works as
    it is."""
    report = state.services().catalog.import_catalog(
        state.workspace(workspace).id, file.name, read_input(file)
    )
    _print(report, as_json)


@catalog_app.command("list")
def catalog_list(
    category: str | None = typer.Option(None, help="Only this category."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """The catalogue's items."""
    items = [
        i
        for i in state.services().catalog.items(state.workspace(workspace).id)
        if category is None or i.category == category
    ]
    if as_json:
        print_json([i.__dict__ for i in items])
        return
    table = Table("item", "title", "category", "price", "available")
    for i in items:
        table.add_row(
            i.id, i.title, i.category, "" if i.price is None else f"{i.price:.2f}", "✓" if i.available else ""
        )
    console.print(table)


@events_app.command("import")
def events_import(
    file: Path = typer.Argument(..., help="CSV, XLSX or JSONL: user_id, item_id, event, weight, timestamp."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Import behaviour events. Event types: view, cart, purchase, rating (its weight is the rating). A file
    without an event column is read as ratings (MovieLens' ratings.csv: userId, movieId, rating, timestamp).
    Unknown items, bad timestamps and duplicates are listed by row; the rest are stored."""
    report = state.services().catalog.import_events(
        state.workspace(workspace).id, file.name, read_input(file)
    )
    _print(report, as_json)
