"""Dump each query's keyword and vector candidates from an index built by `zhiwen bench retrieval
--cache-dir`, then compare fusion weights offline (docs/decisions/0002-fusion.md).

    zhiwen bench retrieval ../shared/data/retrieval/stackfaq_dev --cache-dir .bench/idx-stackfaq_dev
    python -m benchmarks.fusion_candidates ../shared/data/retrieval/stackfaq_dev .bench/idx-stackfaq_dev
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial
from pathlib import Path

from zhiwen.config import Settings
from zhiwen.services.knowledge.fusion import (
    Candidate,
    absolute_bm25_fusion,
    reciprocal_rank_fusion,
    spread_weighted_fusion,
)
from zhiwen.services.lifecycle.bench import load_beir
from zhiwen.services.lifecycle.metrics import ndcg_at_k
from zhiwen.wiring import build_services

Rows = list[tuple[dict[str, int], list[Candidate], dict[str, str]]]


def collect(beir: Path, index: Path) -> Rows:
    data = load_beir(beir)
    services = build_services(Settings(data_dir=index, candidates=100))
    workspace = services.workspaces.get_workspace("bench")
    sources = {c.id: c.document_id for c in services.documents.iter_chunks(workspace.id)}
    documents = {d: services.documents.get_document(workspace.id, d).source for d in set(sources.values())}
    rows: Rows = []
    for query_id, text in data.queries.items():
        result = services.retriever.retrieve(workspace.id, text, k=100)
        doc_of = {
            c.chunk_id: documents[sources[c.chunk_id]].removesuffix(".jsonl") for c in result.candidates
        }
        rows.append((data.qrels[query_id], result.candidates, doc_of))
    services.close()
    return rows


def ndcg(rows: Rows, fuse: Callable[[list[Candidate]], dict[str, float]]) -> float:
    total = 0.0
    for qrels, candidates, doc_of in rows:
        scores = fuse(candidates)
        best: dict[str, float] = {}
        for chunk_id, score in scores.items():
            doc = doc_of[chunk_id]
            best[doc] = max(score, best.get(doc, float("-inf")))
        total += ndcg_at_k(sorted(best, key=best.__getitem__, reverse=True), qrels, 10)
    return total / len(rows)


def keyword_only(candidates: list[Candidate]) -> dict[str, float]:
    return {c.chunk_id: c.keyword for c in candidates if c.keyword is not None}


def vector_only(candidates: list[Candidate]) -> dict[str, float]:
    """As retrieval's vector mode ranks: by :attr:`Candidate.dense` (the passage's and its closest
    sentence's cosines)."""
    return {c.chunk_id: d for c in candidates if (d := c.dense) is not None and c.vector_rank is not None}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("beir", type=Path)
    parser.add_argument("index", type=Path)
    args = parser.parse_args()
    rows = collect(args.beir, args.index)
    report = {
        "keyword": ndcg(rows, keyword_only),
        "vector": ndcg(rows, vector_only),
        "rrf": ndcg(rows, reciprocal_rank_fusion),
    }
    for weight in (0.03, 0.05, 0.07, 0.1):
        report[f"absolute {weight}"] = ndcg(rows, partial(absolute_bm25_fusion, weight=weight))
    for weight in (0.07, 0.1, 0.15, 0.2):
        for reference in (5, 10, 20):
            fuse = partial(spread_weighted_fusion, weight=weight, reference=reference)
            report[f"spread {weight}/{reference}"] = ndcg(rows, fuse)
    print(args.beir.name, " ".join(f"{name}={value:.4f}" for name, value in report.items()))


if __name__ == "__main__":
    main()
