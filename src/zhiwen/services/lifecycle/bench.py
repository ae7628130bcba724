"""Retrieval benchmarks on BEIR-layout data sets (corpus.jsonl, queries.jsonl, qrels/test.tsv)."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zhiwen.errors import InvalidInput
from zhiwen.services.knowledge.embedding import EmbeddingWorker
from zhiwen.services.knowledge.ingest import IngestService
from zhiwen.services.knowledge.retrieve import Mode, Retriever
from zhiwen.services.lifecycle.metrics import mrr_at_k, ndcg_at_k, percentile, recall_at_k
from zhiwen.text.jsonlines import json_lines


@dataclass
class BeirSet:
    corpus: dict[str, tuple[str, str]]  # id → (title, text)
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _read_jsonl(path: Path) -> list[dict[str, object]]:
    if not path.is_file():
        raise InvalidInput(
            f"{path} is missing: a BEIR data set has corpus.jsonl, queries.jsonl and qrels/test.tsv"
        )
    rows = []
    for line in json_lines(path.read_text(encoding="utf-8")):
        if line.error is not None or not isinstance(line.value, dict):
            why = line.error or "not an object"
            raise InvalidInput(f"{path}:{line.number}: invalid JSON ({why})")
        rows.append(line.value)
    return rows


def load_beir(directory: Path, max_queries: int | None = None) -> BeirSet:
    corpus = {
        str(r["_id"]): (str(r.get("title") or ""), str(r.get("text") or ""))
        for r in _read_jsonl(directory / "corpus.jsonl")
    }
    queries = {str(r["_id"]): str(r["text"]) for r in _read_jsonl(directory / "queries.jsonl")}
    qrels_path = directory / "qrels" / "test.tsv"
    if not qrels_path.is_file():
        raise InvalidInput(f"{qrels_path} is missing")
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter="\t")
        for row in reader:
            if len(row) < 3 or row[0] == "query-id":
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    kept = [q for q in queries if q in qrels]
    if max_queries is not None:
        kept = kept[:max_queries]
    return BeirSet(corpus, {q: queries[q] for q in kept}, {q: qrels[q] for q in kept})


def index_corpus(
    data: BeirSet,
    workspace_id: str,
    ingest: IngestService,
    worker: EmbeddingWorker,
    embed: bool,
    on_progress: Callable[[str, int, int], None] = lambda stage, done, total: None,
) -> dict[str, float]:
    """Ingest every corpus entry as its own document (source = its id); returns timings."""
    started = time.perf_counter()
    chunks = 0
    for i, (doc_id, (title, text)) in enumerate(data.corpus.items(), start=1):
        line = json.dumps({"title": title, "text": text}, ensure_ascii=False).encode()
        result = ingest.ingest_bytes(workspace_id, f"{doc_id}.jsonl", line, dedup=False)
        chunks += result.chunks
        if i % 200 == 0 or i == len(data.corpus):
            on_progress("index", i, len(data.corpus))
    keyword_s = time.perf_counter() - started
    embed_s = 0.0
    if embed:
        started = time.perf_counter()
        done = 0

        def progress(n: int) -> None:
            nonlocal done
            done += n
            on_progress("embed", done, chunks)

        worker.run_until_done(progress)
        embed_s = time.perf_counter() - started
    return {"chunks": chunks, "keyword_index_s": keyword_s, "embed_s": embed_s}


def evaluate_retrieval(
    data: BeirSet,
    workspace_id: str,
    retriever: Retriever,
    mode: Mode,
    on_progress: Callable[[str, int, int], None] = lambda stage, done, total: None,
) -> dict[str, float]:
    totals = {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    latencies = []
    for i, (query_id, text) in enumerate(data.queries.items(), start=1):
        result = retriever.retrieve(workspace_id, text, k=100, mode=mode)
        latencies.append(result.timings_ms["total"])
        ranked = list(dict.fromkeys(h.document_source.removesuffix(".jsonl") for h in result.hits))
        qrels = data.qrels[query_id]
        totals["ndcg@10"] += ndcg_at_k(ranked, qrels, 10)
        totals["recall@10"] += recall_at_k(ranked, qrels, 10)
        totals["recall@100"] += recall_at_k(ranked, qrels, 100)
        totals["mrr@10"] += mrr_at_k(ranked, qrels, 10)
        if i % 100 == 0 or i == len(data.queries):
            on_progress("query", i, len(data.queries))
    n = max(len(data.queries), 1)
    report = {name: value / n for name, value in totals.items()}
    report["latency_p50_ms"] = percentile(latencies, 50)
    report["latency_p95_ms"] = percentile(latencies, 95)
    report["queries"] = float(len(data.queries))
    return report
