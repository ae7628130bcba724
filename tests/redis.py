"""A real Redis for the tests: Debian's ``redis-server`` (installed by `make install` / .ci/run), started on
127.0.0.1 and a free port in a folder of its own, nothing written to disk, stopped by PID. A server that
cannot start fails the tests that need it; nothing is skipped."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis
from tests.postgres import _free_port

NOTHING_ON_DISK = ("--save", "", "--appendonly", "no", "--daemonize", "no")


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A fresh server; yields its URL (database 0)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run `make install` (apt-get install redis-server)")
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = (folder / "redis.log").open("wb")
    server = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder), *NOTHING_ON_DISK],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"Redis did not start: {(folder / 'redis.log').read_text()[-2000:]}"
                    ) from None
                time.sleep(0.05)
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
