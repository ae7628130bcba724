"""The JobStore contract: jobs are claimed once, oldest first, whichever process claims."""

from __future__ import annotations

import threading

from tests.contracts.conftest import Connect
from zhiwen.processes import this_process
from zhiwen.stores.sqlite.jobs import SqliteJobStore
from zhiwen.stores.sqlite.workspaces import SqliteWorkspaceStore


def test_jobs_are_claimed_oldest_first_and_each_once(connect: Connect) -> None:
    first = connect()
    workspace = SqliteWorkspaceStore(first).create_workspace("acme").id
    jobs = SqliteJobStore(first)
    made = [jobs.create_job(workspace, "ingest").id for _ in range(20)]
    jobs.create_job(workspace, "tune")
    claimed: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        store = SqliteJobStore(connect())  # each worker its own connection, as its own process
        while (job := store.claim_job("ingest")) is not None:
            with lock:
                claimed.append(job.id)

    workers = [threading.Thread(target=worker) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sorted(claimed) == sorted(made) and len(claimed) == len(set(claimed))
    assert [j.status for j in jobs.unfinished_jobs()] == ["running"] * 20 + ["queued"]
    assert {j.runner for j in jobs.unfinished_jobs()} == {this_process()}


def test_a_job_keeps_its_progress_outcome_and_workspace(connect: Connect) -> None:
    db = connect()
    workspace = SqliteWorkspaceStore(db).create_workspace("acme").id
    jobs = SqliteJobStore(db)
    job = jobs.create_job(workspace, "tune")
    jobs.update_job(job.id, status="running", progress=0.5)
    jobs.update_job(job.id, status="succeeded", progress=1.0, result={"best": {"top_k": 5}})
    done = jobs.get_job(workspace, job.id)
    assert (done.status, done.progress, done.result) == ("succeeded", 1.0, {"best": {"top_k": 5}})
    assert jobs.unfinished_jobs() == []


def test_a_job_carries_its_parameters_and_files_until_it_ends(connect: Connect) -> None:
    db = connect()
    workspace = SqliteWorkspaceStore(db).create_workspace("acme").id
    jobs = SqliteJobStore(db)
    table = bytes(range(256)) * 10  # any bytes, NUL included
    job = jobs.create_job(
        workspace, "table-model-train", params={"name": "churn", "名": "客户"}, inputs={"table": table}
    )
    jobs.add_job_input(job.id, "held_out", b"")
    found = jobs.find_job(job.id)
    assert found is not None and found.params == {"name": "churn", "名": "客户"}
    assert jobs.job_inputs(job.id) == {"table": table, "held_out": b""}
    jobs.update_job(job.id, progress=0.5)
    assert jobs.job_inputs(job.id) != {}  # still needed
    jobs.update_job(job.id, status="failed", error="no")
    assert jobs.job_inputs(job.id) == {}
    assert jobs.find_job("job_missing") is None


def test_a_job_is_taken_only_as_it_was_seen_and_a_queues_jobs_are_not_claimed(connect: Connect) -> None:
    db = connect()
    workspace = SqliteWorkspaceStore(db).create_workspace("acme").id
    jobs = SqliteJobStore(db)
    queued = jobs.create_job(workspace, "ingest", runner="queue")
    assert jobs.claim_job("ingest") is None  # the queue's workers run it
    taken = jobs.take_job(queued.id, "queue:a", queued)
    assert taken is not None and (taken.status, taken.runner) == ("running", "queue:a")
    assert jobs.take_job(queued.id, "queue:b", queued) is None  # seen before "a" took it
    again = jobs.take_job(queued.id, "queue:b", taken)  # "a" was taken for dead
    assert again is not None and (again.runner, again.takeovers) == ("queue:b", 1)
    assert jobs.claim_job("ingest") is None
    mine = jobs.create_job(workspace, "ingest")
    claimed = jobs.claim_job("ingest")
    assert claimed is not None and claimed.id == mine.id
