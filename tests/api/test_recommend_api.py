"""Recommendations over HTTP: train as a job and promote, serve with filters and reasons, live events
within the same second, similar items, related products in answers (off by default), bad requests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import wait_for_job
from zhiwen.api import create_app
from zhiwen.sample_shop import DEMO_PRODUCTS, ShopSettings, generate, rows_csv
from zhiwen.types import Workspace
from zhiwen.wiring import Services

Api = tuple[TestClient, dict[str, dict[str, str]]]


def _client(services: Services, workspace: Workspace) -> tuple[TestClient, dict[str, dict[str, str]]]:
    headers = {
        role: {"Authorization": f"Bearer {services.keys.issue(workspace.id, role, role).plain}"}
        for role in ("admin", "client")
    }
    return TestClient(create_app(services, run_embedding_worker=False)), headers


@pytest.fixture
def api(services: Services, workspace: Workspace) -> Iterator[Api]:
    client, headers = _client(services, workspace)
    with client:
        yield client, headers


def _load_shop(client: TestClient, admin: dict[str, str]) -> None:
    items, events = generate(ShopSettings(users=300, items=80, featured=DEMO_PRODUCTS[:5]))
    for path, rows in (("/v1/catalog/import", items), ("/v1/events/import", events)):
        files = {"file": ("rows.csv", rows_csv(rows), "text/csv")}
        assert client.post(path, files=files, headers=admin).status_code == 201


def _train(client: TestClient, admin: dict[str, str]) -> dict[str, object]:
    job = client.post("/v1/recommend/train", json={"promote": True}, headers=admin).json()
    return wait_for_job(client, str(job["id"]), admin)


def test_a_shop_goes_from_events_to_recommendations_that_follow_new_events(api: Api) -> None:
    client, auth = api
    assert (
        client.get("/v1/recommendations", params={"user": "u00001"}, headers=auth["client"]).status_code
        == 404
    )
    _load_shop(client, auth["admin"])
    assert client.post("/v1/recommend/train", json={}, headers=auth["client"]).status_code == 403
    job = _train(client, auth["admin"])
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert isinstance(result, dict) and result["gate"]["passed"] and result["version"] == 1
    listed = client.get("/v1/recommend/models", headers=auth["admin"]).json()
    assert listed["live"] == 1 and listed["models"][0]["report"]["test"]["chosen"]["ndcg_at_k"] > 0

    first = client.get(
        "/v1/recommendations", params={"user": "shopper-9", "k": 4}, headers=auth["client"]
    ).json()
    assert first["recommender"] == 1 and [r["reason"] for r in first["items"]] == ["popular"] * 4
    item = client.get("/v1/items", headers=auth["admin"]).json()[10]["id"]
    event = {
        "user_id": "shopper-9",
        "item_id": item,
        "event": "purchase",
        "timestamp": datetime.now(UTC).isoformat(),
    }
    assert client.post("/v1/events", json={"events": [event]}, headers=auth["client"]).status_code == 201
    after = client.get(
        "/v1/recommendations", params={"user": "shopper-9", "k": 4}, headers=auth["client"]
    ).json()
    assert item not in {r["item"]["id"] for r in after["items"]}
    assert any(
        r["because"] == {"id": item, "title": r["because"]["title"]} for r in after["items"] if r["because"]
    )

    kitchen = client.get(
        "/v1/recommendations",
        params={"user": "shopper-9", "category": ["厨房", "图书"]},
        headers=auth["client"],
    ).json()
    assert kitchen["items"] and {r["item"]["category"] for r in kitchen["items"]} <= {"厨房", "图书"}
    similar = client.get(f"/v1/items/{item}/similar", params={"k": 3}, headers=auth["client"]).json()
    assert len(similar["items"]) == 3 and item not in {r["item"]["id"] for r in similar["items"]}
    assert client.get("/v1/items/nope/similar", headers=auth["client"]).status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"user": ""},
        {"user": "u1", "k": 0},
        {"user": "u1", "k": 101},
        {"user": "u1", "k": "ten"},
        {"user": "x" * 201},
    ],
)
def test_bad_recommendation_requests_are_refused_with_the_reason(api: Api, params: dict[str, Any]) -> None:
    client, auth = api
    response = client.get("/v1/recommendations", params=params, headers=auth["client"])
    assert response.status_code == 422
    named = "query.k" if "k" in params else "query.user"
    assert response.json()["error"]["message"].startswith(named)


def test_bad_training_requests_and_gate_settings_are_refused(api: Api) -> None:
    client, auth = api
    admin = auth["admin"]
    assert (
        client.post("/v1/recommend/train", json={"candidates": ["magic"]}, headers=admin).status_code == 422
    )
    assert client.post("/v1/recommend/train", json={"candidates": []}, headers=admin).status_code == 422
    failed = wait_for_job(
        client, client.post("/v1/recommend/train", json={}, headers=admin).json()["id"], admin
    )
    assert failed["status"] == "failed" and "catalogue is empty" in str(failed["error"])
    assert (
        client.put("/v1/recommend/gate", json={"minimum": {"ndcg_at_k": 2}}, headers=admin).status_code == 400
    )
    assert client.put("/v1/recommend/gate", json={"minimum": {"ndcg_at_k": 0.05}}, headers=admin).json() == {
        "minimum": {"ndcg_at_k": 0.05},
        "tolerance": 0.02,
    }
    assert client.post("/v1/recommend/models/9/promote", headers=admin).status_code == 404
    assert client.post("/v1/recommend/rollback", headers=admin).status_code == 404


def test_answers_carry_related_products_only_when_switched_on(
    demo_copy: tuple[Services, Workspace],
) -> None:
    services, workspace = demo_copy
    client, auth = _client(services, workspace)
    with client:
        _load_shop(client, auth["admin"])
        assert _train(client, auth["admin"])["status"] == "succeeded"
        question = {"question": "扫地机器人 R7 的滤网多久换一次？"}
        plain = client.post("/v1/ask", json=question, headers=auth["client"]).json()
        assert plain["related_products"] == [] and plain["citations"]
        settings = client.patch("/v1/settings", json={"related_products": "3"}, headers=auth["admin"]).json()
        assert settings["related_products"] == 3
        shown = client.post("/v1/ask", json=question, headers=auth["client"]).json()
        assert len(shown["related_products"]) == 3 and shown["text"] == plain["text"]
        assert {p["because_of"] for p in shown["related_products"]} == {
            "极光扫地机器人 R7 / Aurora Robot Vacuum R7"
        }
        unrelated = client.post("/v1/ask", json={"question": "怎么退货？"}, headers=auth["client"]).json()
        assert unrelated["related_products"] == []
        refused = client.patch("/v1/settings", json={"related_products": "11"}, headers=auth["admin"])
        assert refused.status_code == 400
