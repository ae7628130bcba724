"""The work that runs beside the API: queued uploads first (someone may be waiting for them), then
embeddings for chunks that have none. One loop, whether it runs in a thread of the server or in a worker
process of its own (:mod:`zhiwen.adapters.background`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from zhiwen.services.knowledge.embedding import EmbeddingWorker
from zhiwen.services.knowledge.ingest_jobs import IngestJobs

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 1.0  # another process (`zhiwen ingest`) may add chunks without waking us
RETRY_SECONDS = 5.0


class Flag(Protocol):
    """``threading.Event``, or :class:`zhiwen.adapters.background.PipeFlag` across processes."""

    def is_set(self) -> bool: ...
    def set(self) -> None: ...
    def clear(self) -> None: ...
    def wait(self, timeout: float | None = None) -> bool: ...


class BackgroundWork:
    def __init__(self, ingest_jobs: IngestJobs | None, embedding: EmbeddingWorker | None) -> None:
        self._ingest_jobs = ingest_jobs  # None: uploads are ingested elsewhere (`zhiwen worker`)
        self._embedding = embedding  # None: embeddings are computed elsewhere (tests, `zhiwen ingest`)

    def step(self) -> bool:
        """Do one unit of work: a whole upload job, or else one batch of embeddings. False when idle."""
        if self._ingest_jobs is not None and self._ingest_jobs.run_next():
            return True
        return self._embedding is not None and self._embedding.step() > 0

    def run(self, stop: Flag, wake: Flag, until: Callable[[], bool] = lambda: False) -> None:
        """Work until ``stop`` is set or ``until()`` says so; between units, wait for ``wake`` when idle."""
        while not stop.is_set() and not until():
            wake.clear()
            try:
                if self.step():
                    continue
            except Exception:
                log.exception("background work failed; retrying in %.0f s", RETRY_SECONDS)
                stop.wait(RETRY_SECONDS)
                continue
            wake.wait(IDLE_POLL_SECONDS)
