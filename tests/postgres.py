"""A real PostgreSQL 16 with pgvector for the tests: the binaries of the ``pgserver`` wheel (Debian's
PostgreSQL has no pgvector package here), started on 127.0.0.1 and a free port in a folder of its own,
stopped by PID. A server that cannot start fails the tests that need it; nothing is skipped."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

SYSTEM_USER = "zhiwen-pg"  # PostgreSQL refuses to run as root


def _binaries() -> Path:
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the pgserver wheel is not installed: run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _create_user() -> None:
    """The system user, once. Two test workers may both try: the second finds it made (exit status 9) or
    the user database locked by the first (1 or 10), and tries again."""
    for _ in range(20):
        try:
            pwd.getpwnam(SYSTEM_USER)
            return
        except KeyError:
            done = subprocess.run(
                ["useradd", "--system", "--no-create-home", SYSTEM_USER], capture_output=True
            )
            if done.returncode not in (0, 1, 9, 10):
                raise RuntimeError(
                    f"useradd {SYSTEM_USER} failed: {done.stderr.decode(errors='replace')}"
                ) from None
            time.sleep(0.25)
    raise RuntimeError(f"useradd {SYSTEM_USER}: the user database stayed locked")


def _owner(folder: Path) -> dict[str, str]:
    """Run as an unprivileged user when the tests run as root (CI does), owning ``folder``."""
    if os.geteuid() != 0:
        return {}
    _create_user()
    for path in (folder, *folder.rglob("*")):
        os.chown(path, pwd.getpwnam(SYSTEM_USER).pw_uid, pwd.getpwnam(SYSTEM_USER).pw_gid)
    return {"user": SYSTEM_USER, "group": SYSTEM_USER}


@contextlib.contextmanager
def postgres_server(folder: Path, durable: bool = False) -> Iterator[str]:
    """A server with its data in ``folder`` (made there the first time; a benchmark keeps its folder to
    reuse what it built); yields the URL of its ``zhiwen`` database. Tests run it without flushing to
    disk; ``durable`` keeps PostgreSQL's defaults (for benchmarks)."""
    folder = folder.resolve()  # the server runs in its data folder: its socket's folder must be absolute
    binaries, data = _binaries(), folder / "data"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    owner = _owner(folder)
    if not (data / "PG_VERSION").exists():
        initdb = [str(binaries / "initdb"), "-D", str(data), "-U", "zhiwen", "--auth=trust", "-E", "UTF8"]
        subprocess.run([*initdb, "--locale=C"], check=True, capture_output=True, **owner)  # type: ignore[call-overload]
    port = _free_port()
    command = [
        str(binaries / "postgres"),
        "-D",
        str(data),
        "-p",
        str(port),
        "-h",
        "127.0.0.1",
        "-k",
        str(folder),
    ]
    tuning = (
        [] if durable else ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    )
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen([*command, *tuning], stdout=log, stderr=subprocess.STDOUT, **owner)  # type: ignore[call-overload]
    admin = f"postgresql://zhiwen@127.0.0.1:{port}/postgres"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(admin, autocommit=True) as conn:
                    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'zhiwen'").fetchone():
                        conn.execute("CREATE DATABASE zhiwen")
                break
            except psycopg.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL did not start: {(folder / 'server.log').read_text()[-2000:]}"
                    ) from None
                time.sleep(0.1)
        yield f"postgresql://zhiwen@127.0.0.1:{port}/zhiwen"
    finally:
        server.send_signal(signal.SIGINT)  # fast shutdown: roll back, disconnect, stop
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
