"""ingest, documents list|delete, search, ask, calibrate."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer
from rich.table import Table

from zhiwen.cli.common import (
    JSON_HELP,
    WORKSPACE_HELP,
    console,
    print_json,
    progress_bars,
    read_input,
    state,
)
from zhiwen.errors import InvalidInput
from zhiwen.services.answers.photos import with_photo
from zhiwen.services.knowledge.ingest import IngestResult, discover
from zhiwen.services.lifecycle.golden import MIN_CHOICE_QUESTIONS, load_golden
from zhiwen.services.lifecycle.golden import calibrate as run_calibration
from zhiwen.services.lifecycle.targets import CHOICE_SETTING, CONFIDENCE_SETTING

documents_app = typer.Typer(help="List and delete ingested documents.")

_STATUS_STYLE = {"added": "green", "updated": "cyan", "unchanged": "dim", "failed": "red"}


def register(app: typer.Typer) -> None:
    app.command()(ingest)
    app.add_typer(documents_app, name="documents")
    app.command()(search)
    app.command()(ask)
    app.command()(calibrate)


def ingest(
    paths: list[Path] = typer.Argument(..., help="Files and folders (searched recursively)."),
    workspace: str = typer.Option("default", "--workspace", "-w", help=WORKSPACE_HELP),
    tag: list[str] = typer.Option(
        [], "--tag", "-t", help="Tag the documents (repeatable); filter searches by it."
    ),
    no_embed: bool = typer.Option(
        False, "--no-embed", help="Skip embeddings now; `zhiwen serve` computes them."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Load Markdown, text, HTML, PDF, DOCX, FAQ tables (CSV/XLSX) and JSONL.

    Unchanged files are skipped, changed files replace their old version, and a file that cannot be read is
    reported without stopping the rest. Example: zhiwen ingest ./help-center ./faq.xlsx --tag support
    """
    services = state.services()
    workspace_id = state.workspace(workspace).id
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise typer.BadParameter(f"no such file or folder: {', '.join(missing)}")
    files = discover(paths)
    base = paths[0] if len(paths) == 1 and paths[0].is_dir() else None
    results: list[IngestResult] = []
    with progress_bars() as progress:
        task = progress.add_task("Reading files", total=len(files))
        results = services.ingest.ingest_paths(
            workspace_id, files, tag, base=base, on_file=lambda r: progress.advance(task)
        )
        embedded = 0
        if not no_embed:
            pending = services.documents.count_chunks_needing_vectors()
            task = progress.add_task("Embedding chunks", total=pending)
            embedded = services.embedding_worker.run_until_done(lambda n: progress.advance(task, n))
    counts = {status: sum(r.status == status for r in results) for status in _STATUS_STYLE}
    if as_json:
        print_json(
            {"files": [dataclasses.asdict(r) for r in results], "counts": counts, "embedded": embedded}
        )
    else:
        table = Table("file", "status", "chunks", "duplicates", "note")
        for r in results:
            note = r.error or "; ".join(r.warnings)
            duplicates = (
                f"{r.duplicates} + {r.near_duplicates} near" if r.near_duplicates else str(r.duplicates)
            )
            table.add_row(
                r.source, f"[{_STATUS_STYLE[r.status]}]{r.status}[/]", str(r.chunks), duplicates, note
            )
        console.print(table)
        console.print(", ".join(f"{n} {s}" for s, n in counts.items() if n) + f"; {embedded} chunks embedded")
    if counts["failed"]:
        raise typer.Exit(1)


