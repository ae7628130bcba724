"""Which process holds a job, and whether it still runs: so that a server starting beside others on the
same database fails only the jobs whose process is gone (not those another API process is running).

An identity is ``host:pid:start``, the start being the process's start time in clock ticks since boot
(``/proc/PID/stat``), so a pid the system reused for another process is not taken for the old one.
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path


def _started(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the command name


def identity(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}:{_started(pid) or '?'}"


def this_process() -> str:
    return _this(os.getpid())  # keyed by pid: a forked child is another process


_this = functools.cache(identity)


def is_running(identity: str | None) -> bool:
    """Whether the process named by ``identity`` still runs; False for one on another host (this check
    cannot see it) or without an identity."""
    if not identity:
        return False
    host, _, rest = identity.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return _started(int(pid)) == started


def is_gone(identity: str) -> bool:
    """Whether the process named by ``identity`` ran on this host and has stopped (one on another host
    may still run: this check cannot tell)."""
    return identity.partition(":")[0] == socket.gethostname() and not is_running(identity)


QUEUED = "queue"  # a job's holder while a queue (Redis) holds it; its worker then is "queue:<identity>"


def held_by_queue(runner: str | None) -> bool:
    """Whether a queue holds the job: the queue, not a starting server, decides when it has failed."""
    return runner is not None and runner.split(":", 1)[0] == QUEUED
