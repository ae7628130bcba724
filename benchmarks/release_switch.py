"""Promote and rollback on a large workspace while questions keep arriving.

    python -m benchmarks.release_switch --cache-dir .bench/idx-afqmc_train_faq DATASET_DIR [--json]

Works on a copy of the cached index (workspace "bench", built by `zhiwen bench retrieval --cache-dir`).
A 20-question golden set from the data set's qrels gives the gate its figures. Reports the time to create
a release (snapshot copy and evaluation), to promote (gate check and switch) and to roll back, and the
latency and errors of questions asked by a background thread throughout.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import machine, percentile
from zhiwen.config import Settings
from zhiwen.services.lifecycle.bench import load_beir
from zhiwen.services.lifecycle.golden import GoldenItem
from zhiwen.wiring import build_services


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    data = load_beir(args.dataset, max_queries=40)
    folder = Path(tempfile.mkdtemp(prefix="zhiwen-switch-"))
    settings = Settings(data_dir=folder)
    source = sqlite3.connect(args.cache_dir / "zhiwen.sqlite3")
    target = sqlite3.connect(settings.db_path)
    source.backup(target)
    source.close()
    target.close()
    services = build_services(settings)
    try:
        workspace = services.workspaces.get_workspace("bench")
        chunks = services.documents.count_chunks(workspace.id)
        items = [
            GoldenItem(text, expected_documents=tuple(f"{d}.jsonl" for d in data.qrels[q]))
            for q, text in list(data.queries.items())[:20]
        ]
        services.golden.save(
            workspace.id,
            "switch",
            items + [GoldenItem(t, answerable=False) for t in ("量子计算机多少钱", "今天天气怎么样")],
            "bench",
        )
        timings: dict[str, float] = {}
        started = time.perf_counter()
        one, _ = services.releases.create(workspace.id, "bench", "switch")
        timings["create_release_s"] = time.perf_counter() - started
        services.releases.promote(workspace.id, one.number, "bench")
        two, _ = services.releases.create(workspace.id, "bench", "switch")

        latencies: list[float] = []
        errors: list[str] = []
        stop = threading.Event()
        questions = list(data.queries.values())

        def ask() -> None:
            i = 0
            while not stop.is_set():
                t = time.perf_counter()
                try:
                    services.answerer.answer(workspace.id, questions[i % len(questions)], record=False)
                except Exception as error:
                    errors.append(repr(error))
                latencies.append((time.perf_counter() - t) * 1000)
                i += 1

        asker = threading.Thread(target=ask)
        asker.start()
        time.sleep(1.0)
        promotes, rollbacks = [], []
        for _ in range(5):
            t = time.perf_counter()
            services.releases.promote(workspace.id, two.number, "bench")
            promotes.append(time.perf_counter() - t)
            time.sleep(0.5)
            t = time.perf_counter()
            services.releases.rollback(workspace.id, "bench", one.number)
            rollbacks.append(time.perf_counter() - t)
            time.sleep(0.5)
        stop.set()
        asker.join()
    finally:
        services.close()
        shutil.rmtree(folder, ignore_errors=True)
    report = {
        "chunks": chunks,
        "create_release_s": round(timings["create_release_s"], 2),
        "promote_s_max": round(max(promotes), 3),
        "promote_s_median": round(sorted(promotes)[2], 3),
        "rollback_s_max": round(max(rollbacks), 3),
        "questions_during_switches": len(latencies),
        "question_errors": len(errors),
        "question_p50_ms": round(percentile(latencies, 50), 1),
        "question_p95_ms": round(percentile(latencies, 95), 1),
        "question_max_ms": round(max(latencies, default=0.0), 1),
        "machine": machine(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:28} {value}")


if __name__ == "__main__":
    main()
