"""In-process job runner: a worker thread that records progress and outcome in the JobStore.

Enough for one machine; a Redis-backed runner (Dramatiq/Celery) can take its place behind the same port.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from zhiwen.errors import ZhiwenError
from zhiwen.ports import JobStore, ProgressCallback
from zhiwen.types import Job

log = logging.getLogger(__name__)


class ThreadJobRunner:
    def __init__(self, jobs: JobStore, workers: int = 1) -> None:
        self._jobs = jobs
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zhiwen-job")

    def submit(self, job: Job, work: Callable[[ProgressCallback], dict[str, object]]) -> None:
        self._pool.submit(self._run, job, work)

    def _run(self, job: Job, work: Callable[[ProgressCallback], dict[str, object]]) -> None:
        self._jobs.update_job(job.id, status="running")
        try:
            result = work(lambda fraction: self._jobs.update_job(job.id, progress=round(fraction, 4)))
        except ZhiwenError as error:
            self._jobs.update_job(job.id, status="failed", error=error.message)
        except Exception as error:
            log.exception("job %s failed", job.id)
            self._jobs.update_job(job.id, status="failed", error=f"internal error: {type(error).__name__}")
        else:
            self._jobs.update_job(job.id, status="succeeded", progress=1.0, result=result)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)
