"""The background work's owner on one machine: an ``flock`` on a file in the data dir, released by the
kernel however the process ends. For a SQLite store, which only processes on this machine can open."""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import IO


class FileOwnerLock:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._held: IO[str] | None = None

    def claim(self, holder: str) -> str | None:
        held = self._path.open("a+")
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held.seek(0)
            owner = held.read().strip() or "another process"
            held.close()
            return owner
        held.truncate(0)
        held.write(holder)
        held.flush()
        self._held = held
        return None

    def still_held(self) -> bool:
        return self._held is not None  # the kernel keeps it while the file is open

    def release(self) -> None:
        if self._held is not None:
            self._held.close()  # and with it the lock
            self._held = None
