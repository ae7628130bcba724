"""Helpers shared by the benchmark scripts: machine description, memory, percentiles, a real server (a
`zhiwen serve` process, or the app in a thread of this one)."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from zhiwen.api.app import create_app
from zhiwen.services.lifecycle.metrics import percentile
from zhiwen.wiring import Services

__all__ = [
    "ZHIWEN",
    "cli",
    "free_port",
    "machine",
    "percentile",
    "process_rss_mb",
    "rss_mb",
    "serving",
    "start_server",
    "tree_rss_mb",
]


def rss_mb() -> float:
    """Current resident set size of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def machine() -> str:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {model or platform.processor()}, Python {platform.python_version()}"


ZHIWEN = [sys.executable, "-m", "zhiwen"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_rss_mb(pid: int) -> float:
    """Resident memory of another process (a server under test), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (a server and its worker), in MiB."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            total += process_rss_mb(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue  # it ended meanwhile
    return total


def cli(data: Path, *args: str) -> Any:
    """Run ``zhiwen --data-dir DATA ARGS --json``-style commands and return their JSON output."""
    done = subprocess.run(
        [*ZHIWEN, "--data-dir", str(data), *args], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def start_server(data: Path, env: Mapping[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """`zhiwen serve` on a free port of 127.0.0.1, no rate limit; returns the process once it answers."""
    port = free_port()
    server = subprocess.Popen(
        [*ZHIWEN, "--data-dir", str(data), "serve", "--port", str(port)],
        env={**os.environ, "ZHIWEN_RATE_LIMIT_PER_MINUTE": "1000000", **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return server, base
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("zhiwen serve did not answer /healthz within 120 s")


def start_worker(data: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """`zhiwen worker` on the same data dir (``env`` names the Redis)."""
    return subprocess.Popen(
        [*ZHIWEN, "--data-dir", str(data), "worker"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextmanager
def serving(services: Services) -> Iterator[str]:
    """``services``' app on ``http://127.0.0.1:<port>`` in a thread of this process, until the block ends
    (the benchmark reads the same services the server answers from)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(services, run_embedding_worker=False), "127.0.0.1", port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()
