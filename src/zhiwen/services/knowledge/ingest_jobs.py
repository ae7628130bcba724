"""Upload jobs that survive a crash: the files are spooled to disk, a block at a time, before the job is
queued; a background worker (:mod:`zhiwen.services.background`) claims it and ingests the files. If the
worker or the server dies mid-job, the job is queued again and resumed; ingestion is idempotent (documents
are keyed by content hash), so the files already stored come back ``unchanged`` and nothing is written
twice. A job during which three workers died is failed with the reason instead of looping.

With a queue (``ZHIWEN_REDIS_URL``), the files go into the database with the job instead, and a ``zhiwen
worker`` on any machine ingests them (the ``ingest`` task of :mod:`zhiwen.tasks`): the machine that received
them need not be the one that ingests them.

Other jobs (training, tuning, scoring) keep their input in the database already; one interrupted by a
crash is marked failed with the reason, to be started again (or run again by the queue that holds it).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from zhiwen.errors import TooLarge
from zhiwen.ports import JobRunner, JobStore, ProgressCallback
from zhiwen.processes import held_by_queue, is_running, this_process
from zhiwen.services.knowledge.ingest import IngestService
from zhiwen.types import Job

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted: the server stopped while this job ran; start it again"
NOT_RECEIVED = "interrupted: the server stopped while the upload was arriving; upload the files again"
MAX_ATTEMPTS = 3
BLOCK = 1024 * 1024
RECEIVING = "receiving"  # the job exists, its files are still being spooled; no worker takes it yet


class IngestJobs:
    def __init__(
        self,
        jobs: JobStore,
        ingest: IngestService,
        spool: Path,
        max_bytes: int,
        queue: JobRunner | None = None,
        submit: Callable[[JobStore, JobRunner, Job], None] | None = None,
    ) -> None:
        """``queue``: a runner whose workers may be elsewhere (``holder`` set); the files then go with the
        job into the database."""
        self._jobs = jobs
        self._ingest = ingest
        self._spool = spool
        self._max_bytes = max_bytes
        self._queue = queue if queue is not None and queue.holder is not None else None
        self._submit = submit or (lambda _jobs, runner, job: runner.submit(job))

    def start(self, workspace_id: str, uploads: Sequence[tuple[str, BinaryIO]], tags: Sequence[str]) -> Job:
        """Spool the files and queue the job. Each file is copied a block at a time and counted (the web
        framework has already put a large body in a temporary file), so a 50 MB upload never sits in the
        server's memory whole; one over the limit fails the request and leaves nothing behind."""
        if self._queue is not None:
            return self._start_queued(workspace_id, uploads, tags, self._queue)
        job = self._jobs.create_job(workspace_id, "ingest", status=RECEIVING)
        folder = self._spool / job.id
        try:
            folder.mkdir(parents=True)
            for number, (name, stream) in enumerate(uploads):
                _copy_bounded(stream, folder / f"{number:04d}", self._max_bytes, name)
            manifest = {"names": [name for name, _ in uploads], "tags": list(tags), "attempts": 0}
            _write_manifest(folder, manifest)
        except BaseException as error:
            shutil.rmtree(folder, ignore_errors=True)
            reason = error.message if isinstance(error, TooLarge) else "the upload could not be stored"
            self._jobs.update_job(job.id, status="failed", error=reason)
            raise
        self._jobs.update_job(job.id, status="queued")
        return self._jobs.get_job(workspace_id, job.id)

    def _start_queued(
        self,
        workspace_id: str,
        uploads: Sequence[tuple[str, BinaryIO]],
        tags: Sequence[str],
        queue: JobRunner,
    ) -> Job:
        """The files into the database with the job, one at a time (a file is in memory once, bounded by
        the upload limit), then the job to the queue."""
        params = {"names": [name for name, _ in uploads], "tags": list(tags)}
        job = self._jobs.create_job(
            workspace_id, "ingest", status=RECEIVING, params=params, runner=queue.holder
        )
        try:
            for number, (name, stream) in enumerate(uploads):
                self._jobs.add_job_input(
                    job.id, f"{number:04d}", _read_bounded(stream, self._max_bytes, name)
                )
        except BaseException as error:
            reason = error.message if isinstance(error, TooLarge) else "the upload could not be stored"
            self._jobs.update_job(job.id, status="failed", error=reason)  # its files go with it
            raise
        self._jobs.update_job(job.id, status="queued")
        self._submit(self._jobs, queue, job)
        return self._jobs.get_job(workspace_id, job.id)

    def ingest_files(
        self,
        job: Job,
        names: Sequence[str],
        tags: Sequence[str],
        read: Callable[[int], bytes],
        progress: ProgressCallback,
    ) -> list[dict[str, object]]:
        """Ingest the job's files in order (``read(number)`` gives one), reporting progress after each. Run
        again after a crash, the files already stored come back ``unchanged``."""
        results = []
        for number, name in enumerate(names):
            result = self._ingest.ingest_bytes(job.workspace_id, name, read(number), tags)
            results.append(dataclasses.asdict(result))
            progress((number + 1) / len(names))
        return results

    def wait(self, job: Job, timeout: float, poll: float = 0.05) -> Job:
        """The job once it has finished, or as it stands after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            current = self._jobs.get_job(job.workspace_id, job.id)
            if current.status in ("succeeded", "failed") or time.monotonic() >= deadline:
                return current
            time.sleep(poll)

    def run_next(self) -> bool:
        """Claim the oldest queued upload job and ingest its files; False when none is queued."""
        job = self._jobs.claim_job("ingest")
        if job is None:
            return False
        try:
            self._run(job)
        except Exception as error:
            log.exception("ingestion job %s failed", job.id)
            self._jobs.update_job(job.id, status="failed", error=f"internal error: {type(error).__name__}")
            shutil.rmtree(self._spool / job.id, ignore_errors=True)
        return True

    def _run(self, job: Job) -> None:
        folder = self._spool / job.id
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self._jobs.update_job(
                job.id, status="failed", error="the uploaded files are gone from the spool; upload them again"
            )
            return
        names: list[str] = manifest["names"]
        if manifest["attempts"] >= MAX_ATTEMPTS:  # counted by requeue_running: workers died on it
            self._jobs.update_job(
                job.id,
                status="failed",
                error=f"the worker stopped {MAX_ATTEMPTS} times while ingesting these files"
                f" ({', '.join(names[:5])}); check them and upload again",
            )
            shutil.rmtree(folder, ignore_errors=True)
            return
        results = self.ingest_files(
            job,
            names,
            manifest["tags"],
            lambda number: (folder / f"{number:04d}").read_bytes(),
            lambda fraction: self._jobs.update_job(job.id, progress=round(fraction, 4)),
        )
        self._jobs.update_job(job.id, status="succeeded", progress=1.0, result={"files": results})
        shutil.rmtree(folder, ignore_errors=True)

    def requeue_running(self) -> list[str]:
        """After a worker died: queue its running upload jobs again (its spool is still there), counting
        the death against the job, so one that kills every worker is failed instead of looping."""
        requeued = []
        for job in self._jobs.unfinished_jobs():
            if job.kind == "ingest" and job.status == "running" and not held_by_queue(job.runner):
                folder = self._spool / job.id
                try:
                    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
                    _write_manifest(folder, {**manifest, "attempts": manifest["attempts"] + 1})
                except (OSError, ValueError):
                    pass  # run_next fails it: its files are gone
                self._jobs.update_job(job.id, status="queued", progress=0.0)
                requeued.append(job.id)
        return requeued

    def recover(self) -> dict[str, list[str]]:
        """When the server starts: queue again the upload jobs a stop interrupted; fail the other
        unfinished jobs with the reason (nothing runs them any more). Jobs held by a process that still
        runs (another API process on this database) are left to it."""
        outcome: dict[str, list[str]] = {"resumed": [], "failed": []}
        unfinished = self._jobs.unfinished_jobs()
        for job in unfinished:
            if held_by_queue(job.runner) or (job.runner != this_process() and is_running(job.runner)):
                continue
            folder = self._spool / job.id
            if job.kind == "ingest" and job.status != RECEIVING and (folder / "manifest.json").is_file():
                self._jobs.update_job(job.id, status="queued", progress=0.0)
                outcome["resumed"].append(job.id)
                continue
            error = NOT_RECEIVED if job.status == RECEIVING else INTERRUPTED
            self._jobs.update_job(job.id, status="failed", error=error)
            shutil.rmtree(folder, ignore_errors=True)
            outcome["failed"].append(job.id)
        waiting = {job.id for job in unfinished}
        if self._spool.is_dir():  # files of jobs that finished just before a crash removed them
            for folder in self._spool.iterdir():
                if folder.name not in waiting:
                    shutil.rmtree(folder, ignore_errors=True)
        return outcome


def _read_bounded(stream: BinaryIO, limit: int, name: str) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"{name} is over the {limit:,}-byte upload limit")
    return data


def _copy_bounded(stream: BinaryIO, target: Path, limit: int, name: str) -> int:
    copied = 0
    with target.open("wb") as out:
        while block := stream.read(BLOCK):
            copied += len(block)
            if copied > limit:
                raise TooLarge(f"{name} is over the {limit:,}-byte upload limit")
            out.write(block)
    return copied


def _write_manifest(folder: Path, manifest: dict[str, object]) -> None:
    """Written whole then renamed: a crash never leaves half a manifest."""
    partial = folder / "manifest.json.part"
    partial.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    partial.replace(folder / "manifest.json")
