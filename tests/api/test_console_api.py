"""What the admin console reads that programs can read too: hit testing, a document's chunks, conversations
filtered for reading back, the handoff-threshold curve, API keys, the model backends; and the console's own
files."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from zhiwen.adapters.embedders import BundledE5Embedder
from zhiwen.api import create_app
from zhiwen.config import Settings
from zhiwen.types import Workspace
from zhiwen.wiring import Services, build_services

Api = tuple[TestClient, dict[str, dict[str, str]]]


@pytest.fixture
def api(demo_copy: tuple[Services, Workspace]) -> Iterator[Api]:
    services, workspace = demo_copy
    other = services.workspaces.create_workspace("globex")
    headers = {
        role: {"Authorization": f"Bearer {services.keys.issue(workspace.id, role, role).plain}"}  # type: ignore[arg-type]
        for role in ("admin", "client", "agent")
    }
    headers["other"] = {"Authorization": f"Bearer {services.keys.issue(other.id, 'admin', 'admin').plain}"}
    with TestClient(create_app(services, run_embedding_worker=False)) as client:
        yield client, headers


def test_hit_testing_explains_the_answer_and_records_nothing(api: Api) -> None:
    client, auth = api
    before = client.get("/v1/desk/conversations", headers=auth["admin"]).json()
    tested = client.post("/v1/hit-test", json={"question": "扫地机器人保修多久？"}, headers=auth["admin"])
    assert tested.status_code == 200, tested.text
    body = tested.json()
    assert body["release"] is None and body["handoff_below"] == 0.5
    assert 0 <= body["answer"]["confidence"] <= 1 and body["answer"]["conversation_id"] is None
    hits = body["hits"]
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    assert sum(h["chosen"] for h in hits) == 1
    assert any("扫地" in h["matched_terms"] for h in hits)  # why it matched, with IDF weights
    assert all(h["keyword_score"] is None or h["keyword_score"] >= 0 for h in hits)
    assert client.get("/v1/desk/conversations", headers=auth["admin"]).json() == before
    assert client.get("/v1/review", headers=auth["admin"]).json() == []

    live = client.post(
        "/v1/hit-test", json={"question": "退货运费谁出", "target": "live"}, headers=auth["admin"]
    )
    assert (
        live.status_code == 200 and live.json()["release"] is None
    )  # nothing promoted yet: the working knowledge
    assert client.post("/v1/hit-test", json={"question": "x"}, headers=auth["client"]).status_code == 403
    for bad in ({"question": ""}, {"question": "x" * 2001}, {"question": "x", "target": "staging"}, {}):
        refused = client.post("/v1/hit-test", json=bad, headers=auth["admin"])
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_input"


def test_a_documents_chunks_come_in_order_with_their_keyword_terms(api: Api) -> None:
    client, auth = api
    documents = client.get("/v1/documents?limit=1000", headers=auth["admin"]).json()["documents"]
    warranty = next(d for d in documents if d["source"] == "warranty-zh.md")
    assert warranty["waiting_chunks"] == 0 and warranty["characters"] > 100
    chunks = client.get(f"/v1/documents/{warranty['id']}/chunks", headers=auth["client"]).json()
    assert len(chunks) == warranty["chunk_count"]
    assert [c["position"] for c in chunks] == sorted(c["position"] for c in chunks)
    assert any("保修" in c["terms"] for c in chunks)
    elsewhere = client.get(f"/v1/documents/{warranty['id']}/chunks", headers=auth["other"])
    assert elsewhere.status_code == 404


def test_a_folder_upload_keeps_each_files_path_and_drops_anything_that_climbs_out(api: Api) -> None:
    client, auth = api
    files = [
        ("files", ("manuals/r7/README.md", "# R7\n\nR7 的滤网每 3 个月更换。".encode())),
        ("files", ("manuals/x1/README.md", "# X1\n\nX1 的电池保修 1 年。".encode())),
        ("files", ("../../etc/C:/notes.md", "# Notes\n\n备注。".encode())),
    ]
    uploaded = client.post("/v1/documents", files=files, headers=auth["admin"])
    assert uploaded.status_code == 200, uploaded.text
    assert [f["source"] for f in uploaded.json()["files"]] == [
        "manuals/r7/README.md",
        "manuals/x1/README.md",
        "etc/notes.md",
    ]
    assert all(f["status"] == "added" for f in uploaded.json()["files"])


def test_conversations_are_filtered_for_reading_back(api: Api) -> None:
    client, auth = api
    answered = client.post(
        "/v1/ask", json={"question": "积分的有效期是多久？"}, headers=auth["client"]
    ).json()
    handed = client.post(
        "/v1/ask", json={"question": "你们的店在火星上有分店吗？"}, headers=auth["client"]
    ).json()
    assert handed["handoff"] and not answered["handoff"]
    client.post(
        "/v1/feedback", json={"answer_id": answered["answer_id"], "rating": "dislike"}, headers=auth["client"]
    )

    def ids(query: str) -> set[str]:
        response = client.get(f"/v1/desk/conversations{query}", headers=auth["admin"])
        assert response.status_code == 200, response.text
        return {c["id"] for c in response.json()}

    both = {answered["conversation_id"], handed["conversation_id"]}
    assert ids("") == both
    assert ids("?handed_off=true") == {handed["conversation_id"]}
    assert ids("?handed_off=false&disliked=true") == {answered["conversation_id"]}
    assert ids("?confidence_below=0.3") == {handed["conversation_id"]}
    assert ids("?language=en") == set()
    assert ids("?since=2000-01-01&until=2999-01-01") == both and ids("?since=2999-01-01") == set()
    summary = client.get("/v1/desk/conversations?disliked=true", headers=auth["admin"]).json()[0]
    assert summary["turns"] == 1 and summary["dislikes"] == 1 and summary["rating"] is None
    assert client.get("/v1/desk/conversations", headers=auth["agent"]).status_code == 403
    assert client.get("/v1/desk/conversations", headers=auth["other"]).json() == []
    for bad in ("?since=yesterday", "?confidence_below=2", "?language=fr", "?limit=0", "?handed_off=maybe"):
        assert client.get(f"/v1/desk/conversations{bad}", headers=auth["admin"]).status_code == 422, bad


def test_the_handoff_curve_replays_every_threshold_on_an_evaluation(api: Api) -> None:
    client, auth = api
    run = client.post("/v1/eval/runs", json={"golden": "demo"}, headers=auth["admin"]).json()
    curve = client.get(f"/v1/eval/runs/{run['id']}/curve", headers=auth["admin"]).json()
    points = curve["points"]
    assert curve["threshold_now"] == 0.5 and curve["questions"] == run["summary"]["questions"]
    assert [p["threshold"] for p in points] == [round(i / 100, 4) for i in range(101)]
    shares = [p["handoff_share"] for p in points]
    assert shares == sorted(shares)  # a higher threshold never hands off fewer
    now = next(p for p in points if p["threshold"] == 0.5)
    assert now["answer_accuracy"] == pytest.approx(run["summary"]["answer_accuracy"], abs=1e-9)
    assert client.get("/v1/eval/runs/run_nope/curve", headers=auth["admin"]).status_code == 404


def test_keys_are_issued_once_listed_without_secrets_and_revoked_within_the_workspace(api: Api) -> None:
    client, auth = api
    issued = client.post(
        "/v1/keys",
        json={"name": "shop", "role": "widget", "origins": ["https://shop.example"]},
        headers=auth["admin"],
    )
    assert issued.status_code == 201, issued.text
    key = issued.json()
    assert key["secret"].startswith("zw_pub_") and key["origins"] == ["https://shop.example"]
    listed = client.get("/v1/keys", headers=auth["admin"]).json()
    assert key["id"] in {k["id"] for k in listed} and all("secret" not in k for k in listed)
    assert client.post(f"/v1/keys/{key['id']}/revoke", headers=auth["other"]).status_code == 404
    revoked = client.post(f"/v1/keys/{key['id']}/revoke", headers=auth["admin"])
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    again = client.post(f"/v1/keys/{key['id']}/revoke", headers=auth["admin"])
    assert again.status_code == 409 and "already revoked" in again.json()["error"]["message"]
    assert (
        client.get(
            "/v1/widget/config",
            headers={"Authorization": f"Bearer {key['secret']}", "Origin": "https://shop.example"},
        ).status_code
        == 401
    )
    for bad in (
        {"name": "", "role": "client"},
        {"name": "w", "role": "widget"},
        {"name": "w", "role": "root"},
        {"name": "w", "role": "client", "origins": ["https://a.example"]},
    ):
        refused = client.post("/v1/keys", json=bad, headers=auth["admin"])
        assert refused.status_code in (400, 422), (bad, refused.text)
        assert refused.json()["error"]["code"] == "invalid_input"
    assert client.get("/v1/keys", headers=auth["client"]).status_code == 403
    workspace = client.get("/v1/workspace", headers=auth["admin"]).json()
    assert (
        workspace["name"] == "default" and workspace["documents"] == 45 and workspace["waiting_chunks"] == 0
    )
    assert workspace["active_keys"] == 3 and workspace["releases"] == 0 and workspace["live_release"] is None
    assert client.get("/v1/workspace", headers=auth["other"]).json()["documents"] == 0


def test_the_console_is_served_from_the_package_under_a_strict_policy(api: Api) -> None:
    client = api[0]
    page = client.get("/admin")
    assert page.status_code == 200 and 'src="/admin/app.js"' in page.text
    policy = page.headers["content-security-policy"]
    assert (
        "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    )
    script = client.get("/admin/app.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert client.get("/admin/console.css").headers["content-type"].startswith("text/css")
    for missing in ("/admin/nope.js", "/admin/index.html", "/admin/..%2Fapp.py", "/admin/__init__.py"):
        response = client.get(missing)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", missing


def test_the_backends_are_described_without_keys_and_checked_with_a_real_call(
    tmp_path: Path, embedder: BundledE5Embedder
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        llm_base_url="http://127.0.0.1:9/v1",
        llm_api_key="sk-secret",
        llm_timeout_s=2,
    )
    services = build_services(settings, embedder=embedder)
    workspace = services.workspaces.create_workspace("acme")
    admin = {"Authorization": f"Bearer {services.keys.issue(workspace.id, 'admin', 'admin').plain}"}
    with TestClient(create_app(services, run_embedding_worker=False)) as client:
        described = client.get("/v1/backends", headers=admin)
        assert described.status_code == 200
        assert not {"sk-secret", "pw-secret", "q-secret"} & set(described.text.replace('"', " ").split())
        assert "secret" not in described.text
        assert [(b["role"], b["kind"], b["ok"]) for b in described.json()] == [
            ("embedding", "bundled", None),
            ("llm", "openai-compatible", None),
        ]
        embedding, llm = client.post("/v1/backends/check", headers=admin).json()
        assert embedding["ok"] is True and embedding["ms"] > 0 and embedding["error"] is None
        assert llm["ok"] is False and llm["error"] and "secret" not in llm["error"]
        assert llm["url"] == "http://127.0.0.1:9/v1"
    services.close()


def test_the_reranker_trains_as_a_job_that_names_a_missing_golden_set_and_can_be_removed(api: Api) -> None:
    client, auth = api
    started = client.post("/v1/rerank/train", json={"golden": "nope"}, headers=auth["admin"])
    assert started.status_code == 202, started.text
    job = started.json()
    for _ in range(100):
        job = client.get(f"/v1/jobs/{job['id']}", headers=auth["admin"]).json()
        if job["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    assert job["status"] == "failed" and "nope" in job["error"]
    assert client.post("/v1/rerank/train", json={}, headers=auth["admin"]).status_code == 422
    assert client.post("/v1/rerank/train", json={"golden": "demo"}, headers=auth["client"]).status_code == 403
    assert client.delete("/v1/rerank", headers=auth["admin"]).status_code == 204
