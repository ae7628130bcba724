"""Answers on both backends, side by side: the telecom help centre ingested into the embedded SQLite
store and into PostgreSQL (`ZHIWEN_DATABASE_URL`), then its customers' questions asked on each.

    python -m benchmarks.backends [--json]

Issue 16: the same knowledge on either backend must give the same answers (keyword search ranks with the
same BM25; vectors are the same). PostgreSQL is a real PostgreSQL 16 (the pgserver wheel's), started for
the run on 127.0.0.1 with its defaults (fsync on). Prints answer quality, ask latency, and ingestion time
(parsing, chunking, keyword indexing; embedding is the same on both and left out).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.postgres import postgres_server

from benchmarks.common import machine
from zhiwen.adapters.embedders import BundledE5Embedder
from zhiwen.config import Settings
from zhiwen.services.lifecycle.golden import load_golden, run_golden
from zhiwen.wiring import build_services

TELECOM = Path(__file__).resolve().parents[1] / "src" / "zhiwen" / "sample_telecom"


def _measure(settings: Settings, embedder: BundledE5Embedder) -> dict[str, Any]:
    services = build_services(settings, embedder=embedder)
    try:
        workspace = services.workspaces.create_workspace("telecom")
        folder = TELECOM / "docs"
        started = time.perf_counter()
        services.ingest.ingest_paths(workspace.id, sorted(folder.iterdir()), base=folder)
        ingest_s = time.perf_counter() - started
        services.embedding_worker.run_until_done()
        items = load_golden(TELECOM / "customers.jsonl")
        run_golden(services.answerer, workspace.id, items[:50])  # warm the caches
        report = run_golden(services.answerer, workspace.id, items)
        return {
            "questions": report.questions,
            "answer_accuracy": round(report.answer_accuracy, 4),
            "handoff_recall": round(report.handoff_recall, 4),
            "expected_calibration_error": round(report.expected_calibration_error, 4),
            "ask_p50_ms": report.latency_p50_ms,
            "ask_p95_ms": report.latency_p95_ms,
            "ingest_s": round(ingest_s, 2),
            "answers": [(r.handoff, round(r.confidence, 6)) for r in report.results],
        }
    finally:
        services.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    embedder = BundledE5Embedder(num_threads=2)
    results: dict[str, Any] = {"machine": machine()}
    with (
        tempfile.TemporaryDirectory() as folder,
        tempfile.TemporaryDirectory() as server_folder,
        postgres_server(Path(server_folder), durable=True) as url,
    ):
        results["sqlite"] = _measure(Settings(data_dir=Path(folder) / "sqlite"), embedder)
        results["postgresql"] = _measure(
            Settings(data_dir=Path(folder) / "postgresql", database_url=url), embedder
        )
    answers = zip(results["sqlite"].pop("answers"), results["postgresql"].pop("answers"), strict=True)
    same = sum(a == b for a, b in answers)
    results["same_answer_and_confidence"] = same
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(results["machine"])
    print("| backend | questions | answered right | handoff recall | ECE | ask p50 / p95 ms | ingest s |")
    print("|---|---|---|---|---|---|---|")
    for name in ("sqlite", "postgresql"):
        r = results[name]
        print(
            f"| {name} | {r['questions']} | {r['answer_accuracy']:.3f} | {r['handoff_recall']:.3f} |"
            f" {r['expected_calibration_error']:.3f} | {r['ask_p50_ms']} / {r['ask_p95_ms']} |"
            f" {r['ingest_s']} |"
        )
    print(f"questions with the same handoff and confidence (to 6 places) on both: {same}")


if __name__ == "__main__":
    main()
