"""zhiwen intents list|add|remove|import|export|try|train|models|show|promote|rollback|gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
from zhiwen.services.intents.definitions import ACTIONS, dump_csv, dump_yaml, parse_intent
from zhiwen.services.intents.service import GATED
from zhiwen.types import ModelVersion

intents_app = typer.Typer(
    help=(
        "Intents: what the customer wants, and the action to take (answer from the knowledge, hand off,"
        " a fixed reply, ask for a missing value, call a company's HTTP tool).\n\n"
        "Typical flow: `zhiwen intents export > intents.yaml` → edit → `zhiwen intents import intents.yaml`"
        " → `zhiwen intents train --promote` → `zhiwen intents try '我的订单到哪了'`. Until a model is"
        " promoted, every message goes to the knowledge base. See docs/intents.md."
    ),
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(intents_app, name="intents")


@intents_app.command("list")
def list_intents(workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """The workspace's intents (the built-in ones until it saves its own) and the live model."""
    services = state.services()
    workspace_id = state.workspace(workspace).id
    intents = services.intents.definitions(workspace_id)
    live = services.intents.family.live_version(workspace_id)
    if as_json:
        print_json({"live": live, "intents": [i.to_dict() for i in intents]})
        return
    table = Table("intent", "action", "examples", "slots", "tool", "description")
    for i in intents:
        tool = "" if i.tool is None else f"{i.tool.method} {i.tool.url}"
        table.add_row(
            i.name, i.action, str(len(i.examples)), ", ".join(s.name for s in i.slots), tool, i.description
        )
    console.print(table)
    console.print(
        f"Live intent model: v{live}"
        if live
        else "No intent model is live: `zhiwen intents train --promote`."
    )


@intents_app.command("add")
def add(
    name: str = typer.Argument(..., help="Lower-case letters, digits and _, e.g. opening_hours."),
    example: list[str] = typer.Option(..., "--example", "-e", help="An example message (repeat it)."),
    action: str = typer.Option("reply", help=f"One of {', '.join(ACTIONS)}."),
    reply: str = typer.Option("", help="The reply (for action reply; before a handoff, optional)."),
    workspace: str = WorkspaceOption,
) -> None:
    """Add an intent, or replace the one with NAME. Slots and tools are written in YAML (`import`)."""
    definition: dict[str, Any] = {"name": name, "action": action, "examples": example}
    if reply:
        definition["reply"] = reply
    intent = parse_intent(definition)
    state.services().intents.put(state.workspace(workspace).id, intent)
    console.print(
        f"Saved {name}. Train and promote a model for it to count: `zhiwen intents train --promote`."
    )


@intents_app.command("remove")
def remove(name: str, workspace: str = WorkspaceOption) -> None:
    """Remove an intent (train and promote a model for it to stop counting)."""
    state.services().intents.remove(state.workspace(workspace).id, name)
    console.print(f"Removed {name}.")


