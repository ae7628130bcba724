"""zhiwen vision train|models|show|promote|rollback|gate|recognize."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from zhiwen.cli.common import (
    JsonOption,
    WorkspaceOption,
    console,
    figure,
    print_json,
    progress_bars,
    read_input,
    state,
    step_bars,
)
from zhiwen.cli.feedback import actor
from zhiwen.cli.model_commands import add_gate_commands, finish_training
from zhiwen.errors import InvalidInput
from zhiwen.services.vision.photos import LabelledPhoto, read_archive, read_folder
from zhiwen.services.vision.service import GATED
from zhiwen.types import ModelVersion

vision_app = typer.Typer(
    help=(
        "Recognise the company's products in customers' photos.\n\n"
        "Typical flow: `zhiwen vision train photos/` (a folder per product, named after it) → "
        "`zhiwen vision promote 1` → `zhiwen vision recognize photo.jpg`; a photo sent with a question "
        "(`zhiwen ask … --image`, the widget, POST /v1/ask) then asks about the product it shows."
    ),
    no_args_is_help=True,
)
SHOWN = ("top1", "top5", "coarse_top1", "calibration_error")


def register(app: typer.Typer) -> None:
    app.add_typer(vision_app, name="vision")


def _photos(source: Path) -> list[LabelledPhoto]:
    if source.is_dir():
        return read_folder(str(source))
    try:
        data = source.read_bytes()
    except OSError as error:
        raise InvalidInput(f"{source}: cannot read it ({error.strerror})") from None
    return read_archive(source.name, data)


@vision_app.command("train")
def train(
    source: Path = typer.Argument(
        ...,
        help="A folder (or zip) with a folder of photos per product, named after it; or with a labels.csv"
        " of path,label[,category]. A folder above the product's folders is its category.",
    ),
    held_out: Path | None = typer.Option(
        None,
        "--held-out",
        help="A separate folder (or zip) of photos to measure on, e.g. photos customers sent; otherwise a"
        " fifth of each product's photos is held out.",
    ),
    promote: bool = typer.Option(False, "--promote", help="Promote at once if it passes the gate."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Train a recogniser version: read each photo's shape and colour, choose among candidates by
    cross-validation, measure top-1 and top-5 on held-out photos, and store it (not live until promoted).

    Example: zhiwen vision train photos/ --held-out customer-photos/ --promote
    """
    services = state.services()
    workspace_id = state.workspace(workspace).id
    photos = _photos(source)
    separate = _photos(held_out) if held_out is not None else []
    with progress_bars() as progress:
        bars = step_bars(progress)
        version = services.vision.train(
            workspace_id,
            photos,
            actor(),
            separate,
            lambda step, done, total: bars(step, done / max(total, 1)),
        )
    finish_training(
        services.vision, workspace_id, version, promote, as_json, _print_version, "zhiwen vision promote"
    )


def _print_version(version: ModelVersion) -> None:
    report = version.report
    figures = report["held_out"]
    console.print(
        f"[bold]v{version.version}[/] {version.params['candidate']} · {report['products']} products,"
        f" {report['photos']['train']} training photos, {report['photos']['held_out']} held out"
        f" ({report['held_out_from']}) · {report['seconds']} s"
    )
    if report["skipped"]:
        console.print(
            f"[yellow]{report['skipped']} photo(s) could not be read:[/] {report['skipped_photos']}"
        )
    table = Table("held out", *SHOWN)
    table.add_row(f"v{version.version}", *(figure(figures.get(m)) for m in SHOWN))
    table.add_row("commonest product", figure(figures["majority_top1"]), "", "", "")
    console.print(table)
    candidates = Table("candidate", "cross-validated top-1", "log loss", "seconds")
    for row in report["candidates"]:
        candidates.add_row(
            row["candidate"], figure(row["top1"]), figure(row["log_loss"]), str(row["seconds"])
        )
    console.print(candidates)
    if figures["confusions"]:
        shown = ", ".join(
            f"{c['label']} → {c['taken_for']} ({c['photos']})" for c in figures["confusions"][:5]
        )
        console.print(f"most confused: {shown}")


@vision_app.command("models")
def models(workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """Recogniser versions with their held-out figures; the live one is marked."""
    family = state.services().vision.family
    workspace_id = state.workspace(workspace).id
    found, live = family.versions(workspace_id), family.live_version(workspace_id)
    if as_json:
        print_json({"live": live, "models": [v.__dict__ for v in found]})
        return
    table = Table("version", "candidate", *SHOWN, "created")
    for v in found:
        figures = v.report["held_out"]
        mark = " (live)" if v.version == live else ""
        table.add_row(
            f"v{v.version}{mark}",
            v.params["candidate"],
            *(figure(figures.get(m)) for m in SHOWN),
            v.created_at[:19],
        )
    console.print(table)


@vision_app.command("show")
def show(version: int, workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """One version: its candidates, held-out figures, each product's recall and the confusions."""
    found = state.services().vision.family.get(state.workspace(workspace).id, version)
    if as_json:
        print_json(found.__dict__)
        return
    _print_version(found)
    recall = found.report["held_out"]["recall"]
    worst = sorted(recall.items(), key=lambda item: item[1])[:10]
    console.print("lowest recall: " + ", ".join(f"{label} {value:.2f}" for label, value in worst))


add_gate_commands(
    vision_app,
    lambda *_: state.services().vision,
    "recogniser",
    GATED,
    "top1=0.8",
    "Make version N live if it passes the gate: the minimums (`zhiwen vision gate`), better than always"
    " naming the commonest product beyond chance, and top-1 and top-5 no worse than the live recogniser's"
    " on the same held-out photos beyond the tolerance. Exit 1 if not.",
)


@vision_app.command("recognize")
def recognize(
    photo: Path = typer.Argument(..., help="A photo (PNG, JPEG, WebP)."),
    no_text: bool = typer.Option(False, "--no-text", help="Do not read the text in it (faster)."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """The live recogniser's five likeliest products for PHOTO, and the text read in it.

    Example: zhiwen vision recognize customer.jpg
    """
    data = read_input(photo)
    seen = state.services().vision.recognize(state.workspace(workspace).id, photo.name, data, not no_text)
    if as_json:
        print_json(seen.__dict__)
        return
    if seen.version is None:
        console.print("No recogniser is live: `zhiwen vision train DIR`, then `zhiwen vision promote N`.")
    for product, probability in seen.top:
        console.print(f"{probability:6.1%}  {product}")
    if not no_text:
        console.print(f"[dim]read in the photo: {seen.text or '(no text)'}[/]")
