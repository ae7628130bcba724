"""Fault injection: `kill -9` at random moments, then an integrity check of the store (`zhiwen check`).

Four experiments, ``--kills`` times each (default 10), on the telecom help centre's 36 documents:

1. CLI ingestion: `zhiwen ingest` (parsing, writing, embedding) killed part-way.
2. Server during an upload job: `zhiwen serve` killed while its worker ingests 62 files; restarted, the
   job must resume and finish with every file stored once.
3. Worker during an upload job: the server's worker process killed; the server must start another and
   the job finish with every file stored once.
4. Server during a release: killed while `POST /v1/releases` freezes and evaluates the knowledge.

After every kill the store is checked (SQLite integrity and foreign keys, keyword index, vectors, release
manifests, spooled jobs); after every restart, the job's outcome too. Prints kills and inconsistent
states per experiment; the target is zero inconsistencies.

    python -m benchmarks.faults [--kills 10] [--json]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import ZHIWEN, cli, machine, start_server

TELECOM = Path(__file__).resolve().parents[1] / "src" / "zhiwen" / "sample_telecom"
COPIES = 2  # each job uploads the Markdown and text documents twice under new names (62 files)


def _check(data: Path) -> list[str]:
    done = subprocess.run(
        [*ZHIWEN, "--data-dir", str(data), "check", "--json"], capture_output=True, text=True, check=False
    )
    return list(json.loads(done.stdout)["problems"])


def _fresh_store(root: Path) -> tuple[Path, str]:
    data = root / "data"
    shutil.rmtree(data, ignore_errors=True)
    cli(data, "init", "--json")
    key = cli(data, "key", "create", "--role", "admin", "--name", "faults", "--json")["secret"]
    return data, str(key)


def cli_ingestion(root: Path, kills: int, rng: random.Random) -> dict[str, Any]:
    inconsistent, details = 0, []
    landed = {"while_writing": 0, "while_embedding": 0}
    for _ in range(kills):
        data, _ = _fresh_store(root)
        process = subprocess.Popen(
            [*ZHIWEN, "--data-dir", str(data), "ingest", str(TELECOM / "docs"), "--json"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(1.5, 12.0))  # the interpreter starts in ~1.5 s; ingestion takes ~40 s
        process.send_signal(signal.SIGKILL)
        process.wait()
        stored = len(cli(data, "documents", "list", "--json"))
        landed[
            "while_writing" if stored < len(list((TELECOM / "docs").iterdir())) else "while_embedding"
        ] += 1
        if problems := _check(data):
            inconsistent += 1
            details += problems
    return {"kills": kills, "landed": landed, "inconsistent": inconsistent, "problems": details}


def _job_files(serial: int) -> list[tuple[str, tuple[str, bytes]]]:
    """Markdown and text only: a line of text appended keeps each copy new and still valid."""
    docs = sorted(p for p in (TELECOM / "docs").iterdir() if p.suffix in (".md", ".txt"))
    return [
        ("files", (f"{serial}-{copy}-{p.name}", p.read_bytes() + f"\n\n(copy {serial}-{copy})\n".encode()))
        for copy in range(COPIES)
        for p in docs
    ]


def _wait_for_job(base: str, headers: dict[str, str], job_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = httpx.get(f"{base}/v1/jobs/{job_id}", headers=headers, timeout=30)
        response.raise_for_status()
        job: dict[str, Any] = response.json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise TimeoutError(f"job {job_id} did not finish in {timeout:.0f} s")


def _job_outcome(base: str, headers: dict[str, str], job_id: str, serial: int) -> list[str]:
    """The resumed job finished and every one of its files is stored exactly once."""
    job = _wait_for_job(base, headers, job_id)
    if job["status"] != "succeeded":
        return [f"job {job_id} {job['status']}: {job['error']}"]
    failed = [f["source"] for f in job["result"]["files"] if f["status"] == "failed"]
    listed = httpx.get(f"{base}/v1/documents?limit=1000", headers=headers, timeout=30).json()["documents"]
    mine = [d["source"] for d in listed if d["source"].startswith(f"{serial}-")]
    problems = [f"job {job_id}: {name} failed" for name in failed]
    expected = len(_job_files(serial))
    if len(mine) != expected or len(set(mine)) != len(mine):
        problems.append(f"job {job_id}: {len(mine)} documents stored for {expected} files")
    return problems


def _worker_pid(server_pid: int) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for task in Path(f"/proc/{server_pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    return int(child)
        time.sleep(0.1)
    raise RuntimeError("the server started no worker process")


def server_during_job(root: Path, kills: int, rng: random.Random, victim: str) -> dict[str, Any]:
    """``victim`` is "server" (restarted here) or "worker" (the server must restart it)."""
    inconsistent, details = 0, []
    landed: collections.Counter[str] = collections.Counter()
    data, key = _fresh_store(root)
    headers = {"Authorization": f"Bearer {key}"}
    as_job = {"ZHIWEN_SYNC_UPLOAD_BYTES": "1000"}  # every upload answered at once with a job
    server, base = start_server(data, as_job)
    try:
        for serial in range(kills):
            response = httpx.post(
                f"{base}/v1/documents", headers=headers, files=_job_files(serial), timeout=60
            )
            response.raise_for_status()
            job_id = response.json()["job_id"]
            time.sleep(rng.uniform(0.05, 4.0))
            before = httpx.get(f"{base}/v1/jobs/{job_id}", headers=headers, timeout=30).json()
            landed["mid_job" if before["status"] == "running" else before["status"]] += 1
            target = server.pid if victim == "server" else _worker_pid(server.pid)
            os.kill(target, signal.SIGKILL)
            if victim == "server":
                server.wait()
                problems = _check(data)
                server, base = start_server(data, as_job)
            else:
                problems = []
            problems += _job_outcome(base, headers, job_id, serial) + _check(data)
            if problems:
                inconsistent += 1
                details += problems
    finally:
        server.kill()
        server.wait()
    return {"kills": kills, "landed": dict(landed), "inconsistent": inconsistent, "problems": details}


def _post_quietly(url: str, headers: dict[str, str], body: dict[str, Any]) -> None:
    """The request whose server is killed under it: its connection error is the expected outcome."""
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(url, headers=headers, json=body, timeout=60)


def server_during_release(root: Path, kills: int, rng: random.Random) -> dict[str, Any]:
    inconsistent, details = 0, []
    data, key = _fresh_store(root)
    headers = {"Authorization": f"Bearer {key}"}
    cli(data, "ingest", str(TELECOM / "docs"), "--json")
    golden = TELECOM / "customers.jsonl"
    cli(data, "golden", "import", str(golden), "--name", "customers", "--json")
    for _ in range(kills):
        server, base = start_server(data)
        body = {"golden": "customers", "note": "fault"}
        post = threading.Thread(target=_post_quietly, args=(f"{base}/v1/releases", headers, body))
        post.start()
        time.sleep(rng.uniform(0.0, 6.0))  # freezing takes ~0.1 s, evaluating the held-out half ~5 s
        server.send_signal(signal.SIGKILL)
        server.wait()
        post.join()
        if problems := _check(data):
            inconsistent += 1
            details += problems
    releases = cli(data, "release", "list", "--json")["releases"]
    evaluated = sum(1 for r in releases if r["eval_run_id"])
    landed = {
        "before_freezing": kills - len(releases),
        "while_evaluating": len(releases) - evaluated,
        "after_evaluating": evaluated,
    }
    return {"kills": kills, "landed": landed, "inconsistent": inconsistent, "problems": details}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=10, help="kills per experiment")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    results: dict[str, Any] = {"machine": machine()}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        experiments: dict[str, Callable[[], dict[str, Any]]] = {
            "cli_ingestion": lambda: cli_ingestion(root, args.kills, rng),
            "server_during_job": lambda: server_during_job(root, args.kills, rng, "server"),
            "worker_during_job": lambda: server_during_job(root, args.kills, rng, "worker"),
            "server_during_release": lambda: server_during_release(root, args.kills, rng),
        }
        for name, experiment in experiments.items():
            results[name] = experiment()
            print(name, json.dumps(results[name], ensure_ascii=False), file=sys.stderr)  # progress
    outcomes = [v for v in results.values() if isinstance(v, dict)]
    results["total_kills"] = sum(e["kills"] for e in outcomes)
    results["total_inconsistent"] = sum(e["inconsistent"] for e in outcomes)
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
        return
    for name, value in results.items():
        if isinstance(value, dict):
            landed = ", ".join(f"{k} {v}" for k, v in value["landed"].items())
            print(f"{name:24} kills {value['kills']:3} ({landed})  inconsistent {value['inconsistent']}")
            for problem in value["problems"]:
                print(f"{'':24}   {problem}")
        else:
            print(f"{name:24} {value}")


if __name__ == "__main__":
    main()
