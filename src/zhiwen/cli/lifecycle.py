"""golden, eval, release, tune, rerank, config: the quality lifecycle from the command line."""

from __future__ import annotations

import dataclasses
import sys
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from zhiwen.cli.common import (
    JsonOption,
    WorkspaceOption,
    console,
    err_console,
    print_json,
    state,
)
from zhiwen.cli.feedback import actor
from zhiwen.errors import GateRefused, InvalidInput
from zhiwen.services.lifecycle import report
from zhiwen.services.lifecycle.release import release_summary
from zhiwen.services.lifecycle.targets import RERANKER_SETTING, Target
from zhiwen.types import EvalRun, Release

golden_app = typer.Typer(
    help="Golden sets: import, export, version and grow the questions quality is measured on.",
    no_args_is_help=True,
)
eval_app = typer.Typer(
    help="Evaluate answers on a golden set; reports, comparisons and the CI gate.", no_args_is_help=True
)
release_app = typer.Typer(
    help="Releases: frozen knowledge + settings + models. Create, promote through the gate, roll back.",
    no_args_is_help=True,
)
rerank_app = typer.Typer(
    help="The learned re-ranker: train it on a golden set's tuning split.", no_args_is_help=True
)
config_app = typer.Typer(
    help="The working answer settings (the next release freezes them).", no_args_is_help=True
)
METRIC_COLUMNS = {
    "answer_accuracy": "accuracy",
    "citation_accuracy": "citations",
    "handoff_precision": "handoff P",
    "handoff_recall": "handoff R",
    "ndcg_at_k": "nDCG@k",
    "ece": "ECE",
}


def register(app: typer.Typer) -> None:
    app.add_typer(golden_app, name="golden")
    app.add_typer(eval_app, name="eval")
    app.add_typer(release_app, name="release")
    app.command()(tune)
    app.add_typer(rerank_app, name="rerank")
    app.add_typer(config_app, name="config")


def _progress_callback(progress: Progress, label: str) -> Callable[[int, int], None]:
    task = progress.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    return update


def progress_bars() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )


def _pairs(values: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, raw = value.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"{what} {value!r}: write NAME=VALUE")
        pairs[name.strip()] = raw.strip()
    return pairs


def _metrics_table(rows: dict[str, dict[str, Any]]) -> Table:
    table = Table("", *METRIC_COLUMNS.values())
    for label, summary in rows.items():
        table.add_row(label, *(f"{summary.get(m, 0.0) or 0.0:.3f}" for m in METRIC_COLUMNS))
    return table


# golden ----------------------------------------------------------------------------------------------------


