"""Jobs through Redis, run by ``zhiwen worker`` processes on any machine (Dramatiq).

Dramatiq rather than the others: a message is acknowledged only after its job ran, and a worker that stops
sending heartbeats (killed, its machine gone) has its messages put back on the queue for another worker;
retries with exponential backoff are built in; a worker is one long-lived process with threads, so it loads
the embedding model once (RQ forks a process per job); its dependency is small (Celery's is much larger),
and our tasks are CPU work, which arq's asyncio does not help.

Whether a job runs, and runs once, is decided by :func:`zhiwen.tasks.execute` on the database, not by the
queue: a copy of a message whose job is done does nothing, and one whose job is running elsewhere and alive
waits its turn (:class:`zhiwen.tasks.Busy`, retried with backoff until the job is over).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage, TimeLimit, default_middleware

from zhiwen.processes import QUEUED
from zhiwen.tasks import Busy
from zhiwen.types import Job

QUEUE = "zhiwen-jobs"
ATTEMPTS = 3  # an unexpected error is tried again twice, then the job fails
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 30_000
# An idle worker asks Redis for a message this often (Dramatiq's default, 1 s, was half of the 2 s an upload
# may take to become searchable).
IDLE_POLL_MS = 200
Execute = Callable[[str, bool], None]  # (job id, last try)


class RedisJobRunner:
    """Submits jobs to Redis from API processes; :meth:`work` runs them in a worker process."""

    holder: str | None = QUEUED

    def __init__(self, url: str, dead_after_seconds: float) -> None:
        """``dead_after_seconds``: a worker silent that long is taken for dead and its jobs are handed to
        others. Each of a worker's polls (about two a second when idle) looks for dead workers with a
        chance that makes it about once per ``dead_after_seconds``."""
        self.broker = RedisBroker(  # type: ignore[no-untyped-call]
            url=url,
            # No time limit: a training runs as long as its budget; execute() handles every error.
            middleware=[m() for m in default_middleware if m is not TimeLimit],
            heartbeat_timeout=int(dead_after_seconds * 1000),
            maintenance_chance=min(1_000_000, int(1_000_000 / max(dead_after_seconds, 1.0))),
        )
        self.broker.add_middleware(CurrentMessage())
        self._execute: Execute | None = None
        self._actor: Any = dramatiq.actor(
            actor_name="zhiwen_job",
            queue_name=QUEUE,
            broker=self.broker,
            min_backoff=MIN_BACKOFF_MS,
            max_backoff=MAX_BACKOFF_MS,
            retry_when=lambda retries, error: True,  # execute() decides when a job has failed for good
        )(self._perform)

    def submit(self, job: Job) -> None:
        self._actor.send(job.id)

    def _perform(self, job_id: str) -> None:
        if self._execute is None:
            raise RuntimeError("this process submits jobs; `zhiwen worker` runs them")
        message = CurrentMessage.get_current_message()
        failures = int(message.options.get("failures", 0)) if message is not None else 0
        try:
            self._execute(job_id, failures + 1 >= ATTEMPTS)
        except Busy as busy:  # retried with backoff, and not logged as an error
            raise dramatiq.Retry(str(busy)) from busy
        except Exception:
            if message is not None:  # kept with the message when the queue retries it
                message.options["failures"] = failures + 1
            raise

    def work(self, execute: Execute, threads: int, stop: threading.Event) -> None:
        """Run jobs from the queue in ``threads`` threads until ``stop`` is set; the job in hand is
        finished first (its message is acknowledged only then)."""
        self._execute = execute
        worker = dramatiq.Worker(
            self.broker, queues={QUEUE}, worker_threads=threads, worker_timeout=IDLE_POLL_MS
        )
        worker.start()
        try:
            stop.wait()
        finally:
            worker.stop()

    def shutdown(self) -> None:
        self.broker.close()
        self.broker.client.close()
