"""The quality lifecycle over HTTP: feedback, review, curated answers, golden sets, evaluation, releases."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from zhiwen.api import create_app
from zhiwen.types import Workspace
from zhiwen.wiring import Services

Api = tuple[TestClient, dict[str, str]]


@pytest.fixture
def api(demo_copy: tuple[Services, Workspace]) -> Iterator[Api]:
    services, workspace = demo_copy
    headers = {
        role: {"Authorization": f"Bearer {services.keys.issue(workspace.id, role, role).plain}"}  # type: ignore[arg-type]
        for role in ("admin", "client")
    }
    with TestClient(create_app(services, run_embedding_worker=False)) as client:
        yield client, headers


def test_a_customer_rates_an_answer_and_an_agent_approves_the_correction(api: Api) -> None:
    client, auth = api
    asked = client.post(
        "/v1/ask", json={"question": "可以用数字人民币付款吗？"}, headers=auth["client"]
    ).json()
    assert asked["handoff"] and asked["release"] is None
    feedback = client.post(
        "/v1/feedback",
        json={"answer_id": asked["answer_id"], "rating": "dislike", "correct_answer": "支持数字人民币付款。"},
        headers=auth["client"],
    )
    assert feedback.status_code == 201
    assert client.get("/v1/review", headers=auth["client"]).status_code == 403

    queue = client.get("/v1/review", headers=auth["admin"]).json()
    assert queue[0]["correction"] == "支持数字人民币付款。"
    approved = client.post(
        f"/v1/review/{asked['answer_id']}/approve", json={"golden": "demo"}, headers=auth["admin"]
    )
    assert approved.status_code == 201 and approved.json()["created_by"] == "key:admin"
    record = client.get(f"/v1/answers/{asked['answer_id']}", headers=auth["admin"]).json()
    assert record["feedback"][0]["rating"] == "dislike" and record["retrieved"]

    curated = client.get("/v1/curated", headers=auth["admin"]).json()
    changed = client.patch(f"/v1/curated/{curated[0]['id']}", json={"enabled": False}, headers=auth["admin"])
    assert changed.json()["enabled"] is False
    assert client.delete(f"/v1/curated/{curated[0]['id']}", headers=auth["admin"]).status_code == 204


@pytest.mark.parametrize(
    "body",
    [
        {"answer_id": "ans_x", "rating": "meh"},
        {"answer_id": "", "rating": "like"},
        {"rating": "like"},
        {"answer_id": "ans_x", "rating": "like", "comment": "x" * 3000},
        {"answer_id": "ans_x", "rating": "like", "x": 1},
    ],
)
def test_malformed_feedback_gets_a_clear_422(api: Api, body: dict[str, object]) -> None:
    client, auth = api
    response = client.post("/v1/feedback", json=body, headers=auth["client"])
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_input"


def test_golden_sets_evaluations_reports_and_a_refused_release(api: Api) -> None:
    client, auth = api
    admin = auth["admin"]
    uploaded = client.post(
        "/v1/golden-sets/small/import",
        files={"file": ("g.csv", "question,expected_answer\n积分的有效期是多久？,12 个月\n".encode("gbk"))},
        headers=admin,
    )
    assert uploaded.status_code == 201 and uploaded.json()["size"] == 1
    broken = client.post("/v1/golden-sets/small/import", files={"file": ("g.jsonl", b"{oops")}, headers=admin)
    assert broken.status_code == 400 and "g.jsonl:1" in broken.json()["error"]["message"]
    assert client.get("/v1/golden-sets/small/export?format=csv", headers=admin).text.startswith("question,")

    run = client.post("/v1/eval/runs", json={"golden": "demo", "split": "held_out"}, headers=admin).json()
    assert run["summary"]["answer_accuracy"] > 0.85
    page = client.get(f"/v1/eval/runs/{run['id']}/report", headers=admin)
    assert page.headers["content-type"].startswith("text/html") and "data:image/png" in page.text

    first = client.post("/v1/releases", json={"golden": "demo", "note": "baseline"}, headers=admin).json()
    assert client.post(f"/v1/releases/{first['number']}/promote", headers=admin).status_code == 200
    assert (
        client.post("/v1/ask", json={"question": "积分的有效期是多久？"}, headers=admin).json()["release"]
        == 1
    )
    broken_release = client.post(
        "/v1/releases", json={"golden": "demo", "settings": {"handoff_below": "0.97"}}, headers=admin
    ).json()
    refused = client.post(f"/v1/releases/{broken_release['number']}/promote", headers=admin)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "gate_refused" and error["details"]["worse_questions"]
    listed = client.get("/v1/releases", headers=admin).json()
    assert [r["live"] for r in listed] == [True, False]
    bad = client.post("/v1/releases", json={"settings": {"top_k": "many"}}, headers=admin)
    assert bad.status_code == 400 and "top_k" in bad.json()["error"]["message"]
    assert client.post("/v1/releases/prune", json={"keep": 0}, headers=admin).status_code == 422
    assert client.post("/v1/releases/prune", json={"keep": 1}, headers=admin).json() == {"pruned": []}


def test_tuning_runs_as_a_job_and_proposes_a_release(api: Api, demo_copy: tuple[Services, Workspace]) -> None:
    client, auth = api
    services, workspace = demo_copy
    _, items = services.golden.items(workspace.id, "demo")
    body = {
        "items": [
            {
                "question": i.question,
                "expected_answer": list(i.expected_answers),
                "expected_document": list(i.expected_documents),
                "answerable": i.answerable,
            }
            for i in items[::3]
        ]
    }
    assert client.post("/v1/golden-sets/mini", json=body, headers=auth["admin"]).status_code == 201
    job = client.post("/v1/tune", json={"golden": "mini", "trials": 2}, headers=auth["admin"]).json()
    deadline = time.monotonic() + 120
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        job = client.get(f"/v1/jobs/{job['id']}", headers=auth["admin"]).json()
    assert job["status"] == "succeeded", job
    release = client.get(f"/v1/releases/{job['result']['release']}", headers=auth["admin"]).json()
    assert release["note"].startswith("proposed by zhiwen tune") and not release["live"]
    assert (
        client.post("/v1/tune", json={"golden": "missing", "trials": 0}, headers=auth["admin"]).status_code
        == 422
    )


def test_a_release_is_refused_at_once_while_chunks_wait_for_embeddings(
    api: Api, demo_copy: tuple[Services, Workspace]
) -> None:
    """The API never holds a request for minutes of embedding: it says why and when to come back."""
    client, auth = api
    services, workspace = demo_copy
    services.ingest.ingest_bytes(workspace.id, "new.md", b"# New\n\nGift cards never expire.")
    started = time.monotonic()
    refused = client.post("/v1/releases", json={"note": "now"}, headers=auth["admin"])
    assert refused.status_code == 409 and time.monotonic() - started < 2
    assert "1 chunks of this workspace are still being embedded" in refused.json()["error"]["message"]
    services.embedding_worker.run_until_done()
    assert client.post("/v1/releases", json={"note": "now"}, headers=auth["admin"]).status_code == 201


def test_synonyms_are_added_replaced_and_removed_by_admins_and_bad_ones_change_nothing(api: Api) -> None:
    client, auth = api
    added = client.post(
        "/v1/synonyms", json={"written": "铂金卡", "said": ["白金会员", "白金卡"]}, headers=auth["admin"]
    )
    assert added.status_code == 200 and added.json() == {
        "synonyms": {"白金会员": "铂金卡", "白金卡": "铂金卡"},
        "live_release": None,
        "warnings": [],
    }
    asked = client.post("/v1/ask", json={"question": "白金会员包邮吗"}, headers=auth["client"]).json()
    assert not asked["handoff"] and asked["question"] == "白金会员包邮吗"
    assert client.get("/v1/settings", headers=auth["admin"]).json()["synonyms"] == 2
    tested = client.post("/v1/hit-test", json={"question": "白金会员包邮吗"}, headers=auth["admin"]).json()
    assert tested["searched_as"] == "铂金卡包邮吗"

    for body, named in (
        ({"synonyms": {"价保": "价保"}}, "the same"),
        ({"synonyms": {"价保": ""}}, "synonyms"),
        ({"synonyms": {"x" * 51: "y"}}, "synonyms"),
        ({"synonyms": ["价保"]}, "synonyms"),
        ({"written": "x"}, "written: Extra inputs"),
    ):
        refused = client.put("/v1/synonyms", json=body, headers=auth["admin"])
        assert refused.status_code in (400, 422) and named in refused.text, refused.text
    listed = client.get("/v1/synonyms", headers=auth["admin"]).json()
    assert len(listed["synonyms"]) == 2, "nothing half-written"
    assert client.put("/v1/synonyms", json=listed, headers=auth["admin"]).json()["warnings"] == []
    assert (
        client.post("/v1/synonyms", json={"written": "x", "said": []}, headers=auth["admin"]).status_code
        == 422
    )
    assert client.get("/v1/synonyms", headers=auth["client"]).status_code == 403

    replaced = client.put(
        "/v1/synonyms", json={"synonyms": {"价保": "价格保护", "a/b": "退货"}}, headers=auth["admin"]
    ).json()
    assert replaced["synonyms"] == {"价保": "价格保护", "a/b": "退货"}
    assert replaced["warnings"] == [], "a/b is in no document; 退货 is in the returns policy"
    assert client.delete("/v1/synonyms/a/b", headers=auth["admin"]).json()["synonyms"] == {"价保": "价格保护"}
    assert client.delete("/v1/synonyms/价保", headers=auth["admin"]).json()["synonyms"] == {}
    tested = client.post("/v1/hit-test", json={"question": "白金会员包邮吗"}, headers=auth["admin"]).json()
    assert tested["searched_as"] is None
    missing = client.delete("/v1/synonyms/价保", headers=auth["admin"])
    assert missing.status_code == 404 and "价保" in missing.json()["error"]["message"]
    assert client.patch("/v1/settings", json={"synonyms": "a"}, headers=auth["admin"]).status_code == 400
