"""zhiwen models profile|create|train|list|versions|show|predict|drift|predictions|delete, and the
shared promote|rollback|gate."""

from __future__ import annotations

import csv
import io
import json
import re
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
    read_input,
    state,
    step_bars,
)
from zhiwen.cli.feedback import actor
from zhiwen.cli.model_commands import add_gate_commands, finish_training
from zhiwen.errors import InvalidInput
from zhiwen.services.models import charts
from zhiwen.services.models.profile import TableProfile
from zhiwen.services.models.service import GATED, MAX_PREDICT_ROWS
from zhiwen.services.models.table import read_table
from zhiwen.services.models.train import DEFAULT_BUDGET_SECONDS, TrainSettings
from zhiwen.types import ModelVersion

models_app = typer.Typer(
    help=(
        "Custom models on your own tables: which customers will leave, which tickets will escalate.\n\n"
        "Typical flow: `zhiwen models profile customers.csv --target Churn` (what Zhiwen sees) → "
        "`zhiwen models create churn --from customers.csv --target Churn` (trains v1, held-out figures) → "
        "`zhiwen models promote churn 1` (through the gate) → `zhiwen models predict churn new.csv` "
        "(or POST /v1/models/churn/predict) → `zhiwen models drift churn`."
    ),
    no_args_is_help=True,
)
FromOption = typer.Option(..., "--from", help="The table: CSV, XLSX or JSONL (UTF-8 or GBK), header first.")
BudgetOption = typer.Option(
    DEFAULT_BUDGET_SECONDS,
    "--budget",
    min=5,
    max=3600,
    help="Seconds for the search of each candidate's settings.",
)
DropOption = typer.Option(
    "", "--drop", help="Columns to leave out, comma-separated (e.g. ones known too late)."
)
PromoteOption = typer.Option(False, "--promote", help="Promote at once if it passes the gate.")
TrialsOption = typer.Option(
    None,
    "--trials",
    min=1,
    max=1000,
    help="At most this many trials per candidate: the same model on any machine.",
)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")


def _drop(value: str) -> list[str]:
    return [c.strip() for c in value.split(",") if c.strip()]


@models_app.command("profile")
def profile(
    path: Path = typer.Argument(..., help="The table to look at."),
    target: str = typer.Option(..., "--target", help="The column to predict."),
    drop: str = DropOption,
    as_json: bool = JsonOption,
) -> None:
    """What Zhiwen sees in a table before training: each column's kind (numeric, categorical, date, text,
    identifier, constant), missing values, the task (classification or regression), likely leakage. Exits
    with the reason when nothing can be learned (one target value, too few rows)."""
    found = state.services().table_models.profile(path.name, read_input(path), target, _drop(drop))
    if as_json:
        print_json(found.to_dict())
        return
    _print_profile(found)


def _print_profile(found: TableProfile) -> None:
    task: str = found.task
    if task == "classification":
        task += " of " + ", ".join(f"{label} ({n:,})" for label, n in found.class_counts.items())
    console.print(f"[bold]{found.rows:,}[/] rows to learn {found.target!r}: {task}")
    table = Table("column", "kind", "missing", "distinct", "examples", "used", "note")
    for c in found.columns:
        table.add_row(
            c.name,
            c.kind,
            f"{c.missing:.1%}",
            f"{c.distinct:,}",
            ", ".join(c.examples),
            "yes" if c.used else "[dim]no[/]",
            c.note,
        )
    console.print(table)
    for warning in found.warnings:
        console.print(f"[yellow]warning:[/] {warning}")


def _train_and_report(name: str, train: Any, promote: bool, workspace_id: str, as_json: bool) -> None:
    with progress_bars() as progress:
        model: ModelVersion = train(step_bars(progress))
    finish_training(
        state.services().table_models.named(workspace_id, name),
        workspace_id,
        model,
        promote,
        as_json,
        lambda version: _print_version(name, version),
        f"zhiwen models promote {name}",
    )


