"""Answers while knowledge is loaded, and the memory one big upload costs, through a real `zhiwen serve`.

1. Ask latency idle and under load: ``--askers`` clients (default 4) ask the telecom help centre's
   customer questions back to back for ``--seconds`` (default 30), first alone, then while a document
   of about 12 kB (new text each time, so it is parsed, chunked and embedded) is uploaded every second.
   Prints requests/s and p50/p95/p99/max for both phases, the upload latencies, and how long the
   embeddings took to catch up after the last upload. Target: p99 under load ≤ 2 × p99 idle.
2. Memory of one big upload: ``--big-mb`` (default 49) of plain text uploaded once; resident memory of
   the server process, and of the server with its worker process, before, at the peak (sampled every
   50 ms until the job is done) and ``--settle`` seconds (default 20) later. Target: a 50 MB upload
   costs at most a few hundred MB, and memory returns after it.

3. ``--processes N`` runs `zhiwen serve --processes N` (N API processes on one port); ``--store DIR``
   serves a copy of an existing data dir (e.g. ``.bench/scale-100000`` from ``benchmarks.scale``)
   instead of the telecom help centre. The askers run in this process, a second one to the server's.
4. ``--workers N`` starts a Redis (as the tests do) and N `zhiwen worker` processes on the same machine,
   and replaces 1. and 2. by: ask latency idle; then, while a big upload (``--big-mb``, default 3 MB of
   new text) to a second workspace is embedded by the workers and the server's own worker process, ten
   small documents uploaded to it 2 s apart, each timed until keyword search finds its one new word,
   and then the asks again. Targets: searchable within 2 s of the upload, and no ask slower than 2 × the
   idle p95.

    python -m benchmarks.load [--json] [--seconds 30] [--askers 4] [--big-mb 49] [--processes 1] [--store DIR]
    python -m benchmarks.load --workers 2 [--seconds 30] [--big-mb 3]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import random
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from tests.redis import redis_server

from benchmarks.common import (
    cli,
    machine,
    percentile,
    process_rss_mb,
    start_server,
    start_worker,
    tree_rss_mb,
)
from zhiwen.config import Settings
from zhiwen.stores.sqlite.db import Database
from zhiwen.stores.sqlite.documents import SqliteDocumentStore

BIG_MB = 49
TELECOM = Path(__file__).resolve().parents[1] / "src" / "zhiwen" / "sample_telecom"


def _questions() -> list[str]:
    lines = (TELECOM / "customers.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def _paragraphs() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted((TELECOM / "docs").glob("*.md"))]
    return [block.strip() for text in texts for block in text.split("\n\n") if len(block.strip()) > 40]


def _document(serial: int, paragraphs: list[str], size: int) -> bytes:
    """A help article made of shuffled real paragraphs under numbered headings: new text each time."""
    rng = random.Random(serial)
    parts = [f"# Notice {serial}: service update {rng.randrange(10**6)}"]
    while sum(len(p) for p in parts) < size:
        parts.append(f"## Section {len(parts)} (ref {serial}-{rng.randrange(10**6)})")
        parts.append(rng.choice(paragraphs))
    return "\n\n".join(parts).encode()


def _summary(latencies: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "per_second": round(len(ordered) / seconds, 1),
        "p50_ms": round(percentile(ordered, 50), 1),
        "p95_ms": round(percentile(ordered, 95), 1),
        "p99_ms": round(percentile(ordered, 99), 1),
        "max_ms": round(ordered[-1], 1),
    }


def _ask_for(base: str, key: str, seconds: float, askers: int) -> list[float]:
    questions = _questions()
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def ask(offset: int) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
            for question in itertools.islice(itertools.cycle(questions), offset, None):
                if time.monotonic() >= stop:
                    return
                started = time.perf_counter()
                client.post("/v1/ask", json={"question": question}).raise_for_status()
                with lock:
                    latencies.append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=ask, args=(n * 37,)) for n in range(askers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def _upload_every_second(base: str, key: str, stop: threading.Event, out: list[float]) -> None:
    paragraphs = _paragraphs()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=300) as client:
        for serial in itertools.count():
            if stop.is_set():
                return
            started = time.perf_counter()
            files = {"files": (f"notice-{serial}.md", _document(serial, paragraphs, 12_000))}
            client.post("/v1/documents", files=files).raise_for_status()
            elapsed = time.perf_counter() - started
            out.append(elapsed * 1000)
            stop.wait(max(0.0, 1.0 - elapsed))


def _wait_for(condition: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"not done after {timeout:.0f} s")
        time.sleep(0.2)
    return time.monotonic() - started


def latency_under_load(
    base: str, client_key: str, admin_key: str, seconds: float, askers: int
) -> dict[str, Any]:
    _ask_for(base, client_key, 5, askers)  # warm up: models loaded, caches filled
    idle = _summary(_ask_for(base, client_key, seconds, askers), seconds)
    stop, uploads = threading.Event(), list[float]()
    uploader = threading.Thread(target=_upload_every_second, args=(base, admin_key, stop, uploads))
    uploader.start()
    loaded = _summary(_ask_for(base, client_key, seconds, askers), seconds)
    stop.set()
    uploader.join()
    caught_up = _wait_for(lambda: httpx.get(f"{base}/readyz").json()["pending_embeddings"] == 0, 900)
    return {
        "askers": askers,
        "seconds_per_phase": seconds,
        "idle": idle,
        "under_upload_load": loaded,
        "p99_ratio": round(loaded["p99_ms"] / idle["p99_ms"], 2),
        "uploads": len(uploads),
        "upload_ms_p50": round(percentile(sorted(uploads), 50), 1),
        "upload_ms_max": round(max(uploads), 1),
        "embeddings_caught_up_s": round(caught_up, 1),
    }


def big_upload_memory(base: str, admin_key: str, pid: int, megabytes: int, settle: float) -> dict[str, Any]:
    paragraphs = _paragraphs()
    rng = random.Random(7)
    body = "\n\n".join(rng.choice(paragraphs) for _ in range(megabytes * 1024 * 1024 // 150))
    data = body.encode()[: megabytes * 1024 * 1024].decode("utf-8", "ignore").encode()  # whole characters
    headers = {"Authorization": f"Bearer {admin_key}"}
    before, server_before = tree_rss_mb(pid), process_rss_mb(pid)
    peak, server_peak = before, server_before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, server_peak
        while not done.is_set():
            peak = max(peak, tree_rss_mb(pid))
            server_peak = max(server_peak, process_rss_mb(pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    try:
        response = httpx.post(
            f"{base}/v1/documents", headers=headers, files={"files": ("big.txt", data)}, timeout=900
        )
        response.raise_for_status()
        job = response.json().get("job_id")
        if job:
            _wait_for(
                lambda: (
                    httpx.get(f"{base}/v1/jobs/{job}", headers=headers, timeout=600).json()["status"]
                    in ("succeeded", "failed")
                ),
                1800,
            )
            finished = httpx.get(f"{base}/v1/jobs/{job}", headers=headers).json()
            outcome = (finished["result"] or {}).get("files") or [{"status": finished["error"]}]
        else:
            outcome = response.json()["files"]
        ingested = time.perf_counter() - started
    finally:
        done.set()
        sampler.join()
    time.sleep(settle)
    return {
        "upload_mb": round(len(data) / 1024 / 1024, 1),
        "outcome": "; ".join(
            f"{f['status']}, {f.get('chunks', 0)} chunks {f.get('error') or ''}" for f in outcome
        ),
        "ingested_s": round(ingested, 1),
        "server_rss_mb_before_peak_after": [
            round(server_before, 1),
            round(server_peak, 1),
            round(process_rss_mb(pid), 1),
        ],
        "with_worker_rss_mb_before_peak_after": [
            round(before, 1),
            round(peak, 1),
            round(tree_rss_mb(pid), 1),
        ],
    }


def _holders(data: Path) -> set[str]:
    """Who is embedding chunks of the store right now (its own connection, beside the server)."""
    database = Database(Settings(data_dir=data).db_path)
    try:
        return SqliteDocumentStore(database).vector_claim_holders()
    finally:
        database.close()


def _unique_notes(seed: int, characters: int) -> str:
    """Help notes of three real sentences drawn from different articles each, with a serial: new text that
    near-duplicate detection keeps (whole paragraphs of the sample would be dropped as copies)."""
    rng = random.Random(seed)
    sentences = [s for p in _paragraphs() for s in re.split(r"(?<=[。.!?！？])\s*", p) if len(s) > 20]
    notes: list[str] = []
    size = 0
    while size < characters:
        note = f"## Note {seed}-{len(notes)}\n\n" + " ".join(rng.sample(sentences, 3))
        notes.append(note)
        size += len(note)
    return "\n\n".join(notes)


def _searchable_after_upload(base: str, key: str, uploads: int) -> list[float]:
    """Every 2 s, a small document with one word nobody else uses; the time from sending each until
    keyword search finds it."""
    headers = {"Authorization": f"Bearer {key}"}
    latencies = []
    with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
        for serial in range(uploads):
            word = f"zqx{serial}k{random.randrange(10**6)}"
            body = f"# Memo {word}\n\nReference code {word}.\n\n" + _unique_notes(10**6 + serial, 1_500)
            started = time.perf_counter()
            files = {"files": (f"memo-{word}.md", body.encode())}
            client.post("/v1/documents", files=files).raise_for_status()
            query = {"query": word, "mode": "keyword", "k": 1}
            while not client.post("/v1/search", json=query).raise_for_status().json()["hits"]:
                if time.perf_counter() - started > 120:
                    raise TimeoutError(f"{word} not searchable 120 s after its upload")
                time.sleep(0.02)
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(2.0)
    return latencies


def with_workers(
    data: Path, base: str, client_key: str, seconds: float, askers: int, big_mb: float
) -> dict[str, Any]:
    """Idle asks; then, while the workers embed a big upload to another workspace, small uploads to that
    workspace (no asks) and asks (no uploads), each measured alone: on 2 cores, the askers in this
    process would take the CPU the uploads' worker needs, and the other way round. The asked knowledge
    stays the same size, so only the work beside it changes."""
    _ask_for(base, client_key, 5, askers)  # warm up
    idle = _summary(_ask_for(base, client_key, seconds, askers), seconds)
    bulk_key = cli(data, "workspace", "create", "bulk", "--json")["admin_key"]
    big = _unique_notes(11, int(big_mb * 1024 * 1024)).encode()
    headers = {"Authorization": f"Bearer {bulk_key}"}
    httpx.post(f"{base}/v1/documents", headers=headers, files={"files": ("big.md", big)}, timeout=600)
    busy = _wait_for(lambda: len(_holders(data)) >= 2, 600)  # the workers ingested it and embed it
    searchable = _searchable_after_upload(base, bulk_key, 10)
    embedders_meanwhile = len(_holders(data))
    loaded = _summary(_ask_for(base, client_key, seconds, askers), seconds)
    return {
        "askers": askers,
        "seconds_per_phase": seconds,
        "idle": idle,
        "while_workers_embed": loaded,
        "slowest_ask_over_idle_p95": round(loaded["max_ms"] / idle["p95_ms"], 2),
        "embedders": [embedders_meanwhile, len(_holders(data))],
        "big_upload_mb": round(len(big) / 1024 / 1024, 1),
        "big_upload_embedding_began_s": round(busy, 1),
        "uploads": len(searchable),
        "searchable_ms_p50": round(percentile(sorted(searchable), 50), 1),
        "searchable_ms_max": round(max(searchable), 1),
        "searchable_ms": [round(ms) for ms in searchable],
        "pending_embeddings": httpx.get(f"{base}/readyz").json()["pending_embeddings"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30, help="0 skips the latency measurement")
    parser.add_argument("--askers", type=int, default=4)
    parser.add_argument(
        "--big-mb",
        type=float,
        help=f"0 skips the big-upload measurement (default {BIG_MB}; 3 with --workers)",
    )
    parser.add_argument("--settle", type=float, default=20)
    parser.add_argument("--processes", type=int, default=1, help="API processes of the server")
    parser.add_argument("--store", type=Path, help="serve a copy of this data dir instead of the telecom KB")
    parser.add_argument("--workspace", default="default", help="the workspace asked (scale-100000: scale)")
    parser.add_argument("--workers", type=int, default=0, help="zhiwen worker processes (with Redis)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine(), "processes": args.processes}
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        data = Path(folder) / "data"
        env = {"ZHIWEN_API_PROCESSES": str(args.processes)}
        if args.workers:
            env["ZHIWEN_REDIS_URL"] = stack.enter_context(redis_server(Path(folder) / "redis"))
            results["workers"] = args.workers
        if args.store:
            shutil.copytree(args.store, data)
            results["store"] = str(args.store)
        else:
            cli(data, "init", "--json")
            cli(data, "ingest", str(TELECOM / "docs"), "--json")
        keys = ("key", "create", "--workspace", args.workspace, "--json", "--role")
        client_key = cli(data, *keys, "client")["secret"]
        admin_key = cli(data, *keys, "admin")["secret"]
        server, base = start_server(data, env)
        workers = [start_worker(data, env) for _ in range(args.workers)]
        if workers:
            time.sleep(20)  # they import and connect (seconds of CPU that would count against idle asks)
        try:
            if workers:
                big_mb = 3 if args.big_mb is None else args.big_mb
                results["latency"] = with_workers(data, base, client_key, args.seconds, args.askers, big_mb)
            elif args.seconds > 0:
                latency = latency_under_load(base, client_key, admin_key, args.seconds, args.askers)
                results["latency"] = latency
            if not workers and (big_mb := BIG_MB if args.big_mb is None else args.big_mb) > 0:
                big = big_upload_memory(base, admin_key, server.pid, int(big_mb), args.settle)
                results["big_upload"] = big
        finally:
            for process in (*workers, server):
                process.terminate()
            for process in (*workers, server):
                process.wait(timeout=60)
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
        return
    for section, figures in results.items():
        if not isinstance(figures, dict):
            print(f"{section:28} {figures}")
            continue
        for name, value in figures.items():
            print(f"{section + '.' + name:28} {value}")


if __name__ == "__main__":
    main()