@golden_app.command("import")
def golden_import(
    file: Path = typer.Argument(
        ..., help="JSONL or CSV: question, expected_answer, expected_document, answerable, category."
    ),
    name: str = typer.Option(
        ..., "--name", "-n", help="Golden set name; importing again makes a new version."
    ),
    note: str = typer.Option("", "--note"),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Import a golden file as the next version of NAME. A bad line imports nothing and names the line."""
    if not file.is_file():
        raise InvalidInput(f"{file}: no such file")
    version = state.services().golden.import_bytes(
        state.workspace(workspace).id, name, file.name, file.read_bytes(), note
    )
    if as_json:
        print_json(dataclasses.asdict(version))
    else:
        console.print(f"Golden set {version.name} v{version.version}: {version.size} questions.")


@golden_app.command("list")
def golden_list(workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """Every golden set and version, with its size and note."""
    versions = state.services().golden.versions(state.workspace(workspace).id)
    if as_json:
        print_json([dataclasses.asdict(v) for v in versions])
        return
    table = Table("name", "version", "questions", "created", "note")
    for v in versions:
        table.add_row(v.name, str(v.version), str(v.size), v.created_at[:19], v.note)
    console.print(table)


@golden_app.command("export")
def golden_export(
    name: str,
    version: int | None = typer.Option(None, "--version", "-v", help="Default: the latest."),
    fmt: str = typer.Option("jsonl", "--format", "-f", help="jsonl or csv"),
    out: Path | None = typer.Option(None, "--out", "-o", help="Default: stdout."),
    workspace: str = WorkspaceOption,
) -> None:
    """Write a golden set version as JSONL or CSV (edit it and import it again for a new version)."""
    text = state.services().golden.export(state.workspace(workspace).id, name, version, fmt)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        err_console.print(f"Wrote {out}")


# eval ------------------------------------------------------------------------------------------------------


def _target(workspace_id: str, release: int | None, live: bool) -> Target:
    services = state.services()
    if release is not None and live:
        raise InvalidInput("pass --release N or --live, not both")
    if release is not None:
        return services.targets.of_release(services.releases.get(workspace_id, release))
    return services.targets.live(workspace_id) if live else services.targets.working(workspace_id)


def _print_run(run: EvalRun) -> None:
    console.print(_metrics_table({f"{run.target} ({run.split})": run.summary}))
    console.print(f"Run {run.id}. Report: zhiwen eval report {run.id} --format html --open")


@eval_app.command("run")
def eval_run(
    golden: str = typer.Option(..., "--golden", "-g", help="Golden set name."),
    version: int | None = typer.Option(None, "--version", "-v"),
    split: str = typer.Option("held_out", "--split", "-s", help="held_out, tune or all."),
    release: int | None = typer.Option(None, "--release", "-r", help="Evaluate this release."),
    live: bool = typer.Option(False, "--live", help="Evaluate the live release."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Answer the golden questions and score retrieval, answers, citations, handoff and latency.
    Default target: the working knowledge and settings (what the next release would be)."""
    workspace_id = state.workspace(workspace).id
    with progress_bars() as progress:
        run = state.services().evaluator.run(
            _target(workspace_id, release, live),
            golden,
            version,
            split,
            on_progress=_progress_callback(progress, "evaluating"),
        )
    print_json(dataclasses.asdict(run)) if as_json else _print_run(run)


@eval_app.command("list")
def eval_list(workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """Recent evaluation runs with their main figures."""
    runs = state.services().evaluator.list_runs(state.workspace(workspace).id)
    if as_json:
        print_json([dataclasses.asdict(r) for r in runs])
        return
    console.print(_metrics_table({f"{r.id} · {r.target} · {r.split}": r.summary for r in runs}))


@eval_app.command("show")
def eval_show(run_id: str, workspace: str = WorkspaceOption) -> None:
    """A run with its per-question results (JSON)."""
    run, results = state.services().evaluator.get(state.workspace(workspace).id, run_id)
    print_json({**dataclasses.asdict(run), "results": results})


@eval_app.command("report")
def eval_report(
    run_id: str,
    fmt: str = typer.Option("md", "--format", "-f", help="md or html"),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="File to write (Markdown also writes its PNG plots beside it)."
    ),
    open_it: bool = typer.Option(False, "--open", help="Open the report in a browser (HTML)."),
    workspace: str = WorkspaceOption,
) -> None:
    """The run as a report: metrics, plots (confidence, reliability, per category), missed questions."""
    run, results = state.services().evaluator.get(state.workspace(workspace).id, run_id)
    if fmt == "html":
        text = report.html_report(run, results)
        out = out or Path(f"{run.id}.html")
    elif fmt == "md":
        image_dir = None
        if out is not None:
            folder = out.parent / f"{out.stem}-plots"
            folder.mkdir(parents=True, exist_ok=True)
            for name, data in report.plots(run, results).items():
                (folder / name).write_bytes(data)
            image_dir = folder.name
        text = report.markdown(run, results, image_dir)
    else:
        raise InvalidInput(f"unknown report format {fmt!r}: use md or html")
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text, encoding="utf-8")
    err_console.print(f"Wrote {out}")
    if open_it:
        webbrowser.open(out.resolve().as_uri())


@eval_app.command("compare")
def eval_compare(
    before: str, after: str, workspace: str = WorkspaceOption, as_json: bool = JsonOption
) -> None:
    """Two runs question by question: what got better, what got worse."""
    result = state.services().evaluator.compare(state.workspace(workspace).id, before, after)
    if as_json:
        print_json(result)
        return
    table = Table("metric", "before", "after", "change")
    for name, m in result["metrics"].items():
        table.add_row(name, f"{m['before']:.3f}", f"{m['after']:.3f}", f"{m['delta']:+.3f}")
    console.print(table)
    for label, rows, style in (("better", result["better"], "green"), ("worse", result["worse"], "red")):
        console.print(f"[{style}]{len(rows)} {label}[/]")
        for row in rows:
            console.print(
                f"  {row['question']}\n    before: {row['before'][:100]}\n    after:  {row['after'][:100]}"
            )


