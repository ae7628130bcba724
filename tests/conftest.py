"""Shared fixtures: real SQLite stores in temporary folders and the real bundled embedding model."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

import redis
from tests.postgres import postgres_server
from tests.redis import redis_server
from zhiwen.adapters.embedders import BundledE5Embedder
from zhiwen.config import Settings
from zhiwen.sample_kb import build_sample_kb, golden_path
from zhiwen.types import Workspace
from zhiwen.wiring import Services, build_services


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Schemathesis' generated cases share one node id per test function. xdist's schedulers that group
    tests (loadfile, loadscope, loadgroup) key them by node id and silently run one case of 177, so refuse
    them here; `make test` runs that file with ``--dist load``."""
    grouped = config.getoption("dist", "no") not in ("no", "load")
    if grouped and len({item.nodeid for item in items}) < len(items):
        raise pytest.UsageError(
            "some tests share a node id (schemathesis' cases) and --dist "
            f"{config.getoption('dist')} would skip them: run them with --dist load, as `make test` does"
        )


@pytest.fixture(scope="session")
def embedder() -> BundledE5Embedder:
    return BundledE5Embedder(num_threads=2)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def services(settings: Settings, embedder: BundledE5Embedder) -> Iterator[Services]:
    built = build_services(settings, embedder=embedder)
    yield built
    built.close()


@pytest.fixture
def workspace(services: Services) -> Workspace:
    return services.workspaces.create_workspace("acme")


@pytest.fixture(scope="session")
def demo(
    tmp_path_factory: pytest.TempPathFactory, embedder: BundledE5Embedder
) -> Iterator[tuple[Services, Workspace]]:
    """The bundled demo knowledge base, ingested and embedded once for the whole session."""
    root = tmp_path_factory.mktemp("demo")
    services = build_services(Settings(data_dir=root / "data"), embedder=embedder)
    workspace = services.workspaces.create_workspace("default")
    folder = build_sample_kb(root / "kb")
    results = services.ingest.ingest_paths(workspace.id, sorted(folder.iterdir()), base=folder)
    assert all(r.status == "added" for r in results), [r for r in results if r.status != "added"]
    services.embedding_worker.run_until_done()
    yield services, workspace
    services.close()


@pytest.fixture
def demo_copy(
    demo: tuple[Services, Workspace], tmp_path: Path, embedder: BundledE5Embedder
) -> Iterator[tuple[Services, Workspace]]:
    """A private copy of the embedded demo knowledge base (SQLite backup, ~0.1 s), for tests that change
    it: releases, curated answers, feedback."""
    services, workspace = demo
    settings = Settings(data_dir=tmp_path / "copy")
    settings.db_path.parent.mkdir(parents=True)
    target = sqlite3.connect(settings.db_path)
    with services.db.reading() as conn:
        conn.backup(target)
    with target:  # answers other tests recorded in the shared demo would fill the review queue
        target.execute("DELETE FROM feedback")
        target.execute("DELETE FROM answers")
        for table in ("desk_messages", "desk_ratings", "desk_agents", "desk_conversations"):
            target.execute(f"DELETE FROM {table}")  # nor may their conversations fill the desk's queue
    target.close()
    copy = build_services(settings, embedder=embedder)
    copy.golden.import_bytes(workspace.id, "demo", "golden.jsonl", golden_path().read_bytes())
    yield copy, workspace
    copy.close()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """One real PostgreSQL (with pgvector) for the session: tests/postgres.py."""
    folder = Path(tempfile.mkdtemp(prefix="zhiwen-pg-"))  # not under pytest's 0700 base: its user reads it
    try:
        with postgres_server(folder) as url:
            yield url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real Redis for the session: tests/redis.py."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    """The session's Redis, emptied for this test."""
    redis.Redis.from_url(redis_server_url).flushdb()
    return redis_server_url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A new, empty database on the session's server, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield postgres_server_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