@documents_app.command("list")
def documents_list(
    workspace: str = typer.Option("default", "--workspace", "-w", help=WORKSPACE_HELP),
    limit: int = typer.Option(100, min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List documents with their chunk counts."""
    docs = state.services().documents.list_documents(state.workspace(workspace).id, limit=limit)
    if as_json:
        print_json([dataclasses.asdict(d) for d in docs])
        return
    table = Table("id", "source", "title", "chunks", "tags", "updated")
    for d in docs:
        table.add_row(d.id, d.source, d.title, str(d.chunk_count), ",".join(d.tags), d.updated_at)
    console.print(table)


@documents_app.command("delete")
def documents_delete(
    document_id: str,
    workspace: str = typer.Option("default", "--workspace", "-w", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Delete a document and remove it from every index."""
    removed = state.services().ingest.delete_document(state.workspace(workspace).id, document_id)
    if as_json:
        print_json({"deleted": document_id, "chunks_removed": removed})
    else:
        console.print(f"Deleted {document_id} ({removed} chunks).")


def search(
    query: str,
    workspace: str = typer.Option("default", "--workspace", "-w", help=WORKSPACE_HELP),
    k: int = typer.Option(5, "-k", min=1, max=100, help="How many results."),
    mode: str = typer.Option("hybrid", help="hybrid, keyword or vector."),
    tag: list[str] = typer.Option([], "--tag", "-t", help="Only documents with this tag."),
    document: list[str] = typer.Option([], "--document", "-d", help="Only this document id."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Hybrid keyword + semantic search; shows scores and the matched text."""
    if mode not in ("hybrid", "keyword", "vector"):
        raise typer.BadParameter("mode must be hybrid, keyword or vector")
    services = state.services()
    result = services.retriever.retrieve(
        state.workspace(workspace).id,
        query,
        k=k,
        mode=mode,  # type: ignore[arg-type]
        document_ids=document or None,
        tags=tag or None,
    )
    if as_json:
        print_json(
            {
                "hits": [
                    {
                        "score": h.score,
                        "keyword_score": h.keyword_score,
                        "vector_score": h.vector_score,
                        "document_id": h.chunk.document_id,
                        "source": h.document_source,
                        "title": h.document_title,
                        "chunk_id": h.chunk.id,
                        "title_path": h.chunk.title_path,
                        "kind": h.chunk.kind,
                        "question": h.chunk.question,
                        "text": h.chunk.text,
                    }
                    for h in result.hits
                ],
                "timings_ms": result.timings_ms,
            }
        )
        return
    table = Table("#", "score", "source", "text")
    for i, h in enumerate(result.hits, start=1):
        text = f"Q: {h.chunk.question}\nA: {h.chunk.text}" if h.chunk.kind == "faq" else h.chunk.text
        table.add_row(str(i), f"{h.score:.3f}", f"{h.document_source}\n{h.chunk.title_path}", text[:300])
    console.print(table)


def ask(
    question: str,
    workspace: str = typer.Option("default", "--workspace", "-w", help=WORKSPACE_HELP),
    no_llm: bool = typer.Option(False, "--no-llm", help="Answer extractively even if an LLM is configured."),
    conversation: str | None = typer.Option(
        None,
        "--conversation",
        "-c",
        help="Continue this conversation (the id an earlier answer printed), so follow-ups such as "
        "'那它多少钱？' are understood from its earlier turns.",
    ),
    image: Path | None = typer.Option(
        None, "--image", help="A photo (a label, an error on a screen): its text is read and asked with it."
    ),
    working: bool = typer.Option(
        False,
        "--working",
        help="Answer with the working knowledge and settings (what the next release freezes: a synonym or "
        "curated answer just added) instead of the live release; nothing is recorded.",
    ),
    after: list[str] = typer.Option(
        [],
        "--after",
        help="With --working: an earlier question of the conversation (repeat --after for each, oldest "
        "first), so a follow-up can be tried on the working knowledge: "
        "--after '扫地机器人多少钱' '那它保修多久'.",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Ask a question; get a cited answer, or a handoff when the knowledge does not support one.

    Each answer starts a conversation; pass its id with --conversation to ask a follow-up.
    Example: zhiwen ask "这个错误什么意思？" --image screen.jpg
    """
    if working and conversation:
        raise InvalidInput(
            "--working records nothing, so it cannot continue a conversation: give the earlier questions with"
            " --after '…' (once each, oldest first), or drop --working"
        )
    if after and not working:
        raise InvalidInput(
            "--after needs --working (it replays earlier questions on the working knowledge); to continue a"
            " conversation on the live release, pass --conversation with the id an earlier answer printed"
        )
    if any(not earlier.strip() for earlier in after):
        raise InvalidInput("--after: an earlier question is empty; give each one's text")
    services = state.services()
    if image is not None:
        photo = read_input(image)
        seen = services.vision.recognize(state.workspace(workspace).id, image.name, photo)
        read = with_photo(seen, question, services.settings.max_question_chars)
        question = read.question
        if not as_json:
            if read.product:
                console.print(f"[dim]in the photo: {read.product} (probability {seen.probability:.2f})[/]")
            console.print(f"[dim]read in the photo: {read.read or '(no text)'}[/]")
    workspace_id = state.workspace(workspace).id
    target = services.targets.working(workspace_id) if working else None
    answer = services.answerer.answer(
        workspace_id,
        question,
        conversation_id=conversation,
        use_llm=not no_llm,
        record=not working,
        target=target,
        previous=services.answerer.understand(target, after) if target and after else None,
    )
    if as_json:  # named as over HTTP, so one script reads both
        record = dataclasses.asdict(answer)
        print_json({"answer_id": record.pop("id"), **record})
        return
    style = "yellow" if answer.handoff else "green"
    if answer.understood_as:
        console.print(f"[dim]understood as: {answer.understood_as}[/]")
    console.print(f"[{style}]{answer.text}[/]")
    for c in answer.citations:
        console.print(f"  [{c.number}] {c.document_title} ({c.source})")
    for product in answer.related_products:
        console.print(f"  related: {product.title} ({product.id}), goes with {product.because_of}")
    intent = f" · intent {answer.intent.name}" if answer.intent else ""
    console.print(
        f"[dim]confidence {answer.confidence:.2f} · {answer.mode}{intent}"
        f" · {answer.timings_ms.get('total', 0):.0f} ms · "
        + ("working settings, not recorded" if working else f"conversation {answer.conversation_id}")
        + "[/]"
    )
    if answer.handoff and not working:  # the text is what a customer reads; nobody waits for it here
        console.print(
            "[dim]Handed off. Asked through the API or the widget, the conversation would now wait in "
            "the agents' desk (`zhiwen desk`); asked here, it was only recorded for review "
            "(`zhiwen review list`).[/]"
        )


def calibrate(
    golden: list[Path] = typer.Option(
        ...,
        "--golden",
        "-g",
        help="Golden questions (JSONL or CSV, conversations too), including unanswerable ones; repeat to "
        "fit on several sets.",
    ),
    workspace: str = typer.Option("default", "--workspace", "-w", help=WORKSPACE_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report only; keep the current model."),
    tune_only: bool = typer.Option(
        False,
        "--tune-only",
        help="Store the model fitted on the tuning half only, so the held-out half "
        "stays unseen by it (what the bundled default does; release evaluations use the held-out half).",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Fit answer confidence on a golden set so that 0.7 means "right 7 times in 10", and (from 200
    answerable questions in the tuning half) which retrieved passage answers.

    Fits on half the questions, reports calibration (ECE, reliability) on the other half, then stores the
    models fitted on all of them for the workspace.
    """
    services = state.services()
    workspace_id = state.workspace(workspace).id
    items = [item for path in golden for item in load_golden(path)]
    result = run_calibration(services.answerer, workspace_id, items, services.settings.handoff_below)
    model = result.tune_model if tune_only else result.model
    choice = result.tune_choice_model if tune_only else result.choice_model
    if not dry_run:
        services.targets.save_model(workspace_id, CONFIDENCE_SETTING, model.to_dict())
        # Stored even when not refitted: the confidence model holds only with the chooser it was fitted
        # with, and the bundled default may change with an upgrade.
        services.targets.save_model(workspace_id, CHOICE_SETTING, choice.to_dict())
    report = {
        "held_out_ece": result.held_out_ece,
        "held_out_reliability": result.held_out_reliability,
        "held_out_answers": result.held_out_answers,
        "tune_questions": result.tune_questions,
        "held_out_questions": result.held_out_questions,
        "share_right": result.share_right,
        "model": model.to_dict(),
        "choice_model": choice.to_dict(),
        "choice_refitted": result.choice_refitted,
        "stored": not dry_run,
    }
    if as_json:
        print_json(report)
        return
    table = Table("confidence", "questions", "mean confidence", "share right")
    for row in result.held_out_reliability:
        table.add_row(
            f"{row['from']:.1f}–{row['to']:.1f}",
            str(row["count"]),
            f"{row['mean_confidence']:.2f}",
            f"{row['accuracy']:.2f}",
        )
    console.print(table)
    console.print(
        ", ".join(f"held-out {k.replace('_', ' ')} {v:.3f}" for k, v in result.held_out_answers.items())
    )
    console.print(
        f"Held-out expected calibration error: {result.held_out_ece:.3f}"
        + ("" if dry_run else " · model stored for this workspace")
    )
    if choice is None:
        console.print(
            f"[dim]Which passage answers is still chosen by the current model: fitting it needs "
            f"{MIN_CHOICE_QUESTIONS} answerable questions in the tuning half.[/]"
        )
