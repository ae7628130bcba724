"""bench retrieval | answers: the figures that say whether a change made Zhiwen better."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import cast

import typer
from rich.progress import TaskID
from rich.table import Table

from zhiwen.cli.common import (
    JSON_HELP,
    WORKSPACE_HELP,
    console,
    err_console,
    print_json,
    progress_bars,
    state,
)
from zhiwen.errors import NotFound
from zhiwen.services.knowledge.embedding import embedding_text
from zhiwen.services.knowledge.retrieve import Mode
from zhiwen.services.lifecycle.bench import evaluate_retrieval, index_corpus, load_beir
from zhiwen.services.lifecycle.evaluate import select_split
from zhiwen.services.lifecycle.golden import load_golden, run_golden
from zhiwen.wiring import build_services

app = typer.Typer(help="Measure retrieval on BEIR-layout data sets and answers on golden question sets.")

MODES: tuple[Mode, ...] = ("keyword", "vector", "hybrid")


@app.command()
def retrieval(
    directory: Path = typer.Argument(..., help="BEIR layout: corpus.jsonl, queries.jsonl, qrels/test.tsv."),
    mode: str = typer.Option("hybrid", help="keyword, vector, hybrid, or all (one index, three runs)."),
    max_queries: int | None = typer.Option(None, min=1, help="Evaluate only the first N judged queries."),
    cache_dir: Path | None = typer.Option(
        None, help="Keep the index here and reuse it next time (default: a temporary folder, removed after)."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """nDCG@10, Recall@10/100, MRR@10, indexing throughput and query latency p50/p95."""
    if mode not in (*MODES, "all"):
        raise typer.BadParameter("mode must be keyword, vector, hybrid or all")
    modes: tuple[Mode, ...] = MODES if mode == "all" else (cast(Mode, mode),)
    data = load_beir(directory, max_queries)
    folder = cache_dir or Path(tempfile.mkdtemp(prefix="zhiwen-bench-"))
    scratch = {"data_dir": folder, "database_url": None, "candidates": 100}  # never the configured store
    services = build_services(state.settings().model_copy(update=scratch))
    try:
        try:
            workspace = services.workspaces.get_workspace("bench")
            indexing: dict[str, float] = {
                "chunks": float(services.documents.count_chunks(workspace.id)),
                "reused": 1.0,
            }
        except NotFound:
            workspace = services.workspaces.create_workspace("bench")
            with progress_bars() as progress:
                tasks: dict[str, TaskID] = {}

                def on_progress(stage: str, done: int, total: int) -> None:
                    if stage not in tasks:
                        tasks[stage] = progress.add_task(
                            {"index": "Indexing", "embed": "Embedding"}[stage], total=total
                        )
                    progress.update(tasks[stage], completed=done, total=total)

                embed = any(m != "keyword" for m in modes)
                indexing = index_corpus(
                    data, workspace.id, services.ingest, services.embedding_worker, embed, on_progress
                )
            indexing["keyword_chunks_per_s"] = indexing["chunks"] / max(indexing["keyword_index_s"], 1e-9)
            if indexing["embed_s"]:
                texts = [embedding_text(c) for c in services.documents.iter_chunks(workspace.id)]
                tokens = services.embedder.count_tokens(texts)
                indexing["embed_chunks_per_s"] = indexing["chunks"] / indexing["embed_s"]
                indexing["embed_tokens_per_s"] = tokens / indexing["embed_s"]
        reports = {}
        for m in modes:
            with progress_bars() as progress:
                task = progress.add_task(f"Querying ({m})", total=len(data.queries))

                def on_query(stage: str, done: int, total: int, task: TaskID = task) -> None:
                    progress.update(task, completed=done)

                reports[m] = evaluate_retrieval(
                    data,
                    workspace.id,
                    services.retriever,
                    m,
                    on_query,
                )
    finally:
        services.close()
        if cache_dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    result = {
        "dataset": directory.name,
        "corpus": len(data.corpus),
        "queries": len(data.queries),
        "indexing": indexing,
        "modes": reports,
    }
    if as_json:
        print_json(result)
        return
    table = Table("mode", "nDCG@10", "Recall@10", "Recall@100", "MRR@10", "p50 ms", "p95 ms")
    for m, r in reports.items():
        table.add_row(
            m,
            *(f"{r[k]:.4f}" for k in ("ndcg@10", "recall@10", "recall@100", "mrr@10")),
            f"{r['latency_p50_ms']:.1f}",
            f"{r['latency_p95_ms']:.1f}",
        )
    console.print(table)
    err_console.print({k: round(v, 2) for k, v in indexing.items()})


@app.command()
def answers(
    golden: Path = typer.Argument(
        ..., help="JSONL: question, expected_answer, expected_document, answerable."
    ),
    workspace: str = typer.Option("default", "--workspace", "-w", help=WORKSPACE_HELP),
    use_llm: bool = typer.Option(
        False, "--llm", help="Answer with the configured LLM instead of extractively."
    ),
    details: bool = typer.Option(
        False, "--details", help="Include every question's result in --json output."
    ),
    split: str = typer.Option(
        "all",
        "--split",
        help="all, tune or held_out: the half of the golden set to score (a question's half comes from "
        "its hash; report held_out for anything you tuned on the tune half).",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Answer accuracy, citation accuracy, handoff precision/recall, calibration and follow-ups on a
    golden set (single questions and conversations)."""
    services = state.services()
    items = select_split(load_golden(golden), split)
    with progress_bars() as progress:
        task = progress.add_task("Asking", total=len(items))
        report = run_golden(
            services.answerer,
            state.workspace(workspace).id,
            items,
            use_llm,
            lambda done, total: progress.update(task, completed=done),
        )
    summary = report.summary()
    if as_json:
        if details:
            summary["results"] = [dataclasses.asdict(r) for r in report.results]
        print_json(summary)
        return
    table = Table("metric", "value")
    for key, value in summary.items():
        if key == "by_language":
            for language, figures in value.items():
                table.add_row(
                    f"  {language}",
                    ", ".join(
                        f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items()
                    ),
                )
            continue
        table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    console.print(table)
    wrong = [
        r for r in report.results if (r.answerable and not r.right) or (not r.answerable and not r.handoff)
    ]
    for r in wrong[:15]:
        console.print(f"[red]✗[/] {r.question} → [dim]{r.mode} {r.confidence:.2f}[/] {r.answer[:100]}")
