"""zhiwen recommend train|models|show|promote|rollback|gate|for|similar."""

from __future__ import annotations

import typer
from rich.table import Table

from zhiwen.cli.common import (
    JsonOption,
    WorkspaceOption,
    console,
    figure,
    print_json,
    progress_bars,
    state,
    step_bars,
)
from zhiwen.cli.feedback import actor
from zhiwen.cli.model_commands import add_gate_commands, finish_training
from zhiwen.services.recommend.release import GATED
from zhiwen.services.recommend.service import Recommendation
from zhiwen.services.recommend.train import MODEL_NAMES
from zhiwen.types import ModelVersion

recommend_app = typer.Typer(
    help=(
        "Product recommendations learned from behaviour events.\n\n"
        "Typical flow: `zhiwen catalog import catalog.csv` → `zhiwen events import events.csv` → "
        "`zhiwen recommend train` → `zhiwen recommend promote 1` → `zhiwen recommend for USER` "
        "(or GET /v1/recommendations?user=USER). New events count at once, without retraining."
    ),
    no_args_is_help=True,
)
SHOWN = ("ndcg_at_k", "hr_at_k", "coverage", "cold_ndcg_at_k")


def register(app: typer.Typer) -> None:
    app.add_typer(recommend_app, name="recommend")


@recommend_app.command("train")
def train(
    candidates: str = typer.Option(
        ",".join(MODEL_NAMES),
        help="Models to consider: popularity, itemknn (item-to-item), als (matrix factorisation), content "
        "(E5 embeddings of item text; embeds each item once). The search blends them.",
    ),
    promote: bool = typer.Option(False, "--promote", help="Promote at once if it passes the gate."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Train a recommender: pick settings and the hybrid's weights on a validation period, report every
    model on the test period (the last 20 % of events) against popularity, then fit the choice on all
    events as a new version (not live until promoted)."""
    chosen = [c.strip() for c in candidates.split(",") if c.strip()]
    services = state.services()
    workspace_id = state.workspace(workspace).id
    with progress_bars() as progress:
        bars = step_bars(progress)
        model = services.recommenders.train(
            workspace_id, actor(), chosen, lambda step, done, total: bars(step, done / max(total, 1))
        )
    finish_training(
        services.recommenders, workspace_id, model, promote, as_json, _print_model, "zhiwen recommend promote"
    )


def _print_model(model: ModelVersion) -> None:
    report = model.report
    console.print(
        f"[bold]v{model.version}[/] {model.kind} {model.params['weights']} · {report['events']:,} events,"
        f" {report['users']:,} users, {report['items']:,} items · {report['seconds']} s"
    )
    table = Table(
        "test period", *SHOWN, title=f"{report['split']}; @10, {report['test']['chosen']['users']} users"
    )
    for name, metrics in report["test"].items():
        label = f"v{model.version} ({model.kind})" if name == "chosen" else name
        table.add_row(label, *(figure(metrics.get(m)) for m in SHOWN))
    console.print(table)


@recommend_app.command("models")
def models(workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """Recommender versions with their test-period figures; the live one is marked."""
    services = state.services()
    workspace_id = state.workspace(workspace).id
    versions = services.recommenders.models(workspace_id)
    live = services.recommenders.live_version(workspace_id)
    if as_json:
        print_json({"live": live, "models": [v.__dict__ for v in versions]})
        return
    table = Table("version", "kind", *SHOWN, "created")
    for v in versions:
        chosen = v.report["test"]["chosen"]
        mark = " (live)" if v.version == live else ""
        table.add_row(
            f"v{v.version}{mark}", v.kind, *(figure(chosen.get(m)) for m in SHOWN), v.created_at[:19]
        )
    console.print(table)


@recommend_app.command("show")
def show(version: int, workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """One version: its models and weights, the validation search and the test-period figures."""
    model = state.services().recommenders.get(state.workspace(workspace).id, version)
    if as_json:
        print_json(model.__dict__)
        return
    _print_model(model)
    console.print(f"settings: {model.params['params']}")
    validation = model.report["validation"]
    console.print(f"validation NDCG@10: {validation['models']}, hybrid {validation['hybrid']}")


add_gate_commands(
    recommend_app,
    lambda *_: state.services().recommenders,
    "recommender",
    GATED,
    "ndcg_at_k=0.1",
    "Make version N live if it passes the gate: the minimums (`zhiwen recommend gate`), beating the"
    " popularity baseline, and NDCG@10 and HR@10 no worse than the live recommender's on the same split"
    " beyond the tolerance. Exit 1 if not.",
)


@recommend_app.command("for")
def recommend_for(
    user: str = typer.Argument(..., help="The customer's id, as in the events."),
    k: int = typer.Option(10, "--k", "-k", min=1, max=100, help="How many items."),
    category: list[str] = typer.Option([], help="Only this category (repeatable)."),
    include_unavailable: bool = typer.Option(False, help="Also items marked unavailable."),
    include_seen: bool = typer.Option(
        False, help="Allow items the user viewed, carted or rated (never bought)."
    ),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """A customer's recommendations from the live recommender, with the reason for each."""
    found = state.services().recommendations.recommend(
        state.workspace(workspace).id, user, k, category, not include_unavailable, include_seen
    )
    _print_items(found, as_json)


@recommend_app.command("similar")
def similar(
    item: str = typer.Argument(..., help="A catalogue item id."),
    k: int = typer.Option(10, "--k", "-k", min=1, max=100, help="How many items."),
    category: list[str] = typer.Option([], help="Only this category (repeatable)."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Items that go with ITEM: what customers who touched it also touched, and what reads alike."""
    found = state.services().recommendations.similar(state.workspace(workspace).id, item, k, category)
    _print_items(found, as_json)


def _print_items(found: list[Recommendation], as_json: bool) -> None:
    if as_json:
        print_json([r.to_dict() for r in found])
        return
    table = Table("item", "title", "category", "price", "why")
    for r in found:
        price = "" if r.item.price is None else f"{r.item.price:,.2f}"
        table.add_row(r.item.id, r.item.title, r.item.category, price, r.text)
    console.print(table)
