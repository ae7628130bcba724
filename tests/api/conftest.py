"""The API over real stores in a temporary folder, with an admin key for two workspaces and a client key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from zhiwen.adapters.embedders import BundledE5Embedder
from zhiwen.api import create_app
from zhiwen.config import Settings
from zhiwen.wiring import Services, build_services


@pytest.fixture
def api(tmp_path: Path, embedder: BundledE5Embedder) -> Iterator[tuple[TestClient, Services, dict[str, str]]]:
    settings = Settings(data_dir=tmp_path / "data", rate_limit_per_minute=1000, sync_upload_bytes=50_000)
    services = build_services(settings, embedder=embedder)
    keys = {}
    for name in ("acme", "globex"):
        workspace = services.workspaces.create_workspace(name)
        keys[name] = services.keys.issue(workspace.id, "admin", "admin").plain
    keys["acme-client"] = services.keys.issue(
        services.workspaces.get_workspace("acme").id, "widget", "client"
    ).plain
    with TestClient(create_app(services)) as client:
        yield client, services, keys
    services.close()
