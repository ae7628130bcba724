"""zhiwen reviews import|train|models|show|promote|rollback|gate|score|classify|topics|summary."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer
from rich.table import Table

from zhiwen.cli.common import (
    JsonOption,
    WorkspaceOption,
    console,
    err_console,
    print_json,
    progress_bars,
    state,
    step_bars,
)
from zhiwen.cli.feedback import actor
from zhiwen.cli.model_commands import add_gate_commands, finish_training
from zhiwen.errors import InvalidInput
from zhiwen.services.reviews import charts as review_charts
from zhiwen.services.reviews.insights import Period
from zhiwen.services.reviews.sentiment_release import GATED
from zhiwen.services.reviews.sentiment_train import CANDIDATES, SearchSettings
from zhiwen.types import ModelVersion

reviews_app = typer.Typer(
    help=(
        "Customer reviews: import them, train a sentiment model on your labels, score, find complaint "
        "topics, and see satisfaction per product and period.\n\n"
        "Typical flow: `zhiwen reviews import reviews.csv` → `zhiwen reviews train` → "
        "`zhiwen reviews promote 1` → `zhiwen reviews score` → `zhiwen reviews topics --build` → "
        "`zhiwen reviews summary --html report.html`. "
        "Before any model is promoted, a zero-shot baseline scores."
    ),
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(reviews_app, name="reviews")


@reviews_app.command("import")
def import_reviews(
    files: list[Path] = typer.Argument(None, help="CSV, XLSX or JSONL files with a text column."),
    conversations: bool = typer.Option(
        False,
        "--conversations",
        help="Also import customers' messages to the assistant (channel 'assistant').",
    ),
    since: str | None = typer.Option(None, help="With --conversations: only messages since this date."),
    score: bool = typer.Option(True, "--score/--no-score", help="Score new reviews with the live model."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Import reviews. Columns are found by name: text (评论/内容), and optionally rating, product (商品/sku),
    channel, timestamp (时间), label (negative/neutral/positive, 0/1, 好评/差评). Bad rows are listed with
    their row numbers; the good ones are imported. Importing the same file again adds nothing."""
    if not files and not conversations:
        raise InvalidInput("name at least one file, or pass --conversations")
    services = state.services()
    workspace_id = state.workspace(workspace).id
    reports = []
    with progress_bars() as progress:
        for path in files or []:
            if not path.is_file():
                raise InvalidInput(f"{path}: no such file")
            reports.append(
                services.reviews.import_file(
                    workspace_id, path.name, path.read_bytes(), score, step_bars(progress)
                )
            )
    if conversations:
        reports.append(services.reviews.import_conversations(workspace_id, since, score))
    if as_json:
        print_json([r.to_dict() for r in reports])
        return
    for report in reports:
        console.print(
            f"{report.source}: {report.imported} imported, {report.already_stored} already stored, "
            f"{len(report.problems)} rows with problems, {report.scored} scored."
        )
        for problem in report.problems[:20]:
            console.print(f"  row {problem['row']}: {problem['problem']}", style="yellow")
        if len(report.problems) > 20:
            console.print(f"  … and {len(report.problems) - 20} more (use --json for all)", style="yellow")


