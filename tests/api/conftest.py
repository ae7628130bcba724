"""The API over real stores in a temporary folder, with an admin key for two workspaces and a client key;
and, for the model families, one workspace with an admin and a client key (`roles_api`). Each test runs
on both deployments: the embedded one (a SQLite file, jobs in threads of the API process) and the grown
one (a real PostgreSQL, `ZHIWEN_DATABASE_URL`, and jobs sent through a real Redis, `ZHIWEN_REDIS_URL`,
to a worker that runs them as `zhiwen worker` does)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from zhiwen.adapters.embedders import BundledE5Embedder
from zhiwen.api import create_app
from zhiwen.config import Settings
from zhiwen.types import Workspace
from zhiwen.wiring import Services, build_services, run_worker

RoleApi = tuple[TestClient, dict[str, dict[str, str]]]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    return str(request.getfixturevalue("postgres_url")) if request.param == "postgresql" else None


@pytest.fixture
def redis_url_for_jobs(request: pytest.FixtureRequest, database_url: str | None) -> str | None:
    """With PostgreSQL, jobs go through Redis, as in a deployment that has grown past one machine."""
    return str(request.getfixturevalue("redis_url")) if database_url else None


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None, redis_url_for_jobs: str | None) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, redis_url=redis_url_for_jobs)


@contextlib.contextmanager
def job_worker(services: Services) -> Iterator[None]:
    """A worker in a thread, running the jobs ``services`` send to Redis (none without Redis). It does
    not embed: whether the API embeds in the background is each fixture's choice."""
    if not services.settings.redis_url:
        yield
        return
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(services, 2, stop, False), name="test-worker")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=60)
        assert not thread.is_alive(), "the worker did not stop: a job was still running"


@pytest.fixture
def services(settings: Settings, embedder: BundledE5Embedder) -> Iterator[Services]:
    built = build_services(settings, embedder=embedder)
    with job_worker(built):
        yield built
    built.close()


@pytest.fixture
def api(
    tmp_path: Path,
    embedder: BundledE5Embedder,
    database_url: str | None,
    redis_url_for_jobs: str | None,
) -> Iterator[tuple[TestClient, Services, dict[str, str]]]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        redis_url=redis_url_for_jobs,
        rate_limit_per_minute=1000,
        sync_upload_bytes=50_000,
    )
    services = build_services(settings, embedder=embedder)
    keys = {}
    for name in ("acme", "globex"):
        workspace = services.workspaces.create_workspace(name)
        keys[name] = services.keys.issue(workspace.id, "admin", "admin").plain
    keys["acme-client"] = services.keys.issue(
        services.workspaces.get_workspace("acme").id, "widget", "client"
    ).plain
    with job_worker(services), TestClient(create_app(services)) as client:
        yield client, services, keys
    services.close()


@pytest.fixture
def roles_api(services: Services, workspace: Workspace) -> Iterator[RoleApi]:
    """The API with no background embedding, and headers for an admin and a client key of `workspace`."""
    headers = {
        role: {"Authorization": f"Bearer {services.keys.issue(workspace.id, role, role).plain}"}  # type: ignore[arg-type]
        for role in ("admin", "client")
    }
    with TestClient(create_app(services, run_embedding_worker=False)) as client:
        yield client, headers


def wait_for_job(client: TestClient, job_id: str, auth: dict[str, str]) -> dict[str, object]:
    for _ in range(600):
        job: dict[str, object] = client.get(f"/v1/jobs/{job_id}", headers=auth).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError("the job did not finish")
