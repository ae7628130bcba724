"""Upload jobs that survive a crash: the files are spooled to disk before the job is queued, so a server
killed mid-job resumes it on restart. Ingestion is idempotent (documents are keyed by content hash), so
the files a killed job had already stored come back ``unchanged`` and nothing is written twice.

Other jobs (training, tuning, scoring) keep their input in the database already; one interrupted by a
crash is marked failed with the reason, to be started again.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from zhiwen.ports import JobRunner, JobStore, ProgressCallback
from zhiwen.services.ingest import IngestService
from zhiwen.types import Job

INTERRUPTED = "interrupted: the server stopped while this job ran; start it again"


class IngestJobs:
    def __init__(self, jobs: JobStore, runner: JobRunner, ingest: IngestService, spool: Path) -> None:
        self._jobs = jobs
        self._runner = runner
        self._ingest = ingest
        self._spool = spool

    def start(self, workspace_id: str, uploads: Sequence[tuple[str, bytes]], tags: Sequence[str]) -> Job:
        job = self._jobs.create_job(workspace_id, "ingest")
        folder = self._spool / job.id
        folder.mkdir(parents=True)
        for number, (_, data) in enumerate(uploads):
            (folder / f"{number:04d}").write_bytes(data)
        manifest = {"names": [name for name, _ in uploads], "tags": list(tags)}
        (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
        self._submit(job)
        return job

    def _submit(self, job: Job) -> None:
        folder = self._spool / job.id

        def work(progress: ProgressCallback) -> dict[str, object]:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            names, results = manifest["names"], []
            for number, name in enumerate(names):
                data = (folder / f"{number:04d}").read_bytes()
                result = self._ingest.ingest_bytes(job.workspace_id, name, data, manifest["tags"])
                results.append(dataclasses.asdict(result))
                progress((number + 1) / len(names))
            shutil.rmtree(folder, ignore_errors=True)
            return {"files": results}

        self._runner.submit(job, work)

    def recover(self) -> dict[str, list[str]]:
        """After a restart: resume spooled upload jobs, fail the other unfinished ones with the reason."""
        outcome: dict[str, list[str]] = {"resumed": [], "failed": []}
        for job in self._jobs.unfinished_jobs():
            if job.kind == "ingest" and (self._spool / job.id / "manifest.json").is_file():
                self._jobs.update_job(job.id, status="queued", progress=0.0)
                self._submit(job)
                outcome["resumed"].append(job.id)
            else:
                self._jobs.update_job(job.id, status="failed", error=INTERRUPTED)
                outcome["failed"].append(job.id)
        return outcome
