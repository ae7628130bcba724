"""Upload jobs: spooled in blocks, claimed once, resumed after a crash, never retried forever."""

from __future__ import annotations

import io
import threading

import pytest

from zhiwen.errors import TooLarge
from zhiwen.services.background import BackgroundWork
from zhiwen.services.knowledge.ingest_jobs import MAX_ATTEMPTS, NOT_RECEIVED, IngestJobs
from zhiwen.types import Workspace
from zhiwen.wiring import Services


def _upload(*files: tuple[str, bytes]) -> list[tuple[str, io.BytesIO]]:
    return [(name, io.BytesIO(data)) for name, data in files]


def test_a_queued_upload_is_ingested_once_and_its_spool_removed(
    services: Services, workspace: Workspace
) -> None:
    jobs = services.ingest_jobs
    job = jobs.start(workspace.id, _upload(("a.md", b"# A\n\nRefunds take 3 days."), ("empty.md", b"")), [])
    assert job.status == "queued"
    assert jobs.run_next() and not jobs.run_next()  # claimed once; nothing else waits
    done = services.jobs.get_job(workspace.id, job.id)
    assert done.status == "succeeded" and done.result is not None
    assert [(f["source"], f["status"]) for f in done.result["files"]] == [  # type: ignore[attr-defined]
        ("a.md", "added"),
        ("empty.md", "failed"),
    ]
    assert not (services.settings.data_dir / "spool" / job.id).exists()


def test_an_upload_over_the_limit_fails_while_it_streams_and_leaves_nothing(
    services: Services, workspace: Workspace
) -> None:
    jobs = IngestJobs(services.jobs, services.ingest, services.settings.data_dir / "spool", max_bytes=1000)
    with pytest.raises(TooLarge, match=r"big\.txt is over the 1,000-byte upload limit"):
        jobs.start(workspace.id, _upload(("ok.md", b"# Fine"), ("big.txt", b"x" * 5000)), [])
    assert not jobs.run_next()
    assert not any((services.settings.data_dir / "spool").iterdir())
    assert services.documents.count_documents(workspace.id) == 0
    with services.db.reading() as conn:
        [(status, error)] = [tuple(row) for row in conn.execute("SELECT status, error FROM jobs")]
    assert status == "failed" and "over the 1,000-byte upload limit" in error


def test_a_job_that_keeps_killing_its_worker_is_failed_with_the_reason(
    services: Services, workspace: Workspace
) -> None:
    jobs = services.ingest_jobs
    job = jobs.start(workspace.id, _upload(("poison.md", b"# P\n\nText.")), [])
    for _ in range(MAX_ATTEMPTS):  # a worker claims it and dies; the server queues it again
        assert services.jobs.claim_job("ingest") is not None
        assert jobs.requeue_running() == [job.id]
    assert jobs.run_next()
    failed = services.jobs.get_job(workspace.id, job.id)
    assert failed.status == "failed" and "stopped 3 times" in (failed.error or "")
    assert "poison.md" in (failed.error or "")
    assert services.documents.count_documents(workspace.id) == 0


def test_a_job_whose_worker_died_twice_still_runs(services: Services, workspace: Workspace) -> None:
    jobs = services.ingest_jobs
    job = jobs.start(workspace.id, _upload(("a.md", b"# A\n\nText a.")), [])
    for _ in range(MAX_ATTEMPTS - 1):
        assert services.jobs.claim_job("ingest") is not None
        jobs.requeue_running()
    assert jobs.run_next() and services.jobs.get_job(workspace.id, job.id).status == "succeeded"


def test_after_a_crash_spooled_jobs_resume_and_half_received_ones_fail(
    services: Services, workspace: Workspace
) -> None:
    jobs = services.ingest_jobs
    running = jobs.start(workspace.id, _upload(("a.md", b"# A\n\nText a.")), [])
    assert services.jobs.claim_job("ingest") is not None  # a worker took it, then the server died
    arriving = services.jobs.create_job(workspace.id, "ingest", status="receiving")
    outcome = jobs.recover()
    assert outcome == {"resumed": [running.id], "failed": [arriving.id]}
    assert services.jobs.get_job(workspace.id, arriving.id).error == NOT_RECEIVED
    assert jobs.run_next()
    assert services.jobs.get_job(workspace.id, running.id).status == "succeeded"


def test_a_worker_restart_requeues_only_running_upload_jobs(services: Services, workspace: Workspace) -> None:
    jobs = services.ingest_jobs
    first = jobs.start(workspace.id, _upload(("a.md", b"# A\n\nText a.")), [])
    jobs.start(workspace.id, _upload(("b.md", b"# B\n\nText b.")), [])
    tuning = services.jobs.create_job(workspace.id, "tune")
    assert services.jobs.claim_job("ingest") is not None
    assert services.jobs.claim_job("tune") is not None  # runs in the server, not the worker
    assert jobs.requeue_running() == [first.id]
    assert services.jobs.get_job(workspace.id, tuning.id).status == "running"


def test_the_background_loop_ingests_before_it_embeds(services: Services, workspace: Workspace) -> None:
    """Someone may be waiting for the upload; embeddings can wait a batch."""
    work = BackgroundWork(services.ingest_jobs, services.embedding_worker)
    services.ingest.ingest_bytes(workspace.id, "old.md", b"# Old\n\nShipping is free over 99 yuan.")
    job = services.ingest_jobs.start(workspace.id, _upload(("a.md", b"# A\n\nRefunds take 3 days.")), [])
    assert work.step()
    assert services.jobs.get_job(workspace.id, job.id).status == "succeeded"
    assert services.documents.count_chunks_needing_vectors(workspace.id) == 2  # old.md's chunk still waits
    while work.step():
        pass
    assert services.documents.count_chunks_needing_vectors(workspace.id) == 0
    stop, wake = threading.Event(), threading.Event()
    stop.set()
    work.run(stop, wake)  # returns at once when asked to stop