@intents_app.command("import")
def import_file(
    path: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="intents.yaml or a CSV intent,example"
    ),
    merge: bool = typer.Option(False, "--merge", help="Keep intents the file does not name."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Replace the intents with a file's (or add to them with --merge). Nothing changes unless the whole
    file is valid."""
    imported = state.services().intents.import_bytes(
        state.workspace(workspace).id, path.name, path.read_bytes(), merge
    )
    if as_json:
        print_json([i.to_dict() for i in imported])
        return
    console.print(f"{len(imported)} intents saved. Next: `zhiwen intents train --promote`.")


@intents_app.command("export")
def export(
    format: str = typer.Option("yaml", help="yaml (everything) or csv (intent,example,action)."),
    workspace: str = WorkspaceOption,
) -> None:
    """Print the intents as YAML or CSV (redirect to a file to edit and re-import)."""
    intents = state.services().intents.definitions(state.workspace(workspace).id)
    if format not in ("yaml", "csv"):
        raise typer.BadParameter("yaml or csv", param_hint="--format")
    print(dump_csv(intents) if format == "csv" else dump_yaml(intents), end="")


@intents_app.command("try")
def try_message(
    message: str = typer.Argument(..., help="A customer's message."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """What the live intent model makes of MESSAGE: each intent's probability and the one that acts
    (nothing is answered or recorded)."""
    services = state.services()
    workspace_id = state.workspace(workspace).id
    classified = services.intents.classify(workspace_id, message)
    if as_json:
        print_json(
            None
            if classified is None
            else {
                "match": classified.match.to_dict(),
                "ranked": classified.ranked,
                "threshold": classified.threshold,
            }
        )
        return
    if classified is None:
        console.print("No intent model is live: `zhiwen intents train --promote`.")
        return
    for name, probability in classified.ranked[:5]:
        console.print(f"  {probability:.3f}  {name}")
    match = classified.match
    console.print(f"→ [bold]{match.name}[/] ({match.action}; out of scope below {classified.threshold:.3f})")


@intents_app.command("train")
def train(
    promote: bool = typer.Option(False, "--promote", help="Promote at once if it passes the gate."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Train an intent model on the current intents: the blend of n-gram and embedding models and the
    out-of-scope threshold are chosen by cross-validation, figures are measured on a held-out fifth, and the
    model is then fitted on every example as a new version (not live until promoted)."""
    services = state.services()
    workspace_id = state.workspace(workspace).id
    with progress_bars() as progress:
        bars = step_bars(progress)
        model = services.intents.train(
            workspace_id, actor(), lambda step, done, total: bars(step, done / max(total, 1))
        )
    finish_training(
        services.intents, workspace_id, model, promote, as_json, _print_model, "zhiwen intents promote"
    )


def _print_model(model: ModelVersion, per_intent: bool = False) -> None:
    report = model.report
    held = report["held_out"]
    console.print(
        f"[bold]v{model.version}[/] · {report['examples']:,} examples, {len(report['intents'])} intents ·"
        f" n-gram share {report['weight']} · out-of-scope below {report['threshold']} · {report['seconds']} s"
    )
    if held.get("examples"):
        console.print(
            f"held-out ({held['examples']} examples): accuracy {held['accuracy']:.4f}, macro F1"
            f" {held['macro_f1']:.4f}, routed {held['routed_accuracy']:.4f}"
            f" ({held['out_of_scope_share']:.1%} sent to the knowledge as out of scope)"
        )
    if per_intent and held.get("per_intent"):
        table = Table("intent", "precision", "recall", "F1", "held-out examples")
        for name, figures in held["per_intent"].items():
            table.add_row(
                name,
                f"{figures['precision']:.3f}",
                f"{figures['recall']:.3f}",
                f"{figures['f1']:.3f}",
                str(figures["support"]),
            )
        console.print(table)


@intents_app.command("models")
def models(workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """Intent model versions with their held-out figures; the live one is marked."""
    family = state.services().intents.family
    workspace_id = state.workspace(workspace).id
    versions, live = family.versions(workspace_id), family.live_version(workspace_id)
    if as_json:
        print_json({"live": live, "models": [v.__dict__ for v in versions]})
        return
    table = Table("version", "examples", "accuracy", "macro F1", "threshold", "created")
    for v in versions:
        held = v.report["held_out"]
        table.add_row(
            f"v{v.version}{' (live)' if v.version == live else ''}",
            str(v.report["examples"]),
            figure(held.get("accuracy")),
            figure(held.get("macro_f1")),
            str(v.report["threshold"]),
            v.created_at[:19],
        )
    console.print(table)


@intents_app.command("show")
def show(version: int, workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """One version: settings, cross-validation, and per-intent precision and recall on the held-out fifth
    (--json adds the confusion matrix)."""
    model = state.services().intents.family.get(state.workspace(workspace).id, version)
    if as_json:
        print_json(model.__dict__)
        return
    _print_model(model, per_intent=True)
    console.print(f"cross-validated accuracy by n-gram share: {model.report['cross_validation']}")


add_gate_commands(
    intents_app,
    lambda *_: state.services().intents,
    "intent model",
    GATED,
    "accuracy=0.9",
    "Make version N live if it passes the gate: the minimums (`zhiwen intents gate`; default accuracy 0.8) on"
    " its held-out examples, and accuracy and macro F1 no worse than the live model's settings on the same"
    " examples beyond the tolerance. Exit 1 if not.",
)
