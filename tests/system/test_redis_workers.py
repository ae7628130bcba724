"""Jobs through a real Redis, run by workers: in a thread of the test, and as real `zhiwen worker`
processes, one of them killed with SIGKILL in the middle of a job."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import wait_for_job
from tests.files import churn_rows, table_csv
from tests.postgres import _free_port
from zhiwen import tasks
from zhiwen.adapters.background import embed_at_lowest_priority
from zhiwen.adapters.embedders import BundledE5Embedder
from zhiwen.adapters.redis_jobs import ATTEMPTS, RedisJobRunner
from zhiwen.api import create_app
from zhiwen.config import Settings
from zhiwen.errors import BackendUnavailable, TooLarge
from zhiwen.ports import ProgressCallback
from zhiwen.services.background import BackgroundWork
from zhiwen.services.knowledge.embedding import EmbeddingWorker
from zhiwen.types import Job
from zhiwen.wiring import Services, build_services, run_worker, worker_name

TABLE = {"name": "churn", "filename": "customers.csv", "target": "left", "drop": [], "actor": "key:admin"}


@pytest.fixture
def queued(tmp_path: Path, redis_url: str, embedder: BundledE5Embedder) -> Iterator[Services]:
    """Services whose jobs go to Redis (as an API process's do)."""
    settings = Settings(data_dir=tmp_path / "data", redis_url=redis_url, worker_dead_after_seconds=2)
    services = build_services(settings, embedder=embedder)
    yield services
    services.close()


@pytest.fixture
def worker(queued: Services) -> Iterator[None]:
    """A worker in a thread of this process, on the same database and Redis."""
    assert isinstance(queued.job_runner, RedisJobRunner)
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(queued, 1, stop))
    thread.start()
    yield
    stop.set()
    thread.join(timeout=60)


def _finished(services: Services, job: Job, seconds: float = 120) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = services.jobs.get_job(job.workspace_id, job.id)
        if found.status in ("succeeded", "failed"):
            return found
        time.sleep(0.2)
    raise AssertionError(f"job {job.id} still {found.status} after {seconds} s")


def _table_job(services: Services, workspace_id: str, budget: float = 5, **extra: Any) -> Job:
    params = {**TABLE, "budget_seconds": budget, "max_trials": None, "promote": False, **extra}
    return tasks.start(
        services, workspace_id, "table-model-create", params, {"table": table_csv(churn_rows())}
    )


def test_a_job_sent_through_redis_is_run_by_a_worker(queued: Services, worker: None) -> None:
    workspace = queued.workspaces.create_workspace("acme")
    job = _table_job(queued, workspace.id, max_trials=2)
    assert job.runner == "queue" and job.status == "queued"  # the API process does not run it

    done = _finished(queued, job)
    assert done.status == "succeeded", done.error
    assert done.result is not None and done.result["version"] == 1 and done.progress == 1.0
    assert done.runner is not None and done.runner.startswith(worker_name())  # a thread of this process
    assert queued.jobs.job_inputs(job.id) == {}  # the table was kept only while the job needed it
    assert [
        v.version for v in queued.table_models.named(workspace.id, "churn").family.versions(workspace.id)
    ] == [1]


def test_a_job_refused_by_its_task_fails_at_once_with_the_reason(queued: Services, worker: None) -> None:
    workspace = queued.workspaces.create_workspace("acme")
    job = _table_job(queued, workspace.id, target="no-such-column")

    done = _finished(queued, job)
    assert done.status == "failed" and done.error is not None and "no-such-column" in done.error


@pytest.fixture
def flaky() -> Iterator[list[int]]:
    """A task that fails unexpectedly on its first two tries, counting them."""
    tries: list[int] = []

    def flaky_task(
        services: Services,
        job: Job,
        params: Mapping[str, Any],
        inputs: Mapping[str, bytes],
        progress: ProgressCallback,
    ) -> dict[str, object]:
        tries.append(1)
        if len(tries) < params["fail_times"] + 1:
            raise ConnectionError("the store went away for a moment")
        return {"tries": len(tries)}

    tasks.task("test-flaky")(flaky_task)
    yield tries
    del tasks.TASKS["test-flaky"]


