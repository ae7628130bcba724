"""Backups at scale (issue 19): does a backup of a 100k-chunk store restore and answer identically?

The store is built from real public text (../shared/data: StackFAQ, AFQMC, CMRC 2018, BANKING77 and the
Chinese shopping and food-delivery reviews, each line a passage), ingested through the normal pipeline
(chunking, FTS5 keyword index). Embedding 100,000 chunks with the bundled model would take hours on 2
cores, so only the first ``--real`` chunks (AFQMC customer questions, short: about 30 a second) are
embedded by the model; every other chunk gets a copy of one of those real vectors plus Gaussian noise
(normalised), as its chunk vector and as its single sentence vector. The vector index therefore holds a
vector for every chunk, and the backup carries them all.

Then, timed as a user runs them (each a `zhiwen` process):

1. ``zhiwen backup FILE`` while a thread of this process keeps committing rows (the server's writes);
2. ``zhiwen backup verify FILE --against DATA --questions 50``: SHA-256, integrity, counts, open and
   migrate a scratch copy, `zhiwen check` on it, and the 50 most recent questions asked of both stores;
3. ``zhiwen restore FILE --yes`` over the store, after which the same 50 questions are asked again and
   compared with the answers recorded before the backup.

    python -m benchmarks.backup --chunks 100000 [--real 2000] [--questions 50] [--json]

The store is kept in .bench/backup-<chunks> and reused by the next run (delete it to rebuild).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import ZHIWEN, machine
from zhiwen.adapters.embedders import BundledE5Embedder
from zhiwen.config import Settings
from zhiwen.services.trust import backup_check
from zhiwen.wiring import Services, build_services

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
LINES_PER_FILE = 2000
NOISE = 0.05  # per coordinate, before normalising: a noisy copy stays ~0.5 cosine from its original


def texts() -> Iterator[tuple[str, str]]:
    """(title, text) passages from the public sets; AFQMC's first, the ones the model embeds."""
    for name in ("afqmc_train_faq", "stackfaq_dev", "cmrc2018_trial"):
        for line in (DATA / "retrieval" / name / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            yield str(record.get("title") or ""), str(record["text"])
    cmrc_questions = DATA / "retrieval" / "cmrc2018_trial" / "queries.jsonl"  # not among the asked ones
    for line in cmrc_questions.read_text(encoding="utf-8").splitlines():
        yield "", str(json.loads(line)["text"])
    for path, title_column in (
        (DATA / "sentiment" / "online_shopping_10_cats" / "train.csv", "cat"),
        (DATA / "sentiment" / "online_shopping_10_cats" / "test.csv", "cat"),
        (DATA / "sentiment" / "waimai_10k" / "train.csv", None),
        (DATA / "sentiment" / "waimai_10k" / "test.csv", None),
        (DATA / "intent" / "banking77" / "train.csv", "label"),
        (DATA / "intent" / "banking77" / "test.csv", "label"),
    ):
        with path.open(encoding="utf-8", newline="") as file:
            for row in csv.DictReader(file):
                yield (row[title_column] if title_column else "外卖评价"), row["text"]


def questions(count: int) -> list[str]:
    """Half StackFAQ rephrasings (English), half AFQMC customer questions (Chinese)."""
    picked: list[str] = []
    for name in ("stackfaq_dev", "afqmc_train_faq"):
        lines = (DATA / "retrieval" / name / "queries.jsonl").read_text(encoding="utf-8").splitlines()
        step = max(len(lines) // count, 1)
        picked += [str(json.loads(line)["text"]) for line in lines[::step][: (count + 1) // 2]]
    return picked[:count]


def build_store(
    data: Path, chunks: int, real: int, asked: list[str], embedder: BundledE5Embedder
) -> dict[str, Any]:
    services = build_services(Settings(data_dir=data, embed_batch=32), embedder=embedder)
    try:
        workspace = services.workspaces.create_workspace("default").id
        started = time.perf_counter()
        source, part = texts(), 0
        while services.documents.count_chunks(workspace) < chunks:
            lines = [json.dumps({"title": t, "text": x}, ensure_ascii=False) for t, x in _take(source)]
            if not lines:
                break
            result = services.ingest.ingest_bytes(
                workspace, f"part-{part:04d}.jsonl", "\n".join(lines).encode(), dedup=False
            )
            assert result.status == "added", result
            part += 1
            print(f"ingested {services.documents.count_chunks(workspace):,} chunks", file=sys.stderr)
        ingest_s = time.perf_counter() - started
        started = time.perf_counter()
        embedded = 0
        while embedded < real and (done := services.embedding_worker.step()):
            embedded += done
        embed_s = time.perf_counter() - started
        started = time.perf_counter()
        synthetic = _noisy_copies(services, workspace, embedded)
        synthetic_s = time.perf_counter() - started
        for question in asked:  # recorded, as customers' questions are: verify asks them again
            services.answerer.answer(workspace, question, use_llm=False)
        return {
            "chunks": services.documents.count_chunks(workspace),
            "documents": part,
            "embedded_by_model": embedded,
            "noisy_copies": synthetic,
            "ingest_s": round(ingest_s, 1),
            "embed_s": round(embed_s, 1),
            "noisy_copies_s": round(synthetic_s, 1),
        }
    finally:
        services.close()


def _take(source: Iterator[tuple[str, str]]) -> list[tuple[str, str]]:
    taken = []
    for title, text in source:
        if text.strip():
            taken.append((title, text))
        if len(taken) == LINES_PER_FILE:
            break
    return taken


def _noisy_copies(services: Services, workspace: str, real: int) -> int:
    """Every chunk still without a vector gets a real one plus noise, as its chunk and sentence vector."""
    with services.db.reading() as conn:
        rows = conn.execute("SELECT vector FROM vectors WHERE workspace_id = ? ORDER BY seq", (workspace,))
        originals = np.stack([np.frombuffer(r[0], dtype=np.float32) for r in rows.fetchall()])
    rng = np.random.default_rng(19)
    added = 0
    while pending := services.documents.claim_chunks_needing_vectors(5000, "benchmark", time.time()):
        base = originals[rng.integers(0, len(originals), len(pending))]
        vectors = base + rng.normal(0, NOISE, base.shape).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        ids = [c.id for c in pending]
        services.vectors.add(workspace, ids, vectors)
        services.vectors.add_sentences(workspace, ids, [v[None, :] for v in vectors])
        services.documents.mark_embedded(ids, "benchmark")
        added += len(ids)
    return added


def zhiwen(data: Path, *args: str) -> tuple[float, Any]:
    """Run a `zhiwen ... --json` command; its wall time (process start included) and JSON output."""
    started = time.perf_counter()
    done = subprocess.run([*ZHIWEN, "--data-dir", str(data), *args, "--json"], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"zhiwen {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)


def answers_now(data: Path, asked: list[str], embedder: BundledE5Embedder) -> list[dict[str, Any] | None]:
    services = build_services(Settings(data_dir=data), embedder=embedder)
    try:
        workspace = services.workspaces.get_workspace("default").id
        answerer = backup_check.knowledge_answerer(
            services.retriever, services.answers, services.targets, services.settings.max_question_chars
        )
        results = backup_check.replay([(workspace, q) for q in asked], answerer)
        return [r.restored for r in results]
    finally:
        services.close()


def writes_meanwhile(db_path: Path, stop: threading.Event, counter: list[int]) -> None:
    """What a serving server does to the store during a backup: small commits, back to back."""
    with closing(sqlite3.connect(db_path, isolation_level=None, timeout=10)) as conn:
        workspace = conn.execute("SELECT id FROM workspaces WHERE name = 'default'").fetchone()[0]
        while not stop.is_set():
            conn.execute(
                "INSERT INTO conversations (id, workspace_id, created_at) VALUES (?, ?, datetime('now'))",
                (f"conv_bench_{time.time_ns()}", workspace),
            )
            counter[0] += 1
            time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--real", type=int, default=2000, help="chunks embedded by the bundled model")
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    root = ROOT / ".bench" / f"backup-{args.chunks}"
    data, backups = root / "data", root / "backups"
    asked = questions(args.questions)
    embedder = BundledE5Embedder(num_threads=2)
    results: dict[str, Any] = {"machine": machine(), "command": " ".join(sys.argv)}
    built = root / "built.json"
    if not built.exists():
        shutil.rmtree(root, ignore_errors=True)
        results["store"] = build_store(data, args.chunks, args.real, asked, embedder)
        built.write_text(json.dumps(results["store"]))
    else:
        results["store"] = {**json.loads(built.read_text()), "reused": True}
    print(f"store: {results['store']}", file=sys.stderr)
    shutil.rmtree(backups, ignore_errors=True)
    for leftover in data.glob("zhiwen.sqlite3.before-restore-*"):
        leftover.unlink()
    db_path = data / "zhiwen.sqlite3"
    before = answers_now(data, asked, embedder)

    target = backups / "zhiwen-bench.sqlite3"
    stop, writes = threading.Event(), [0]
    writer = threading.Thread(target=writes_meanwhile, args=(db_path, stop, writes))
    writer.start()
    try:
        backup_s, manifest = zhiwen(data, "backup", str(target))
    finally:
        stop.set()
        writer.join()
    size = manifest["bytes"]
    results["backup"] = {
        "store_mb": round(db_path.stat().st_size / 1e6, 1),
        "backup_mb": round(size / 1e6, 1),
        "wall_s": round(backup_s, 1),
        "inside_s": manifest["seconds"],
        "mb_per_s": round(size / 1e6 / manifest["seconds"], 1),
        "commits_meanwhile": writes[0],
        "tables": {k: manifest["tables"][k] for k in ("chunks", "vectors", "sentence_vectors", "answers")},
    }
    print(f"backup: {results['backup']}", file=sys.stderr)

    verify_s, report = zhiwen(
        data, "backup", "verify", str(target), "--against", str(data), "--questions", str(args.questions)
    )
    identical = sum(1 for a in report["answers"] if a["same"])
    results["verify"] = {
        "wall_s": round(verify_s, 1),
        "ok": report["ok"],
        "checks": {c["name"]: c["status"] for c in report["checks"]},
        "answers_identical": f"{identical}/{len(report['answers'])}",
        "answers_detail": next(c["detail"] for c in report["checks"] if c["name"] == "answers"),
    }
    print(f"verify: {results['verify']}", file=sys.stderr)

    restore_s, restored = zhiwen(data, "restore", str(target), "--yes")
    after = answers_now(data, asked, embedder)
    same = sum(1 for a, b in zip(before, after, strict=True) if a is not None and a == b)
    results["restore"] = {
        "wall_s": round(restore_s, 1),
        "mb_per_s": round(size / 1e6 / restore_s, 1),  # wall time: process start included
        "chunks": restored["tables"]["chunks"],
        "answers_identical_to_before_backup": f"{same}/{len(asked)}",
    }
    for leftover in data.glob("zhiwen.sqlite3.before-restore-*"):
        leftover.unlink()
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
        return
    store, b, v, r = results["store"], results["backup"], results["verify"], results["restore"]
    print(f"machine: {results['machine']}")
    print(
        f"store: {store['chunks']:,} chunks in {store['documents']} files ({store['embedded_by_model']:,}"
        f" embedded by the model, {store['noisy_copies']:,} noisy copies), {b['store_mb']:,} MB"
    )
    print(
        f"backup: {b['backup_mb']:,} MB in {b['inside_s']:.1f} s ({b['mb_per_s']} MB/s; {b['wall_s']} s for"
        f" the whole command) while {b['commits_meanwhile']} commits landed"
    )
    print(f"verify: {v['wall_s']} s, ok={v['ok']}, answers identical {v['answers_identical']}; {v['checks']}")
    print(
        f"restore: {r['wall_s']} s ({r['mb_per_s']} MB/s), {r['chunks']:,} chunks; answers identical to"
        f" before the backup {r['answers_identical_to_before_backup']}"
    )


if __name__ == "__main__":
    main()
