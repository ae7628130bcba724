"""Keyword search on both backends, side by side: SQLite's FTS5 and PostgreSQL's postings with the same
BM25 (issue 16: retrieval quality within 0.005 nDCG@10 of the SQLite backend).

    python -m benchmarks.keyword_backends [--queries 500] [--json]

Each passage of the three development retrieval sets is indexed as one chunk in a fresh SQLite store
and in a real PostgreSQL 16 (the pgserver wheel's, started for the run); every query is searched by
keyword only (k = 10) on both. Prints nDCG@10, how many queries got a different ranking, and latency.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.postgres import postgres_server

from benchmarks.common import machine, percentile
from zhiwen.ports import KeywordIndex
from zhiwen.services.lifecycle.bench import load_beir
from zhiwen.services.lifecycle.metrics import ndcg_at_k
from zhiwen.stores.postgres.db import PgDatabase
from zhiwen.stores.postgres.keyword import PgKeywordIndex
from zhiwen.stores.sqlite.db import Database
from zhiwen.stores.sqlite.documents import SqliteDocumentStore
from zhiwen.stores.sqlite.keyword import SqliteKeywordIndex
from zhiwen.stores.sqlite.workspaces import SqliteWorkspaceStore
from zhiwen.text.tokenize import indexed_terms
from zhiwen.types import Chunk, Document

SETS = Path(__file__).resolve().parents[2] / "shared" / "data" / "retrieval"
NAMES = ("stackfaq_dev", "cmrc2018_trial", "afqmc_train_faq")


def _run(database: Any, index: KeywordIndex, name: str, limit: int) -> dict[str, Any]:
    """``database``: SQLite's or PostgreSQL's (the stores take either)."""
    beir = load_beir(SETS / name, max_queries=limit)
    workspace = SqliteWorkspaceStore(database).create_workspace(name).id
    chunks = [
        Chunk(f"{workspace}:{pid}", workspace, "doc", n, title, text)
        for n, (pid, (title, text)) in enumerate(beir.corpus.items())
    ]
    SqliteDocumentStore(database).replace_document(Document("doc", workspace, name, name, "h"), chunks)
    started = time.perf_counter()
    index.add(chunks, [indexed_terms(c) for c in chunks])
    indexed_s = time.perf_counter() - started
    rankings, latencies, scores = {}, [], []
    for qid, question in beir.queries.items():
        started = time.perf_counter()
        hits = index.search(workspace, question, 10)
        latencies.append((time.perf_counter() - started) * 1000)
        ranked = [cid.split(":", 1)[1] for cid, _ in hits]
        rankings[qid] = ranked
        scores.append(ndcg_at_k(ranked, beir.qrels[qid], 10))
    return {
        "passages": len(chunks),
        "queries": len(scores),
        "ndcg@10": round(sum(scores) / len(scores), 4),
        "index_s": round(indexed_s, 1),
        "search_p50_ms": round(percentile(sorted(latencies), 50), 2),
        "search_p95_ms": round(percentile(sorted(latencies), 95), 2),
        "rankings": rankings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queries", type=int, default=500, help="queries per set (default 500)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine()}
    with (
        tempfile.TemporaryDirectory() as folder,
        tempfile.TemporaryDirectory() as server_folder,
        postgres_server(Path(server_folder)) as url,
    ):
        sqlite, postgres = Database(Path(folder) / "fts5.sqlite3"), PgDatabase(url)
        for name in NAMES:
            fts5 = _run(sqlite, SqliteKeywordIndex(sqlite), name, args.queries)
            pg = _run(postgres, PgKeywordIndex(postgres), name, args.queries)
            differing = sum(fts5["rankings"][q] != pg["rankings"][q] for q in fts5["rankings"])
            results[name] = {
                "sqlite": {k: v for k, v in fts5.items() if k != "rankings"},
                "postgresql": {k: v for k, v in pg.items() if k != "rankings"},
                "queries_ranked_differently": differing,
            }
        sqlite.close()
        postgres.close()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(results["machine"])
    print(
        "| set | passages | queries | nDCG@10 SQLite / PostgreSQL | rankings that differ |"
        " search p50 / p95 ms, SQLite | PostgreSQL | indexing s, SQLite / PostgreSQL |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in NAMES:
        r = results[name]
        s, p = r["sqlite"], r["postgresql"]
        print(
            f"| {name} | {s['passages']:,} | {s['queries']} | {s['ndcg@10']:.4f} / {p['ndcg@10']:.4f} |"
            f" {r['queries_ranked_differently']} | {s['search_p50_ms']} / {s['search_p95_ms']} |"
            f" {p['search_p50_ms']} / {p['search_p95_ms']} | {s['index_s']} / {p['index_s']} |"
        )


if __name__ == "__main__":
    main()