@eval_app.command("gate")
def eval_gate(
    release: int | None = typer.Option(None, "--release", "-r", help="Default: the newest release."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Would this release pass the gate? Exit status 0 when it would, 1 when not (for CI)."""
    services = state.services()
    workspace_id = state.workspace(workspace).id
    number = release if release is not None else _newest(workspace_id).number
    with progress_bars() as progress:
        result = services.releases.check(workspace_id, number, _progress_callback(progress, "live release"))
    if as_json:
        print_json(result.to_dict())
    else:
        _print_gate(result.to_dict())
    raise typer.Exit(0 if result.passed else 1)


@eval_app.command("thresholds")
def eval_thresholds(
    minimum: list[str] = typer.Option(
        [], "--min", help="METRIC=VALUE, e.g. answer_accuracy=0.85 (repeatable)."
    ),
    tolerance: float | None = typer.Option(
        None, "--tolerance", help="Largest drop allowed against the live release."
    ),
    workspace: str = WorkspaceOption,
) -> None:
    """Show or set the gate: minimum values and the regression tolerance for the gated metrics."""
    services = state.services()
    workspace_id = state.workspace(workspace).id
    values = {k: float(v) for k, v in _pairs(minimum, "--min").items()}
    policy = (
        services.releases.set_gate_policy(workspace_id, values, tolerance)
        if values or tolerance is not None
        else services.releases.gate_policy(workspace_id)
    )
    print_json(policy.to_dict())


def _print_gate(result: dict[str, Any]) -> None:
    rows = {f"release {result['release']} (candidate)": result["candidate"]}
    if result["live"]:
        rows["live"] = result["live"]
    console.print(_metrics_table(rows))
    if result["passed"]:
        console.print("[green]passes the gate[/]")
        return
    console.print("[red]refused by the gate:[/]")
    for failure in result["failures"]:
        console.print(f"  - {failure}")
    if result["worse_questions"]:
        console.print("Questions that got worse:")
        for row in result["worse_questions"][:20]:
            console.print(f"  - {row['question']}")


# release ---------------------------------------------------------------------------------------------------


def _newest(workspace_id: str) -> Release:
    releases = state.services().releases.list_releases(workspace_id)
    if not releases:
        raise InvalidInput("there is no release yet; create one with `zhiwen release create --golden NAME`")
    return releases[-1]


@release_app.command("create")
def release_create(
    golden: str | None = typer.Option(
        None, "--golden", "-g", help="Evaluate on this golden set's held-out split."
    ),
    setting: list[str] = typer.Option([], "--set", help="Override a setting, NAME=VALUE (repeatable)."),
    note: str = typer.Option("", "--note"),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Freeze the working knowledge, settings and models as the next release (a candidate; nothing changes
    for customers until `zhiwen release promote N`)."""
    workspace_id = state.workspace(workspace).id
    with progress_bars() as progress:
        release, run = state.services().releases.create(
            workspace_id,
            actor(),
            golden,
            _pairs(setting, "--set"),
            note=note,
            on_progress=_progress_callback(progress, "evaluating"),
        )
    if as_json:
        print_json(
            {"release": release_summary(release), "evaluation": dataclasses.asdict(run) if run else None}
        )
        return
    console.print(
        f"Release {release.number}: {len(release.manifest['documents'])} documents, "
        f"{release.manifest['chunks']} chunks."
    )
    if run:
        _print_run(run)
    console.print(f"Promote with: zhiwen release promote {release.number}")


@release_app.command("list")
def release_list(workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """Every release, which one is live, and its evaluation."""
    services = state.services()
    workspace_id = state.workspace(workspace).id
    releases = services.releases.list_releases(workspace_id)
    live = services.releases.live(workspace_id)
    if as_json:
        print_json(
            {"live": live.number if live else None, "releases": [release_summary(r, live) for r in releases]}
        )
        return
    table = Table("release", "live", "documents", "chunks", "evaluation", "created", "by", "note")
    for r in releases:
        table.add_row(
            str(r.number),
            "●" if live and live.id == r.id else "",
            str(len(r.manifest["documents"])),
            str(r.manifest["chunks"]),
            r.eval_run_id or "–",
            r.created_at[:19],
            r.created_by,
            r.note,
        )
    console.print(table)


@release_app.command("show")
def release_show(number: int, workspace: str = WorkspaceOption) -> None:
    """A release's settings, models and manifest (JSON)."""
    services = state.services()
    workspace_id = state.workspace(workspace).id
    print_json(
        release_summary(services.releases.get(workspace_id, number), services.releases.live(workspace_id))
    )


@release_app.command("promote")
def release_promote(number: int, workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """Make release N live if it passes the gate: the workspace's minimums, and no gated metric worse than
    the live release's by more than the tolerance. Refused: exit 1 with the reasons and the questions that
    got worse."""
    services = state.services()
    workspace_id = state.workspace(workspace).id
    try:
        with progress_bars() as progress:
            result = services.releases.promote(
                workspace_id, number, actor(), _progress_callback(progress, "live release")
            )
    except GateRefused as refused:
        print_json(refused.details) if as_json else _print_gate(refused.details)
        raise typer.Exit(1) from None
    print_json(result.to_dict()) if as_json else console.print(f"[green]Release {number} is live.[/]")


@release_app.command("rollback")
def release_rollback(
    number: int | None = typer.Argument(None, help="Default: the release that was live before this one."),
    workspace: str = WorkspaceOption,
) -> None:
    """Make an earlier release live again, at once (not gated: it is the way back)."""
    release = state.services().releases.rollback(state.workspace(workspace).id, actor(), number)
    console.print(f"Release {release.number} is live.")


@release_app.command("prune")
def release_prune(
    keep: int = typer.Option(5, "--keep", "-k", min=1, help="Keep the newest N releases (and the live one)."),
    workspace: str = WorkspaceOption,
) -> None:
    """Free disk space: delete the frozen knowledge of older releases. Their records and evaluations stay,
    but they can no longer be rolled back to."""
    pruned = state.services().releases.prune(state.workspace(workspace).id, actor(), keep)
    console.print(f"Pruned releases: {', '.join(map(str, pruned))}." if pruned else "Nothing to prune.")


@release_app.command("history")
def release_history(workspace: str = WorkspaceOption) -> None:
    """Creations, promotions, refusals and rollbacks, newest first (JSON)."""
    print_json(state.services().releases.history(state.workspace(workspace).id))


# tune, rerank, config --------------------------------------------------------------------------------------


def tune(
    golden: str = typer.Option(
        ..., "--golden", "-g", help="Golden set: tuned on its tuning split, judged on held-out."
    ),
    trials: int = typer.Option(30, "--trials", min=1, max=500),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Search retrieval and answering settings with Optuna, calibrate confidence, and propose the best as a
    release candidate, evaluated on the held-out split beside the untuned settings."""
    workspace_id = state.workspace(workspace).id
    with progress_bars() as progress:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        result = state.services().tuner.tune(workspace_id, golden, actor(), trials, update)
    if as_json:
        print_json(result)
        return
    console.print(f"Best settings after {trials} trials: {result['best_params']}")
    console.print(
        _metrics_table(
            {
                "held-out, untuned": result["held_out"]["untuned"],
                "held-out, tuned": result["held_out"]["tuned"],
            }
        )
    )
    console.print(f"Held-out calibration of the tuned confidence: ECE {result['calibration']['ece']:.3f}")
    console.print(f"Proposed as release {result['release']}: zhiwen release promote {result['release']}")


@rerank_app.command("train")
def rerank_train(
    golden: str = typer.Option(..., "--golden", "-g", help="Trained on the tuning split of this golden set."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Train the learned re-ranker and put it in the working settings; the next release freezes it."""
    with progress_bars() as progress:
        result = state.services().tuner.train_reranker(
            state.workspace(workspace).id, golden, _progress_callback(progress, "training")
        )
    print_json(result) if as_json else console.print(
        f"Re-ranker {result['fingerprint']} trained on {result['pairs']} questions; "
        "create a release to evaluate it on the held-out split."
    )


@rerank_app.command("off")
def rerank_off(workspace: str = WorkspaceOption) -> None:
    """Remove the re-ranker from the working settings."""
    state.services().targets.save_model(state.workspace(workspace).id, RERANKER_SETTING, None)
    console.print("Re-ranker removed from the working settings.")


@config_app.command("show")
def config_show(workspace: str = WorkspaceOption) -> None:
    """The working settings and which models they use (JSON)."""
    print_json(state.services().targets.working_config(state.workspace(workspace).id).summary())


@config_app.command("set")
def config_set(
    pairs: list[str] = typer.Argument(..., help="NAME=VALUE ..."), workspace: str = WorkspaceOption
) -> None:
    """Change working settings, e.g. zhiwen config set top_k=6 handoff_below=0.45"""
    services = state.services()
    workspace_id = state.workspace(workspace).id
    config = services.targets.working_config(workspace_id).with_overrides(_pairs(pairs, "setting"))
    services.targets.save_working_config(workspace_id, config)
    print_json(config.settings())