def test_an_unexpected_error_is_retried_with_backoff_and_fails_the_job_after_the_last_try(
    queued: Services, worker: None, flaky: list[int]
) -> None:
    workspace = queued.workspaces.create_workspace("acme")
    recovered = tasks.start(queued, workspace.id, "test-flaky", {"fail_times": ATTEMPTS - 1})
    done = _finished(queued, recovered)
    assert done.status == "succeeded" and done.result == {"tries": ATTEMPTS}

    flaky.clear()
    lost = tasks.start(queued, workspace.id, "test-flaky", {"fail_times": ATTEMPTS})
    done = _finished(queued, lost)
    assert done.status == "failed" and done.error == "internal error: ConnectionError"
    assert len(flaky) == ATTEMPTS


def test_a_second_copy_of_a_running_jobs_message_waits_until_its_holder_is_silent(
    queued: Services,
) -> None:
    workspace = queued.workspaces.create_workspace("acme")
    job = queued.jobs.create_job(workspace.id, "table-model-create", params={}, runner="queue")
    held = queued.jobs.take_job(job.id, "queue:other-machine", job)
    assert held is not None and held.status == "running"
    with pytest.raises(tasks.Busy):  # touched just now: its worker is alive
        tasks.execute(queued, job.id, "queue:me")
    assert queued.jobs.take_job(job.id, "queue:third", job) is None  # the holder changed since `job`

    time.sleep(2.2)  # worker_dead_after_seconds: the holder has not touched it since
    tasks.execute(queued, job.id, "queue:me")  # taken over; its task refuses the empty parameters
    done = queued.jobs.get_job(workspace.id, job.id)
    assert done.runner == "queue:me" and done.status == "failed"


def test_zhiwen_worker_explains_that_it_needs_redis(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "zhiwen", "--data-dir", str(tmp_path / "data"), "worker"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "ZHIWEN_REDIS_URL"},
    )
    assert done.returncode != 0 and "ZHIWEN_REDIS_URL" in done.stderr