@reviews_app.command("train")
def train(
    candidates: str = typer.Option(
        ",".join(CANDIDATES),
        help="Models to compare by cross-validation: ngram (fast, ~1 ms/review), embedding and blend "
        "(embed each review, ~26 ms). Use 'ngram' alone where scoring speed matters most.",
    ),
    from_ratings: bool = typer.Option(
        False, "--from-ratings", help="Learn from star ratings where a review has no label (1-2 / 3 / 4-5)."
    ),
    folds: int = typer.Option(3, min=2, max=10, help="Cross-validation folds."),
    max_embedded: int = typer.Option(6000, min=100, help="Training reviews the embedding models learn from."),
    promote: bool = typer.Option(False, "--promote", help="Promote at once if it passes the gate."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Train a sentiment model on the labelled reviews (held-out 20 % kept apart for evaluation), compare
    candidates by cross-validation with a small hyperparameter search, keep the best as a new version."""
    chosen = tuple(c.strip() for c in candidates.split(",") if c.strip())
    unknown = sorted(set(chosen) - set(CANDIDATES))
    if unknown:
        raise InvalidInput(f"unknown candidate(s) {', '.join(unknown)}; choose from {', '.join(CANDIDATES)}")
    settings = SearchSettings(candidates=chosen, folds=folds, max_embedded=max_embedded)
    services = state.services()
    workspace_id = state.workspace(workspace).id
    with progress_bars() as progress:
        model = services.sentiment.train(workspace_id, actor(), settings, from_ratings, step_bars(progress))
    finish_training(
        services.sentiment,
        workspace_id,
        model,
        promote,
        as_json,
        _print_model,
        "zhiwen reviews promote",
        public=_public(model),
    )


def _public(model: ModelVersion) -> dict[str, object]:
    data = dataclasses.asdict(model)
    data["report"] = {k: v for k, v in model.report.items() if k != "predictions"}
    return data


def _print_model(model: ModelVersion) -> None:
    report = model.report
    console.print(
        f"[bold]Sentiment model v{model.version}[/]: {model.kind} {model.params}, "
        f"trained on {report.get('train_reviews', 0):,} reviews in {report.get('train_seconds', 0)} s"
    )
    table = Table("candidate", "settings", "CV macro-F1 (same sample)", "chosen")
    for row in report.get("comparison", []):
        table.add_row(
            row["candidate"],
            str(row["params"]),
            f"{row['sample_macro_f1']:.4f}",
            "✓" if row["chosen"] else "",
        )
    console.print(table)
    held = report.get("held_out") or {}
    if held.get("reviews"):
        console.print(
            f"Held out ({held['reviews']:,} reviews): accuracy {held['accuracy']:.4f}, "
            f"macro-F1 {held['macro_f1']:.4f}"
        )
        per_label = Table("label", "precision", "recall", "F1", "support")
        for label, m in held["per_label"].items():
            per_label.add_row(
                label, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", str(m["support"])
            )
        console.print(per_label)
    zero = report.get("zero_shot") or {}
    if zero.get("reviews"):
        console.print(
            f"Zero-shot baseline on {zero['reviews']:,} of them: accuracy {zero['accuracy']:.4f}, "
            f"macro-F1 {zero['macro_f1']:.4f}"
        )


@reviews_app.command("models")
def models(workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """Sentiment model versions with their held-out figures; the live one is marked."""
    services = state.services()
    workspace_id = state.workspace(workspace).id
    family = services.sentiment.family
    versions = family.versions(workspace_id)
    live = family.live_version(workspace_id)
    if as_json:
        print_json({"live": live, "models": [_public(m) for m in versions]})
        return
    table = Table("version", "kind", "trained on", "held-out accuracy", "macro-F1", "created", "live")
    for m in versions:
        held = m.report.get("held_out") or {}
        table.add_row(
            str(m.version),
            m.kind,
            f"{m.report.get('train_reviews', 0):,}",
            f"{held.get('accuracy', 0):.4f}" if held.get("reviews") else "–",
            f"{held.get('macro_f1', 0):.4f}" if held.get("reviews") else "–",
            m.created_at[:19],
            "●" if m.version == live else "",
        )
    console.print(table)
    if live is None:
        console.print("No model is live: reviews are scored by the zero-shot baseline.")


@reviews_app.command("show")
def show(
    version: int,
    plot: Path | None = typer.Option(None, help="Write the held-out confusion matrix as a PNG here."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """One model version: the candidates it beat, held-out metrics per label, the zero-shot baseline."""
    model = state.services().sentiment.family.get(state.workspace(workspace).id, version)
    held = model.report.get("held_out") or {}
    if plot is not None:
        if not held.get("reviews"):
            raise InvalidInput(f"v{version} has no held-out evaluation to plot")
        plot.write_bytes(
            review_charts.confusion_png(held["labels"], held["confusion"], f"v{version} held out")
        )
        err_console.print(f"Wrote {plot}")
    print_json(_public(model)) if as_json else _print_model(model)


add_gate_commands(
    reviews_app,
    lambda *_: state.services().sentiment,
    "sentiment model",
    GATED,
    "macro_f1=0.9",
    "Make version N live if it passes the gate: the minimums (`zhiwen reviews gate`), and accuracy and"
    " macro-F1 no worse than the live model's on the same held-out reviews beyond the tolerance."
    " Exit 1 if not.",
    promoted="Rescore stored reviews with it: `zhiwen reviews score --all`.",
)


@reviews_app.command("score")
def score(
    rescore_all: bool = typer.Option(
        False, "--all", help="Rescore every review, not just the unscored ones."
    ),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Score stored reviews with the live model (or the zero-shot baseline) and assign negative ones to
    complaint topics."""
    services = state.services()
    with progress_bars() as progress:
        count = services.reviews.score(
            state.workspace(workspace).id, rescore=rescore_all, progress=step_bars(progress)
        )
    print_json({"scored": count}) if as_json else console.print(f"Scored {count:,} reviews.")


@reviews_app.command("classify")
def classify(
    texts: list[str] = typer.Argument(..., help="Review texts, each in quotes."),
    product: str = typer.Option("", help="The product they are about (models can learn per product)."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Label texts with the live model without storing them, with the words that drove each decision.
    Example: zhiwen reviews classify "送餐太慢了，菜都凉了" "Great phone, fast delivery" """
    results = state.services().reviews.classify(state.workspace(workspace).id, [(t, product) for t in texts])
    if as_json:
        print_json([dataclasses.asdict(r) for r in results])
        return
    table = Table("text", "label", "probability", "because of", "model")
    for text, r in zip(texts, results, strict=True):
        table.add_row(text[:60], r.label, f"{r.probability:.3f}", ", ".join(w for w, _ in r.words), r.model)
    console.print(table)


@reviews_app.command("topics")
def topics(
    build: bool = typer.Option(
        False, "--build", help="Cluster the negative reviews again (k chosen automatically)."
    ),
    k: int | None = typer.Option(None, help="With --build: a fixed number of topics instead."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Complaint topics: negative reviews clustered on their embeddings, named by their keywords."""
    services = state.services()
    workspace_id = state.workspace(workspace).id
    if build:
        with progress_bars() as progress:
            model = services.insights.build_topics(workspace_id, k, step_bars(progress))
    else:
        found = services.insights.topics(workspace_id)
        if found is None:
            raise InvalidInput("no topics yet; build them with `zhiwen reviews topics --build`")
        model = found
    if as_json:
        print_json(
            {
                "silhouette": model.silhouette,
                "reviews": model.reviews,
                "topics": [t.__dict__ for t in model.topics],
            }
        )
        return
    table = Table("#", "topic", "reviews", "keywords", "example")
    for t in model.topics:
        table.add_row(
            str(t.id), t.name, str(t.size), " ".join(t.keywords), t.examples[0][:50] if t.examples else ""
        )
    console.print(table)
    console.print(
        f"{len(model.topics)} topics from {model.reviews:,} negative reviews (silhouette {model.silhouette})."
    )


@reviews_app.command("summary")
def summary(
    product: str | None = typer.Option(None, help="Only this product."),
    period: str = typer.Option("month", help="day, week or month."),
    since: str | None = typer.Option(None, help="From this date (inclusive), e.g. 2026-01-01."),
    until: str | None = typer.Option(None, help="Before this date."),
    html_path: Path | None = typer.Option(None, "--html", help="Write an HTML report with charts here."),
    png_path: Path | None = typer.Option(None, "--png", help="Write the trend chart as a PNG here."),
    open_it: bool = typer.Option(False, "--open", help="Open the HTML report in a browser."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Satisfaction, volume and top complaint topics per product (per period too with --json, --html and
    --png)."""
    if period not in ("day", "week", "month"):
        raise InvalidInput(f"--period {period!r}: use day, week or month")
    chosen: Period = period  # type: ignore[assignment]
    data = state.services().insights.summary(state.workspace(workspace).id, product, chosen, since, until)
    if png_path is not None:
        png_path.write_bytes(review_charts.trend_png(data))
        err_console.print(f"Wrote {png_path}")
    if html_path is not None:
        html_path.write_text(review_charts.summary_html(data), encoding="utf-8")
        err_console.print(f"Wrote {html_path}")
        if open_it:
            import webbrowser

            webbrowser.open(html_path.resolve().as_uri())
    if as_json:
        print_json(data)
        return
    table = Table("product", "reviews", "scored", "satisfaction", "negative", "top complaints")
    for p in data["products"]:
        satisfaction = "–" if p["satisfaction"] is None else f"{100 * p['satisfaction']:.1f}%"
        names = ", ".join(str(t["name"]) for t in p["top_topics"])
        table.add_row(
            p["product"], str(p["reviews"]), str(p["scored"]), satisfaction, str(p["negative"]), names
        )
    console.print(table)
