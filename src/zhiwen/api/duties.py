"""The work one process per database does beside answering.

Recovering jobs a stop interrupted, running the background worker (uploads, embeddings), delivering
webhooks, and applying retention rules every hour. A single `zhiwen serve` does it in its API process.
With several API processes on one database (`zhiwen serve --processes N`, or `zhiwen serve --api-only`
beside one that is not), exactly one process must: run twice, recovery would fail the other process's
running jobs as interrupted, and every webhook would be sent twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from zhiwen.errors import Conflict
from zhiwen.ports import Background
from zhiwen.wiring import Services

log = logging.getLogger(__name__)

HOURLY_S = 3600
OWNER_CHECK_S = 30


class Duties:
    def __init__(self, services: Services, background: Background) -> None:
        self._services = services
        self._background = background
        self._stop = threading.Event()
        self._hourly: threading.Thread | None = None

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
        self._services.owner_lock.release()

    def _claim(self) -> None:
        """Hold the database's owner lock, or refuse: a second process doing this work would fail the
        first one's jobs."""
        owner = self._services.owner_lock.claim(f"zhiwen serve (pid {os.getpid()} on {socket.gethostname()})")
        if owner is not None:
            raise Conflict(
                f"{owner} already does the background work for this database (uploads, embeddings, "
                "webhooks, retention); start this server with --api-only, or stop that one"
            )

    def _every_hour(self) -> None:
        """Tidy every hour; check every half minute that this process still owns the background work."""
        tidied = -float(HOURLY_S)
        while True:
            if not self.still_the_owner():
                return
            if time.monotonic() - tidied >= HOURLY_S:
                self.tidy()
                tidied = time.monotonic()
            if self._stop.wait(OWNER_CHECK_S):
                return

    def still_the_owner(self) -> bool:
        """False once the owner lock went with its database connection: another server may take the work
        now, so this one stops doing it (answering goes on) rather than do it twice."""
        if self._services.owner_lock.still_held():
            return True
        log.error(
            "this server lost the lock that makes it the one doing the background work (its database"
            " connection dropped); uploads, embeddings, webhooks and retention stop here: restart it"
        )
        self._services.webhooks.stop()
        self._background.stop()
        return False

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
