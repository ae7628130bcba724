"""Real `zhiwen serve` processes for the system tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(
    data_dir: Path, port: int, *options: str, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`zhiwen serve --port PORT OPTIONS` on ``data_dir``, once it answers /healthz."""
    server = subprocess.Popen(
        [sys.executable, "-m", "zhiwen", "serve", "--port", str(port), *options],
        env={**os.environ, **(env or {}), "ZHIWEN_DATA_DIR": str(data_dir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise AssertionError("the server did not start")
