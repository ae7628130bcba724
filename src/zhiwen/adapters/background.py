"""Where the background work runs: a thread of this process, or a worker process of its own.

The worker process is what `zhiwen serve` uses. Parsing, chunking and embedding are CPU work; in the
server's own process they took the cores, the GIL and the database lock from the questions being answered
(on 2 cores, p99 of /v1/ask went from 0.12 s to 0.35 s while one document a second was uploaded). In a
child process at a lower CPU priority (``nice``), the kernel gives answers the cores first, a big upload's
memory is the child's (and is returned by restarting it), and a crash of the child loses nothing: the
server restarts it and its job is resumed.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from zhiwen.config import Settings
from zhiwen.services.background import BackgroundWork

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
STOP_SECONDS = 60.0


class BackgroundThread:
    """The background loop in a thread of this process: for tests, and for one-process setups."""

    def __init__(self, work: BackgroundWork) -> None:
        self._work = work
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._work.run, args=(self._stop, self._wake), name="zhiwen-background", daemon=True
        )
        self._thread.start()

    def notify(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None


def _resident_mb() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0  # no /proc: no memory limit


def _die_with_parent() -> None:
    """Linux kills this process the moment its server dies (even by ``kill -9``), so a restarted server
    never finds an orphan still writing; its transaction rolls back like any crash's. (The signal comes
    when the *thread* that started the child ends: the supervisor thread, which outlives its worker.)
    Elsewhere the worker notices between units of work."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _worker_main(settings: dict[str, Any], stop: Any, wake: Any, parent: int) -> None:
    """Entry point of the worker process: its own store connection and embedding model."""
    from zhiwen.wiring import build_services  # in the child only: it loads the model

    _die_with_parent()
    if os.getppid() != parent:
        return  # the server died before the line above took effect
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops its worker
    os.nice(settings["worker_nice"])
    # The worker ingests and embeds; it never answers, so it loads no LLM.
    services = build_services(Settings(**{**settings, "llm_gguf": None, "llm_base_url": None}))
    work = BackgroundWork(services.ingest_jobs, services.embedding_worker)
    limit = settings["worker_max_rss_mb"]

    def done() -> bool:
        # An orphan stops (its server was killed); a worker grown past its limit (a big upload's parse
        # leaves memory Python keeps) exits between jobs, and the server starts a fresh one.
        return os.getppid() != parent or (limit > 0 and _resident_mb() > limit)

    try:
        work.run(stop, wake, until=done)
    finally:
        services.close()


LOWEST_PRIORITY = 19


def embed_at_lowest_priority(embedding: BackgroundWork, stop: threading.Event) -> None:
    """A `zhiwen worker`'s embedding loop, run in a thread at the lowest CPU priority (Linux keeps a nice
    value per thread, and the engine's threads, made at its first use here, inherit it): the worker's
    jobs (an upload waiting to become searchable) and answers on the same machine come first. With two
    workers and the server embedding a big upload on 2 cores, a small upload became searchable in 2.4 s
    (p50) with the thread at the worker's own priority and in 1.0-1.2 s at the lowest, together with
    Redis polled more often (docs/benchmarks.md)."""
    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOWEST_PRIORITY)
    embedding.run(stop, threading.Event())


class ElsewhereBackground:
    """The background work runs in another process on the same database (an API-only process): queued
    work is found by that process's poll, within a second (``IDLE_POLL_SECONDS``)."""

    def start(self) -> None:
        pass

    def notify(self) -> None:
        pass

    def stop(self) -> None:
        pass


class PipeFlag:
    """A flag one process sets and another waits on (:class:`zhiwen.services.background.Flag`).

    Not ``multiprocessing.Event``: its ``set()`` waits for every process sleeping in ``wait()`` to wake,
    so a worker killed mid-wait (``kill -TERM`` to the process group, as ``timeout`` and systemd send, or
    the OOM killer) left the server hanging forever on stop, or on the next upload's wake-up. Here the
    state is one shared byte and a wake-up one byte written to a pipe without blocking."""

    def __init__(self, context: Any) -> None:
        self._value = context.RawValue("b", 0)
        self._reader, self._writer = context.Pipe(duplex=False)  # picklable for a spawned child
        os.set_blocking(self._writer.fileno(), False)
        os.set_blocking(self._reader.fileno(), False)

    def is_set(self) -> bool:
        return bool(self._value.value)

    def set(self) -> None:
        self._value.value = 1
        with contextlib.suppress(BlockingIOError):  # the pipe is full of wake-ups already
            os.write(self._writer.fileno(), b"!")

    def clear(self) -> None:
        self._value.value = 0
        with contextlib.suppress(BlockingIOError):
            while os.read(self._reader.fileno(), 4096):
                pass

    def wait(self, timeout: float | None = None) -> bool:
        if not self.is_set():
            select.select([self._reader.fileno()], [], [], timeout)
        return self.is_set()


class BackgroundProcess:
    """The background loop in a child process, restarted whenever it ends unasked."""

    def __init__(self, settings: Settings, on_restart: Callable[[], object] = lambda: None) -> None:
        self._settings = settings
        self._context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        self._stop = PipeFlag(self._context)
        self._wake = PipeFlag(self._context)
        self._process: Any = None
        self._supervisor: threading.Thread | None = None
        self._stopping = threading.Event()
        self._on_restart = on_restart
        self._spawned_at = 0.0

    def _spawn(self) -> None:
        self._spawned_at = time.monotonic()
        self._process = self._context.Process(
            target=_worker_main,
            args=(self._settings.model_dump(), self._stop, self._wake, os.getpid()),
            name="zhiwen-worker",
            daemon=True,
        )
        self._process.start()

    def start(self) -> None:
        self._supervisor = threading.Thread(target=self._supervise, name="zhiwen-supervisor", daemon=True)
        self._supervisor.start()

    def _supervise(self) -> None:
        # Every worker is started, and stopped, from this thread: Linux's parent-death signal follows
        # the thread that started the child, so the thread outlives its worker.
        self._spawn()
        delay = 1.0
        while not self._stopping.is_set():
            try:
                self._process.join(timeout=1.0)
                if self._process.is_alive() or self._stopping.is_set():
                    continue
                # A worker that dies at once (a broken model file) is not restarted in a tight loop.
                delay = min(delay * 2, 30.0) if time.monotonic() - self._spawned_at < 10 else 1.0
                log.warning("background worker ended (exit code %s)", self._process.exitcode)
                self._on_restart()
                self._stopping.wait(delay)
                if not self._stopping.is_set():
                    self._spawn()
            except Exception:  # the store busy, a failed spawn: try again rather than stop for good
                log.exception("supervising the background worker failed; retrying")
                self._stopping.wait(delay)
        # A clean stop lets the worker finish its unit of work (a job, a batch) first.
        if self._process is None:
            return
        self._process.join(timeout=STOP_SECONDS)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)

    def notify(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._stop.set()
        self._wake.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=STOP_SECONDS + 10)
