"""Background job records, so clients can poll long uploads."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping

from zhiwen.errors import NotFound
from zhiwen.processes import this_process
from zhiwen.stores.sql import SqlDatabase, SqlRow
from zhiwen.types import Job, utc_now

# Jobs a queue holds (zhiwen.processes.QUEUED) are the queue's workers' to run, not a claimer's.
_NOT_QUEUED = "(runner IS NULL OR (runner <> 'queue' AND runner NOT LIKE 'queue:%'))"


def _job(row: SqlRow) -> Job:
    return Job(
        id=row["id"],
        workspace_id=row["workspace_id"],
        kind=row["kind"],
        status=row["status"],
        progress=row["progress"],
        result=json.loads(row["result"]) if row["result"] else None,
        error=row["error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        runner=row["runner"],
        params=json.loads(row["params"]) if row["params"] else None,
        takeovers=row["takeovers"],
    )


class SqliteJobStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def create_job(
        self,
        workspace_id: str,
        kind: str,
        status: str = "queued",
        params: Mapping[str, object] | None = None,
        inputs: Mapping[str, bytes] | None = None,
        runner: str | None = None,
    ) -> Job:
        now = utc_now()
        job_id = "job_" + secrets.token_hex(8)
        with self._db.transaction() as conn:
            conn.execute(  # by default the process that creates a job runs it, or receives its files
                "INSERT INTO jobs (id, workspace_id, kind, status, created_at, updated_at, runner, params)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    workspace_id,
                    kind,
                    status,
                    now,
                    now,
                    runner or this_process(),
                    json.dumps(dict(params), ensure_ascii=False) if params is not None else None,
                ),
            )
            for name, data in (inputs or {}).items():
                conn.execute(
                    "INSERT INTO job_inputs (job_id, name, data) VALUES (?, ?, ?)", (job_id, name, data)
                )
        return self.get_job(workspace_id, job_id)

    def add_job_input(self, job_id: str, name: str, data: bytes) -> None:
        with self._db.transaction() as conn:
            conn.execute("INSERT INTO job_inputs (job_id, name, data) VALUES (?, ?, ?)", (job_id, name, data))

    def job_inputs(self, job_id: str) -> dict[str, bytes]:
        with self._db.reading() as conn:
            rows = conn.execute("SELECT name, data FROM job_inputs WHERE job_id = ?", (job_id,)).fetchall()
        return {row["name"]: bytes(row["data"]) for row in rows}

    def take_job(self, job_id: str, runner: str, expected: Job) -> Job | None:
        """Hold the job for ``runner`` if it is still as ``expected`` (its status, holder and last touch):
        two workers given the same job never both run it. Taking a running job over counts."""
        holder = "runner IS NULL" if expected.runner is None else "runner = ?"
        with self._db.transaction() as conn:
            row = conn.execute(
                "UPDATE jobs SET status = 'running', runner = ?, updated_at = ?,"
                " takeovers = takeovers + CASE WHEN status = 'running' THEN 1 ELSE 0 END"
                f" WHERE id = ? AND status = ? AND updated_at = ? AND {holder} RETURNING *",
                (
                    runner,
                    utc_now(),
                    job_id,
                    expected.status,
                    expected.updated_at,
                    *([] if expected.runner is None else [expected.runner]),
                ),
            ).fetchone()
        return _job(row) if row is not None else None

    def find_job(self, job_id: str) -> Job | None:
        with self._db.reading() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row is not None else None

    def update_job(
        self,
        job_id: str,
        *,
        status: str | None = None,
        progress: float | None = None,
        result: dict[str, object] | None = None,
        error: str | None = None,
    ) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET status = COALESCE(?, status), progress = COALESCE(?, progress),"
                " result = COALESCE(?, result), error = COALESCE(?, error), updated_at = ? WHERE id = ?",
                (
                    status,
                    progress,
                    json.dumps(result, ensure_ascii=False) if result is not None else None,
                    error,
                    utc_now(),
                    job_id,
                ),
            )
            if status in ("succeeded", "failed"):  # its files were only for running it
                conn.execute("DELETE FROM job_inputs WHERE job_id = ?", (job_id,))

    def get_job(self, workspace_id: str, job_id: str) -> Job:
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT * FROM jobs WHERE id = ? AND workspace_id = ?", (job_id, workspace_id)
            ).fetchone()
        if row is None:
            raise NotFound(f"no job {job_id!r} in this workspace")
        return _job(row)

    def claim_job(self, kind: str) -> Job | None:
        with self._db.reading() as conn:  # an idle worker asks every second: no write lock for "no"
            if (
                conn.execute(
                    f"SELECT 1 FROM jobs WHERE kind = ? AND status = 'queued' AND {_NOT_QUEUED} LIMIT 1",
                    (kind,),
                ).fetchone()
                is None
            ):
                return None
        with self._db.transaction() as conn:
            row = conn.execute(
                # The outer status check makes a second claimer that waited for the first (PostgreSQL
                # re-reads the row it waited for) update nothing instead of taking the same job.
                "UPDATE jobs SET status = 'running', updated_at = ?, runner = ? WHERE id = ("
                f" SELECT id FROM jobs WHERE kind = ? AND status = 'queued' AND {_NOT_QUEUED}"
                " ORDER BY rowid LIMIT 1"
                ") AND status = 'queued' RETURNING *",
                (utc_now(), this_process(), kind),
            ).fetchone()
        return _job(row) if row is not None else None

    def unfinished_jobs(self) -> list[Job]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT * FROM jobs WHERE status IN ('receiving', 'queued', 'running') ORDER BY rowid"
            ).fetchall()
        return [_job(row) for row in rows]
