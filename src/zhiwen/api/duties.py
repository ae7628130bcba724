"""The work one process per database does beside answering.

Recovering jobs a stop interrupted, running the background worker (uploads, embeddings), delivering
webhooks, and applying retention rules every hour. A single `zhiwen serve` does it in its API process.
With several API processes on one database (`zhiwen serve --processes N`, or `zhiwen serve --api-only`
beside one that is not), exactly one process must: run twice, recovery would fail the other process's
running jobs as interrupted, and every webhook would be sent twice.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from typing import IO

from zhiwen.errors import Conflict
from zhiwen.ports import Background
from zhiwen.wiring import Services

log = logging.getLogger(__name__)

HOURLY_S = 3600
LOCK_FILE = "background.lock"  # in the data dir


class Duties:
    def __init__(self, services: Services, background: Background) -> None:
        self._services = services
        self._background = background
        self._stop = threading.Event()
        self._hourly: threading.Thread | None = None
        self._claimed: IO[str] | None = None

    def start(self) -> None:
        self._claim()
        recovered = self._services.ingest_jobs.recover()
        if any(recovered.values()):
            log.warning("jobs interrupted by the last stop", extra={"fields": recovered})
        self._background.start()
        self._services.webhooks.start()
        self._stop.clear()
        self._hourly = threading.Thread(target=self._every_hour, name="zhiwen-hourly", daemon=True)
        self._hourly.start()

    def stop(self) -> None:
        self._stop.set()
        if self._hourly is not None:
            self._hourly.join(timeout=30)
            self._hourly = None
        self._services.webhooks.stop()
        self._background.stop()
        if self._claimed is not None:
            self._claimed.close()  # and with it the lock
            self._claimed = None

    def _claim(self) -> None:
        """Hold the data dir's ``background.lock`` (released by the kernel however this process ends),
        or refuse: a second process doing this work would fail the first one's jobs."""
        held = (self._services.settings.data_dir / LOCK_FILE).open("a+")
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held.seek(0)
            owner = held.read().strip() or "another process"
            held.close()
            raise Conflict(
                f"{owner} already does the background work for this data dir (uploads, embeddings, "
                "webhooks, retention); start this server with --api-only, or stop that one"
            ) from None
        held.truncate(0)
        held.write(f"zhiwen serve (pid {os.getpid()})")
        held.flush()
        self._claimed = held

    def _every_hour(self) -> None:
        while True:
            self.tidy()
            if self._stop.wait(HOURLY_S):
                return

    def tidy(self) -> None:
        """Each workspace's retention rules; the desk's change feed and idle rate buckets pruned. Errors
        are logged; the next hour tries again."""
        try:
            workspaces = self._services.workspaces.list_workspaces()
            self._services.desk.prune_changes()
            self._services.rate_buckets.prune(time.time() - HOURLY_S)
        except Exception:
            log.exception("hourly tidying: the store is not answering")
            return
        for workspace in workspaces:
            try:
                expired = self._services.customers.expire(workspace.id)
            except Exception:
                log.exception("retention failed", extra={"fields": {"workspace_id": workspace.id}})
                continue
            if any(expired.values()):
                log.info("retention", extra={"fields": {"workspace_id": workspace.id, **expired}})
