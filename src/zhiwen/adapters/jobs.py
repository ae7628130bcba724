"""In-process job runner: worker threads of this process run the jobs it submits (:mod:`zhiwen.tasks`).

Enough for one machine; :class:`zhiwen.adapters.redis_jobs.RedisJobRunner` hands them to worker processes
on any machine instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from zhiwen.types import Job

log = logging.getLogger(__name__)


class ThreadJobRunner:
    holder: str | None = None  # the submitting process runs its jobs

    def __init__(self, workers: int = 1) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zhiwen-job")
        self._execute: Callable[[str], None] | None = None

    def bind(self, execute: Callable[[str], None]) -> None:
        """What runs a job by its id (:func:`zhiwen.tasks.execute` with this process's services)."""
        self._execute = execute

    def submit(self, job: Job) -> None:
        if self._execute is None:
            raise RuntimeError("the job runner was not bound to the services")
        self._pool.submit(self._run, self._execute, job.id)

    @staticmethod
    def _run(execute: Callable[[str], None], job_id: str) -> None:
        try:
            execute(job_id)
        except Exception:  # execute() records the failure; a store gone at shutdown is all that is left
            log.exception("job %s could not be run", job_id)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)