def _start_worker(data_dir: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "zhiwen", "--data-dir", str(data_dir), "worker"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_a_worker_killed_mid_job_leaves_nothing_and_another_worker_runs_the_job_again(
    tmp_path: Path, redis_url: str, embedder: BundledE5Embedder
) -> None:
    data_dir = tmp_path / "data"
    env = {"ZHIWEN_REDIS_URL": redis_url, "ZHIWEN_WORKER_DEAD_AFTER_SECONDS": "2", "ZHIWEN_WORKER": "thread"}
    services = build_services(
        Settings(data_dir=data_dir, redis_url=redis_url, worker_dead_after_seconds=2), embedder=embedder
    )
    workspace = services.workspaces.create_workspace("acme")
    job = _table_job(services, workspace.id, budget=30)

    first = _start_worker(data_dir, env)
    try:
        deadline = time.monotonic() + 90
        while services.jobs.get_job(workspace.id, job.id).status != "running":
            assert time.monotonic() < deadline and first.poll() is None, "the first worker never took the job"
            time.sleep(0.1)
        time.sleep(1)  # in the middle of training (its budget is 30 s)
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert services.jobs.get_job(workspace.id, job.id).status == "running"  # as the kill left it
        assert services.table_models.definitions(workspace.id) == {}  # nothing half-written

        second = _start_worker(data_dir, env)
        try:
            done = _finished(services, job, seconds=180)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert done.status == "succeeded", done.error
    assert done.runner is not None and str(second.pid) in done.runner  # the second worker ran it
    versions = services.table_models.named(workspace.id, "churn").family.versions(workspace.id)
    assert [v.version for v in versions] == [1]  # run twice, recorded once
    services.close()


def test_over_http_a_job_goes_to_the_queue_and_its_outcome_shows(queued: Services, worker: None) -> None:
    workspace = queued.workspaces.create_workspace("acme")
    auth = {"Authorization": f"Bearer {queued.keys.issue(workspace.id, 'admin', 'admin').plain}"}
    with TestClient(create_app(queued, run_embedding_worker=False)) as client:
        response = client.post(
            "/v1/models",
            headers=auth,
            files={"file": ("customers.csv", table_csv(churn_rows()), "text/csv")},
            data={"name": "churn", "target": "left", "budget_seconds": "5", "max_trials": "2"},
        )
        assert response.status_code == 202, response.text
        job = wait_for_job(client, response.json()["id"], auth)
    assert job["status"] == "succeeded" and job["result"]["model"] == "churn"  # type: ignore[index]


def test_a_starting_server_leaves_the_queues_jobs_to_the_queue(queued: Services) -> None:
    workspace = queued.workspaces.create_workspace("acme")
    waiting = _table_job(queued, workspace.id)
    running = _table_job(queued, workspace.id)
    queued.jobs.take_job(running.id, "queue:other-host:1:2", running)

    outcome = queued.ingest_jobs.recover()  # what the owner process does when it starts

    assert waiting.id not in outcome["failed"] and running.id not in outcome["failed"]
    assert queued.jobs.get_job(workspace.id, waiting.id).status == "queued"
    assert queued.jobs.get_job(workspace.id, running.id).status == "running"


def test_an_upload_goes_with_its_job_to_a_worker_and_a_small_one_is_answered_at_once(
    queued: Services, worker: None
) -> None:
    workspace = queued.workspaces.create_workspace("acme")
    auth = {"Authorization": f"Bearer {queued.keys.issue(workspace.id, 'admin', 'admin').plain}"}
    with TestClient(create_app(queued, run_embedding_worker=False)) as client:
        response = client.post(
            "/v1/documents",
            headers=auth,
            files=[
                ("files", ("returns.md", b"# Returns\n\nRefunds take 3 days.", "text/markdown")),
                ("files", ("退货.md", "# 退货\n\n退款 3 天内到账。".encode(), "text/markdown")),
            ],
        )
    assert response.status_code == 200, response.text
    assert [f["status"] for f in response.json()["files"]] == ["added", "added"]
    assert queued.jobs.unfinished_jobs() == []  # it ran, in the worker
    assert queued.keywords.search(workspace.id, "refunds", 5)


def test_an_upload_for_the_queue_is_not_taken_by_the_servers_own_worker(queued: Services) -> None:
    workspace = queued.workspaces.create_workspace("acme")
    job = queued.ingest_jobs.start(workspace.id, [("a.md", io.BytesIO(b"# A\n\nText."))], [])
    assert job.status == "queued" and job.runner == "queue"
    assert set(queued.jobs.job_inputs(job.id)) == {"0000"}  # the file is in the database, not a spool
    assert queued.ingest_jobs.run_next() is False  # the owner's loop leaves it to the queue's workers
    running = queued.jobs.take_job(job.id, "queue:a-worker", job)
    assert running is not None
    assert queued.ingest_jobs.requeue_running() == []  # the owner's worker died: not this job's holder
    assert queued.jobs.get_job(workspace.id, job.id).status == "running"


def test_an_upload_over_the_limit_leaves_nothing_queued(
    tmp_path: Path, redis_url: str, embedder: BundledE5Embedder
) -> None:
    settings = Settings(data_dir=tmp_path / "data", redis_url=redis_url, max_upload_bytes=100)
    services = build_services(settings, embedder=embedder)
    workspace = services.workspaces.create_workspace("acme")
    with pytest.raises(TooLarge, match=r"big\.md"):
        services.ingest_jobs.start(
            workspace.id, [("small.md", io.BytesIO(b"# A")), ("big.md", io.BytesIO(b"x" * 101))], []
        )
    assert services.jobs.unfinished_jobs() == []  # the job failed with the reason; its files went with it
    with services.db.reading() as conn:
        assert conn.execute("SELECT COUNT(*) FROM job_inputs").fetchone()[0] == 0
    services.close()


def test_a_job_whose_workers_keep_dying_is_failed_with_the_reason(queued: Services) -> None:
    workspace = queued.workspaces.create_workspace("acme")
    job = queued.jobs.create_job(workspace.id, "table-model-create", params={}, runner="queue")
    holder: Job | None = job
    for worker in ("queue:a", "queue:b", "queue:c"):  # each taken for dead by the next
        assert holder is not None
        holder = queued.jobs.take_job(job.id, worker, holder)
    assert holder is not None and holder.takeovers == 2
    time.sleep(2.2)  # queue:c is silent too
    tasks.execute(queued, job.id, "queue:d")
    done = queued.jobs.get_job(workspace.id, job.id)
    assert done.status == "failed" and done.error is not None and "stopped 3 times" in done.error


def test_a_job_the_queue_cannot_take_fails_and_says_so(tmp_path: Path, embedder: BundledE5Embedder) -> None:
    closed = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there
    services = build_services(Settings(data_dir=tmp_path / "data", redis_url=closed), embedder=embedder)
    workspace = services.workspaces.create_workspace("acme")
    with pytest.raises(BackendUnavailable, match="job queue"):
        _table_job(services, workspace.id)
    assert services.jobs.unfinished_jobs() == []
    with services.db.reading() as conn:
        row = conn.execute("SELECT status, error FROM jobs").fetchone()
        assert row["status"] == "failed" and "job queue" in row["error"]
        assert conn.execute("SELECT COUNT(*) FROM job_inputs").fetchone()[0] == 0
    services.close()


def _manual(sections: int) -> bytes:
    """A manual of ``sections`` distinct short sections: one chunk each."""
    return "\n\n".join(
        f"# Model {n}\n\nThe model {n} charger delivers {n} watts and ships with a {n} metre cable."
        for n in range(sections)
    ).encode()


def test_the_worker_embeds_what_an_upload_through_the_queue_added(queued: Services, worker: None) -> None:
    workspace = queued.workspaces.create_workspace("acme")
    auth = {"Authorization": f"Bearer {queued.keys.issue(workspace.id, 'admin', 'admin').plain}"}
    with TestClient(create_app(queued, run_embedding_worker=False)) as client:  # the server embeds nothing
        response = client.post("/v1/documents", headers=auth, files={"files": ("chargers.md", _manual(6))})
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + 60
    while queued.documents.count_chunks_needing_vectors(workspace.id):
        assert time.monotonic() < deadline, "the worker never embedded the upload"
        time.sleep(0.2)
    assert queued.vectors.count(workspace.id) == queued.documents.count_chunks(workspace.id) == 6


def test_chunks_claimed_by_an_embedder_taken_for_dead_are_embedded_by_another(queued: Services) -> None:
    workspace = queued.workspaces.create_workspace("acme")
    queued.ingest.ingest_bytes(workspace.id, "chargers.md", _manual(3))
    [first] = queued.documents.claim_chunks_needing_vectors(1, "another-host:41:7", time.time())
    assert queued.embedding_worker.step() == 2  # not the one another machine is embedding
    assert queued.embedding_worker.step() == 0
    time.sleep(2.1)  # ZHIWEN_WORKER_DEAD_AFTER_SECONDS: that machine is taken for dead
    assert queued.embedding_worker.step() == 1
    assert queued.documents.mark_embedded([first.id], "another-host:41:7") == 0  # too late: not its any more
    assert queued.documents.count_chunks_needing_vectors(workspace.id) == 0


def test_embedding_until_done_waits_for_the_batches_others_hold(queued: Services) -> None:
    """What a release needs (every chunk embedded), with a server or worker embedding beside it."""
    workspace = queued.workspaces.create_workspace("acme")
    queued.ingest.ingest_bytes(workspace.id, "chargers.md", _manual(3))
    queued.documents.claim_chunks_needing_vectors(1, "another-host:41:7", time.time())
    assert queued.embedding_worker.run_until_done() == 3  # the third after that holder's claim lapsed
    assert queued.documents.count_chunks_needing_vectors() == 0


def test_embedding_until_done_takes_back_at_once_what_a_dead_process_on_this_host_held(
    queued: Services,
) -> None:
    embedding = EmbeddingWorker(queued.documents, queued.vectors, queued.embedder, 4, 600)
    workspace = queued.workspaces.create_workspace("acme")
    queued.ingest.ingest_bytes(
        workspace.id, "first.md", b"# Returns\n\nRefunds arrive within 3 working days."
    )
    assert embedding.step() == 1  # its first step is behind it
    queued.ingest.ingest_bytes(workspace.id, "chargers.md", _manual(3))
    dead = f"{socket.gethostname()}:999999999:1"  # no such pid
    queued.documents.claim_chunks_needing_vectors(1, dead, time.time())
    started = time.monotonic()
    assert embedding.run_until_done() == 3
    assert time.monotonic() - started < 60  # not the 600 s lease


class _Unreachable:
    """An embedding server that is down."""

    dim = 384

    def embed_queries(self, texts: Sequence[str]) -> Any:
        raise ConnectionError("the embedding server is down")

    embed_passages = embed_questions = embed_queries


def test_an_embedder_that_fails_hands_its_batch_back_at_once(queued: Services) -> None:
    workspace = queued.workspaces.create_workspace("acme")
    queued.ingest.ingest_bytes(workspace.id, "chargers.md", _manual(2))
    failing = EmbeddingWorker(queued.documents, queued.vectors, _Unreachable(), lease_seconds=600)
    with pytest.raises(ConnectionError):
        failing.step()
    assert queued.documents.vector_claim_holders() == set()  # not held for the 600 s lease
    assert queued.embedding_worker.step() == 2


def test_a_worker_killed_while_embedding_leaves_its_chunks_to_the_next_embedder(
    tmp_path: Path, redis_url: str, embedder: BundledE5Embedder
) -> None:
    """Killed with SIGKILL, it marks nothing it had not embedded; an embedder starting on this host hands
    the dead process's chunks back at once instead of waiting out its claims."""
    data_dir = tmp_path / "data"
    env = {
        "ZHIWEN_REDIS_URL": redis_url,
        "ZHIWEN_WORKER_DEAD_AFTER_SECONDS": "600",
        "ZHIWEN_EMBED_BATCH": "2",
    }
    services = build_services(
        Settings(data_dir=data_dir, redis_url=redis_url, worker_dead_after_seconds=600), embedder=embedder
    )
    workspace = services.workspaces.create_workspace("acme")
    services.ingest.ingest_bytes(workspace.id, "chargers.md", _manual(40))

    process = _start_worker(data_dir, env)
    try:
        deadline = time.monotonic() + 90
        while not (  # in the middle: some chunks embedded, a batch in hand
            services.documents.count_chunks_needing_vectors(workspace.id) < 40
            and services.documents.vector_claim_holders()
        ):
            assert time.monotonic() < deadline and process.poll() is None, "the worker never embedded"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    # Its batch in hand, unless the kill landed between marking one and claiming the next.
    assert all(str(process.pid) in holder for holder in services.documents.vector_claim_holders())
    waiting = services.documents.count_chunks_needing_vectors(workspace.id)
    assert 0 < waiting < 40
    with services.db.reading() as conn:  # everything marked embedded has its vector
        assert (
            conn.execute(
                "SELECT COUNT(*) FROM chunks c WHERE embedded = 1"
                " AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.chunk_id = c.id)"
            ).fetchone()[0]
            == 0
        )

    assert services.embedding_worker.run_until_done() == waiting  # a 600 s claim, handed back at once
    assert services.vectors.count(workspace.id) == 40
    services.close()


def test_a_workers_embedding_runs_at_the_lowest_cpu_priority(queued: Services) -> None:
    """Its jobs (an upload waiting to become searchable) and answers on the same machine come first."""
    seen: list[int] = []

    def embed_then_look() -> None:
        stop = threading.Event()
        stop.set()  # nothing to wait for: the loop ends at once
        embed_at_lowest_priority(BackgroundWork(None, queued.embedding_worker), stop)
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    thread = threading.Thread(target=embed_then_look)
    thread.start()
    thread.join()
    assert seen == [19] and os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) != 19
