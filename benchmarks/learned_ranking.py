"""Learned re-ranking on a BEIR-layout set: train on one half of the queries, report nDCG@10 on the other.

    python -m benchmarks.learned_ranking DATASET_DIR --cache-dir .bench/idx-NAME [--json]

The cache dir is the one `zhiwen bench retrieval --cache-dir` builds (the corpus indexed and embedded in
workspace "bench"). Queries are split by `split_of(query text)`, as golden questions are: "tune" trains,
"held_out" is reported.
(Not by query id: stackfaq_dev's ids all fall in one half.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from benchmarks.common import machine, percentile
from zhiwen.config import Settings
from zhiwen.services.answers.config import AnswerConfig
from zhiwen.services.knowledge.learn import train_reranker
from zhiwen.services.knowledge.rerank import Reranker
from zhiwen.services.knowledge.retrieve import Retriever
from zhiwen.services.lifecycle.bench import load_beir
from zhiwen.services.lifecycle.golden import split_of
from zhiwen.services.lifecycle.metrics import ndcg_at_k
from zhiwen.wiring import build_services


def held_out_ndcg(
    retriever: Retriever,
    workspace_id: str,
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    reranker: Reranker | None,
    latencies: list[float],
) -> float:
    total = 0.0
    for query_id, text in queries.items():
        result = retriever.retrieve(workspace_id, text, k=10, reranker=reranker)
        latencies.append(result.timings_ms["total"])
        hits = result.hits
        ranked = list(dict.fromkeys(h.document_source.removesuffix(".jsonl") for h in hits))
        total += ndcg_at_k(ranked, qrels[query_id], 10)
    return total / max(len(queries), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    data = load_beir(args.dataset)
    services = build_services(Settings(data_dir=args.cache_dir))
    try:
        workspace = services.workspaces.get_workspace("bench")
        train = {q: t for q, t in data.queries.items() if split_of(t) == "tune"}
        held_out = {q: t for q, t in data.queries.items() if split_of(t) == "held_out"}
        hashes: dict[str, str] = {}
        for chunk in services.documents.iter_chunks(workspace.id):
            hashes.setdefault(chunk.document_id, chunk.content_hash)
        by_source = {
            d.source.removesuffix(".jsonl"): d.id
            for d in services.documents.list_documents(workspace.id, limit=10_000_000)
        }
        pairs = [
            (
                text,
                {hashes[by_source[d]] for d, grade in data.qrels[q].items() if grade > 0 and d in by_source},
            )
            for q, text in train.items()
        ]
        started = time.perf_counter()
        reranker = train_reranker(
            services.retriever,
            services.embedder,
            workspace.id,
            pairs,
            AnswerConfig(),
            on_progress=lambda d, t: print(f"training {d}/{t}", file=sys.stderr) if d % 500 == 0 else None,
        )
        train_s = time.perf_counter() - started
        print(file=sys.stderr)
        plain_ms: list[float] = []
        reranked_ms: list[float] = []
        before = held_out_ndcg(services.retriever, workspace.id, held_out, data.qrels, None, plain_ms)
        after = held_out_ndcg(services.retriever, workspace.id, held_out, data.qrels, reranker, reranked_ms)
    finally:
        services.close()
    report = {
        "dataset": args.dataset.name,
        "train_queries": len(train),
        "held_out_queries": len(held_out),
        "held_out_ndcg@10_hybrid": round(before, 4),
        "held_out_ndcg@10_reranked": round(after, 4),
        "relative_gain": round(after / before - 1, 4) if before else None,
        "train_s": round(train_s, 1),
        "search_p50_ms_hybrid": round(percentile(plain_ms, 50), 1),
        "search_p50_ms_reranked": round(percentile(reranked_ms, 50), 1),
        "search_p95_ms_reranked": round(percentile(reranked_ms, 95), 1),
        "machine": machine(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:28} {value}")


if __name__ == "__main__":
    main()