@models_app.command("create")
def create(
    name: str = typer.Argument(..., help="A short name for URLs: lowercase letters, digits, '-' and '_'."),
    path: Path = FromOption,
    target: str = typer.Option(..., "--target", help="The column to predict."),
    drop: str = DropOption,
    budget: float = BudgetOption,
    trials: int | None = TrialsOption,
    promote: bool = PromoteOption,
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Create a model and train its first version: a held-out fifth of the rows is set aside; a baseline,
    a regularised linear model and LightGBM are compared by 5-fold cross-validation (Optuna searches their
    settings within the budget); the winner's probabilities are calibrated and it is measured on the
    held-out rows. Not live until promoted."""
    services = state.services()
    workspace_id = state.workspace(workspace).id
    data = read_input(path)
    settings = TrainSettings(budget_seconds=budget, max_trials=trials)
    _train_and_report(
        name,
        lambda bars: services.table_models.create(
            workspace_id, name, path.name, data, target, actor(), _drop(drop), settings, bars
        ),
        promote,
        workspace_id,
        as_json,
    )


@models_app.command("train")
def train(
    name: str = typer.Argument(..., help="The model's name."),
    path: Path = FromOption,
    budget: float = BudgetOption,
    trials: int | None = TrialsOption,
    promote: bool = PromoteOption,
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Train a new version from a new or grown table with the same target column."""
    services = state.services()
    workspace_id = state.workspace(workspace).id
    data = read_input(path)
    settings = TrainSettings(budget_seconds=budget, max_trials=trials)
    _train_and_report(
        name,
        lambda bars: services.table_models.train(
            workspace_id, name, path.name, data, actor(), settings, bars
        ),
        promote,
        workspace_id,
        as_json,
    )


def _print_version(name: str, model: ModelVersion) -> None:
    report = model.report
    rows = report["rows"]
    console.print(
        f"[bold]{name} v{model.version}[/] {model.kind} · {report['task']} of {report['target']!r} ·"
        f" {rows['train']:,} rows trained on, {rows['held_out']:,} held out · {report['train_seconds']} s"
    )
    metric = report["cv_metric"]
    table = Table("candidate", f"cross-validated {metric}", "trials", "held-out " + ", ".join(_shown(report)))
    held = {report["chosen"]: report.get("held_out") or {}, **(report.get("held_out_candidates") or {})}
    for candidate, result in report["comparison"].items():
        mark = " (chosen)" if candidate == report["chosen"] else ""
        figures = held.get(candidate) or {}
        cv = -result["cv"] if metric == "rmse" else result["cv"]
        table.add_row(
            candidate + mark,
            figure(cv),
            str(result["trials"]),
            " · ".join(figure(figures.get(m)) for m in _shown(report)),
        )
    console.print(table)
    chosen = report.get("held_out") or {}
    interval = chosen.get("roc_auc_ci95") or chosen.get("rmse_ci95")
    if interval:
        label = "ROC-AUC" if "roc_auc_ci95" in chosen else "RMSE"
        console.print(f"held-out {label} 95 % interval (bootstrap): {interval[0]:.4f} – {interval[1]:.4f}")
    if chosen.get("ece") is not None:
        console.print(f"expected calibration error: {chosen['ece']:.4f} (0 is perfect)")
    top = ", ".join(f"{c['column']} {c['importance']:.3f}" for c in (report.get("importance") or [])[:6])
    if top:
        console.print(f"columns it leans on: {top}")
    for warning in report["profile"].get("warnings", []):
        console.print(f"[yellow]warning:[/] {warning}")


def _shown(report: dict[str, Any]) -> tuple[str, ...]:
    return ("rmse", "mae", "r2") if report["task"] == "regression" else ("roc_auc", "accuracy", "f1")


@models_app.command("list")
def list_models(workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """The workspace's table models, their target and live version."""
    services = state.services()
    workspace_id = state.workspace(workspace).id
    models = services.table_models
    rows = []
    for name, definition in sorted(models.definitions(workspace_id).items()):
        family = models.named(workspace_id, name).family
        rows.append(
            {
                "name": name,
                **definition,
                "live": family.live_version(workspace_id),
                "versions": len(family.versions(workspace_id)),
            }
        )
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("No table models yet: `zhiwen models create NAME --from FILE --target COLUMN`.")
        return
    table = Table("name", "target", "task", "versions", "live")
    for r in rows:
        table.add_row(
            r["name"],
            r["target"],
            r["task"],
            str(r["versions"]),
            "–" if r["live"] is None else f"v{r['live']}",
        )
    console.print(table)


@models_app.command("versions")
def versions(name: str, workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """A model's versions with their held-out figures; the live one is marked."""
    workspace_id = state.workspace(workspace).id
    family = state.services().table_models.named(workspace_id, name).family
    found = family.versions(workspace_id)
    live = family.live_version(workspace_id)
    if as_json:
        print_json({"live": live, "models": [v.__dict__ for v in found]})
        return
    shown = _shown(found[0].report) if found else ()
    table = Table("version", "kind", *shown, "held-out rows", "created")
    for v in found:
        held = v.report.get("held_out") or {}
        mark = " (live)" if v.version == live else ""
        table.add_row(
            f"v{v.version}{mark}",
            v.kind,
            *(figure(held.get(m)) for m in shown),
            str(held.get("rows", 0)),
            v.created_at[:19],
        )
    console.print(table)


@models_app.command("show")
def show(
    name: str,
    version: int,
    plots: Path | None = typer.Option(
        None, "--plots", help="Write calibration.png and importance.png into this folder."
    ),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """One version: the candidates compared, held-out figures with their interval, calibration, the
    columns it leans on; with --plots, the calibration curve and the importance chart as PNG."""
    workspace_id = state.workspace(workspace).id
    model = state.services().table_models.named(workspace_id, name).family.get(workspace_id, version)
    if plots is not None:
        plots.mkdir(parents=True, exist_ok=True)
        title = f"{name} v{version}, held out"
        written = []
        if (model.report.get("held_out") or {}).get("calibration"):
            (plots / "calibration.png").write_bytes(charts.calibration_png(model.report, title))
            written.append("calibration.png")
        if model.report.get("importance"):
            (plots / "importance.png").write_bytes(charts.importance_png(model.report, title))
            written.append("importance.png")
        if not as_json:
            console.print(f"wrote {', '.join(written) or 'nothing (no held-out figures)'} to {plots}")
    if as_json:
        print_json(model.__dict__)
        return
    _print_version(name, model)


@models_app.command("predict")
def predict(
    name: str = typer.Argument(..., help="The model's name."),
    path: Path = typer.Argument(..., help="Rows to predict: CSV, XLSX or JSONL with the model's columns."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write the rows with their predictions as CSV."
    ),
    version: int | None = typer.Option(None, "--version", help="Default: the live version."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Predict every row of a file: the prediction, its probability and the columns that drove it. A
    missing column or a value of the wrong type stops with the row named; an unseen category is a warning."""
    workspace_id = state.workspace(workspace).id
    table = read_table(path.name, read_input(path))
    if len(table.rows) > MAX_PREDICT_ROWS * 10:
        raise InvalidInput(
            f"{path}: {len(table.rows):,} rows; predict at most {MAX_PREDICT_ROWS * 10:,} at once"
        )
    models = state.services().table_models
    results = []
    used = version
    with progress_bars() as progress:
        task = progress.add_task("predicting", total=len(table.rows))
        for start in range(0, len(table.rows), MAX_PREDICT_ROWS):
            batch = table.rows[start : start + MAX_PREDICT_ROWS]
            try:
                used, found = models.predict(workspace_id, name, batch, version)
            except InvalidInput as error:
                raise InvalidInput(
                    f"{path}: {_spreadsheet_rows(str(error), table.line_numbers, start, len(batch))}"
                ) from None
            results += found
            progress.update(task, advance=len(batch))
    if as_json:
        print_json({"model": name, "version": used, "predictions": [p.to_dict() for p in results]})
        return
    if out is not None:
        _write_csv(out, table.columns, table.rows, results)
        console.print(f"{len(results):,} predictions of {name} v{used} written to {out}")
        return
    positive = (
        models.named(workspace_id, name).family.get(workspace_id, used).report.get("positive")
        if used
        else None
    )
    effect = f"drivers (effect on P({positive}))" if positive else "drivers (effect)"
    shown = Table("row", "prediction", "probability", effect, "warnings")
    for number, p in list(zip(table.line_numbers, results, strict=True))[:50]:
        drivers = ", ".join(f"{d['column']}={d['value']} ({d['effect']:+.3f})" for d in p.drivers[:3])
        shown.add_row(str(number), str(p.value), figure(p.probability), drivers, "; ".join(p.warnings))
    console.print(shown)
    if len(results) > 50:
        console.print(f"… {len(results) - 50:,} more; --out FILE writes them all")


def _spreadsheet_rows(message: str, numbers: list[int], start: int, size: int) -> str:
    """'row 3: …' in a batch → the spreadsheet's row number, which the person can find (a batch of one
    row names none: its number is added)."""

    def spreadsheet(match: re.Match[str]) -> str:
        at = start + int(match.group(1)) - 1
        return f"row {numbers[at]}" if start <= at < start + size else match.group(0)

    if size == 1:
        return f"row {numbers[start]}: {message}"
    return re.sub(r"\brow (\d+)\b", spreadsheet, message)


def _write_csv(out: Path, columns: list[str], rows: list[dict[str, Any]], results: list[Any]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*columns, "prediction", "probability", "drivers", "warnings"])
    for row, p in zip(rows, results, strict=True):
        writer.writerow(
            [
                *(row.get(c, "") for c in columns),
                p.value,
                "" if p.probability is None else p.probability,
                json.dumps(p.drivers, ensure_ascii=False),
                "; ".join(p.warnings),
            ]
        )
    out.write_text(buffer.getvalue(), encoding="utf-8")


@models_app.command("drift")
def drift(
    name: str,
    limit: int = typer.Option(1000, help="Compare the latest this many predictions."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Have the live version's inputs moved away from its training rows? PSI per column: under 0.1
    stable, 0.1-0.25 moderate, over 0.25 shifted."""
    report = state.services().table_models.drift(state.workspace(workspace).id, name, limit)
    if as_json:
        print_json(report)
        return
    console.print(f"{name} v{report['version']}: {report['rows']:,} predictions · {report['message']}")
    if report["columns"]:
        table = Table("column", "PSI", "level")
        for c in report["columns"]:
            table.add_row(c["column"], f"{c['psi']:.4f}", c["level"])
        console.print(table)


@models_app.command("predictions")
def predictions(
    name: str,
    limit: int = typer.Option(20, help="How many, newest first."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """The latest logged predictions with their inputs."""
    found = state.services().table_models.predictions(state.workspace(workspace).id, name, limit)
    if as_json:
        print_json(found)
        return
    for entry in found:
        console.print(
            f"{entry['at']} v{entry['version']} → {entry['output']}"
            f"  {json.dumps(entry['inputs'], ensure_ascii=False)[:160]}"
        )


@models_app.command("delete")
def delete(name: str, workspace: str = WorkspaceOption) -> None:
    """Forget a model and its prediction log (its versions stay on record)."""
    state.services().table_models.delete(state.workspace(workspace).id, name)
    console.print(f"Deleted {name}.")


add_gate_commands(
    models_app,
    lambda workspace_id, name: state.services().table_models.named(workspace_id, name),
    "table model",
    GATED["classification"] + GATED["regression"],
    "roc_auc=0.8",
    "Make version N of a model live if it passes the gate: the minimums (`zhiwen models gate NAME`), better"
    " than the baseline, and no worse than the live version on the new version's held-out rows beyond the"
    " tolerance. Exit 1 if not.",
    named=True,
)
