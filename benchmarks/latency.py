"""Search and ask latency, and memory, on a large workspace (no LLM).

    zhiwen bench retrieval ../shared/data/retrieval/afqmc_train_faq --cache-dir .bench/idx-afqmc_train_faq
    python benchmarks/latency.py .bench/idx-afqmc_train_faq ../shared/data/retrieval/afqmc_train_faq

The first command builds (and keeps) an 11,344-chunk index; this script then replays the set's questions
through search and ask in one process, as the service would, and reports p50/p95 and resident memory.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.common import machine, percentile, rss_mb
from zhiwen.config import Settings
from zhiwen.wiring import build_services


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("index", type=Path, help="data dir kept by `zhiwen bench retrieval --cache-dir`")
    parser.add_argument("beir", type=Path, help="the BEIR folder, for its queries")
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()

    started = time.perf_counter()
    services = build_services(Settings(data_dir=args.index))
    workspace = services.workspaces.get_workspace("bench")
    chunks = services.documents.count_chunks(workspace.id)
    services.vectors.count(workspace.id)  # load the vectors, as the first query would
    load_s = time.perf_counter() - started
    lines = args.beir.joinpath("queries.jsonl").read_text(encoding="utf-8").splitlines()
    # Different questions for search and ask: a question searched first would be asked with its vector
    # already in the query cache.
    questions = list(dict.fromkeys(json.loads(line)["text"] for line in lines))
    n = args.queries
    if len(questions) < 2 * n + 20:
        most = (len(questions) - 20) // 2
        parser.error(f"{args.beir} has {len(questions)} distinct questions: --queries at most {most}")
    searched, asked, warm_up = questions[:n], questions[n : 2 * n], questions[2 * n : 2 * n + 20]

    for question in warm_up:  # jieba dictionary, caches
        services.retriever.retrieve(workspace.id, question, k=5)
    search_ms, ask_ms = [], []
    for question in searched:
        t = time.perf_counter()
        services.retriever.retrieve(workspace.id, question, k=5)
        search_ms.append((time.perf_counter() - t) * 1000)
    for question in asked:
        t = time.perf_counter()
        services.answerer.answer(workspace.id, question[:1000])
        ask_ms.append((time.perf_counter() - t) * 1000)
    report = {
        "machine": machine(),
        "chunks": chunks,
        "questions_searched": len(searched),
        "questions_asked": len(asked),
        "startup_s": round(load_s, 2),
        "search_p50_ms": round(percentile(search_ms, 50), 2),
        "search_p95_ms": round(percentile(search_ms, 95), 2),
        "ask_p50_ms": round(percentile(ask_ms, 50), 2),
        "ask_p95_ms": round(percentile(ask_ms, 95), 2),
        "rss_mb": round(rss_mb(), 1),
    }
    services.close()
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
