from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests import files
from zhiwen.adapters.embedders import BundledE5Embedder
from zhiwen.api import create_app
from zhiwen.config import Settings
from zhiwen.processes import held_by_queue
from zhiwen.wiring import Services, build_services

POLICY = b"# Returns\n\n## Refunds\n\nRefunds arrive within 3 working days after inspection."


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _upload(client: TestClient, key: str, name: str, data: bytes, tags: list[str] | None = None) -> dict:
    response = client.post(
        "/v1/documents", headers=_auth(key), files=[("files", (name, data))], data={"tags": tags or []}
    )
    assert response.status_code in (200, 202), response.text
    return response.json()


def test_every_v1_call_needs_a_valid_key(api: tuple[TestClient, Services, dict[str, str]]) -> None:
    client, _, _ = api
    for headers in ({}, _auth("zw_not_a_key"), {"X-API-Key": "wrong"}):
        response = client.post("/v1/search", json={"query": "refund"}, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


def test_a_key_never_sees_or_changes_another_workspaces_data(
    api: tuple[TestClient, Services, dict[str, str]],
) -> None:
    client, _, keys = api
    document_id = _upload(client, keys["acme"], "returns.md", POLICY)["files"][0]["document_id"]
    other = _auth(keys["globex"])
    assert client.get(f"/v1/documents/{document_id}", headers=other).status_code == 404
    assert client.delete(f"/v1/documents/{document_id}", headers=other).status_code == 404
    assert client.get("/v1/documents", headers=other).json() == {"documents": [], "total": 0}
    hits = client.post("/v1/search", json={"query": "refunds working days", "mode": "keyword"}, headers=other)
    assert hits.json()["hits"] == []
    assert client.get(f"/v1/documents/{document_id}", headers=_auth(keys["acme"])).status_code == 200


def test_client_keys_may_ask_but_not_change_knowledge(
    api: tuple[TestClient, Services, dict[str, str]],
) -> None:
    client, _, keys = api
    response = client.post(
        "/v1/documents", headers=_auth(keys["acme-client"]), files=[("files", ("a.md", POLICY))]
    )
    assert response.status_code == 403
    assert (
        client.post("/v1/ask", json={"question": "退货"}, headers=_auth(keys["acme-client"])).status_code
        == 200
    )


def test_revoked_keys_stop_working_at_once(api: tuple[TestClient, Services, dict[str, str]]) -> None:
    client, services, keys = api
    services.workspaces.revoke_key(keys["acme-client"][:10])
    assert (
        client.post("/v1/ask", json={"question": "x"}, headers=_auth(keys["acme-client"])).status_code == 401
    )


def test_upload_search_ask_and_delete(api: tuple[TestClient, Services, dict[str, str]]) -> None:
    client, services, keys = api
    headers = _auth(keys["acme"])
    result = _upload(client, keys["acme"], "returns.md", POLICY, tags=["policy"])["files"][0]
    assert (result["status"], result["chunks"]) == ("added", 1)
    services.embedding_worker.run_until_done()
    search = client.post(
        "/v1/search", json={"query": "How long do refunds take?", "tags": ["policy"]}, headers=headers
    )
    hit = search.json()["hits"][0]
    assert (
        hit["source"] == "returns.md" and hit["vector_score"] is not None and "3 working days" in hit["text"]
    )
    assert (
        client.post("/v1/search", json={"query": "refunds", "tags": ["other"]}, headers=headers).json()[
            "hits"
        ]
        == []
    )
    answer = client.post("/v1/ask", json={"question": "How long do refunds take?"}, headers=headers).json()
    assert answer["answer_id"].startswith("ans_") and 0 <= answer["confidence"] <= 1
    assert (
        answer["citations"] == [] if answer["handoff"] else answer["citations"][0]["source"] == "returns.md"
    )
    assert client.delete(f"/v1/documents/{result['document_id']}", headers=headers).status_code == 204
    assert client.post("/v1/search", json={"query": "refunds"}, headers=headers).json()["hits"] == []


def test_a_follow_up_continues_its_conversation_and_only_in_its_workspace(
    api: tuple[TestClient, Services, dict[str, str]],
) -> None:
    client, services, keys = api
    policy = (
        "# Warranty\n\n## Periods\n\nThe Phone X1 has a 1-year warranty. The Vacuum R7 has a 2-year warranty."
    )
    _upload(client, keys["acme"], "warranty.md", policy.encode())
    services.embedding_worker.run_until_done()
    first = client.post(
        "/v1/ask", json={"question": "How long is the Phone X1 warranty?"}, headers=_auth(keys["acme"])
    ).json()
    follow_up = client.post(
        "/v1/ask",
        json={"question": "and the Vacuum R7?", "conversation_id": first["conversation_id"]},
        headers=_auth(keys["acme"]),
    ).json()
    assert follow_up["conversation_id"] == first["conversation_id"]
    assert follow_up["understood_as"] == "How long is the warranty? and the Vacuum R7?"  # R7 for X1
    assert "2-year" in follow_up["text"]
    assert first["understood_as"] is None
    foreign = client.post(
        "/v1/ask",
        json={"question": "and the Vacuum R7?", "conversation_id": first["conversation_id"]},
        headers=_auth(keys["globex"]),
    )
    assert foreign.status_code == 404


def test_ask_streams_server_sent_events(api: tuple[TestClient, Services, dict[str, str]]) -> None:
    client, _, keys = api
    _upload(client, keys["acme"], "returns.md", POLICY)
    body = {"question": "How long do refunds take?", "stream": True}
    with client.stream("POST", "/v1/ask", json=body, headers=_auth(keys["acme"])) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = "".join(response.iter_text())
    events = [block for block in raw.replace("\r\n", "\n").split("\n\n") if block.strip()]
    names = [
        line.split(": ", 1)[1] for block in events for line in block.split("\n") if line.startswith("event:")
    ]
    assert names[-1] == "answer" and set(names[:-1]) == {"delta"}
    final = json.loads(next(line[6:] for line in events[-1].split("\n") if line.startswith("data: ")))
    deltas = "".join(
        json.loads(line[6:])["text"]
        for block in events[:-1]
        for line in block.split("\n")
        if line.startswith("data: ")
    )
    assert deltas == final["text"]


def test_large_uploads_run_as_a_job_that_can_be_polled(
    api: tuple[TestClient, Services, dict[str, str]],
) -> None:
    client, services, keys = api
    pages = "\n\n".join(
        f"## Section {i}\n\nPolicy text number {i} about refunds and returns." for i in range(2000)
    )
    response = client.post(
        "/v1/documents",
        headers=_auth(keys["acme"]),
        files=[("files", ("big.md", f"# Big\n\n{pages}".encode()))],
    )
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    for _ in range(200):
        job = client.get(f"/v1/jobs/{job_id}", headers=_auth(keys["acme"])).json()
        if job["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.05)
    assert job["status"] == "succeeded" and job["result"]["files"][0]["status"] == "added"
    assert client.get(f"/v1/jobs/{job_id}", headers=_auth(keys["globex"])).status_code == 404
    # With Redis the job went through the queue to a worker; without, a thread of this process ran it.
    ran_by = services.jobs.get_job(services.workspaces.get_workspace("acme").id, job_id).runner
    assert held_by_queue(ran_by) == bool(services.settings.redis_url), ran_by


def test_bad_uploads_get_per_file_errors_and_change_nothing(
    api: tuple[TestClient, Services, dict[str, str]],
) -> None:
    client, services, keys = api
    uploads = [
        ("files", ("../../etc/passwd.md", b"# Hi\n\nTraversal attempt.")),
        ("files", ("broken.pdf", b"%PDF-1.4 garbage")),
        ("files", ("locked.pdf", files.encrypted_pdf("# Secret\n\nText."))),
        ("files", ("gbk.txt", "满99元免运费。".encode("gbk"))),
        ("files", ("virus.exe", b"MZ\x90\x00")),
        ("files", ("empty.md", b"")),
    ]
    response = client.post("/v1/documents", headers=_auth(keys["acme"]), files=uploads)
    results = {r["source"]: r for r in response.json()["files"]}
    assert results["etc/passwd.md"]["status"] == "added"  # what climbs out of the upload's folder is dropped
    assert results["broken.pdf"]["error_code"] == "corrupt_file"
    assert results["locked.pdf"]["error_code"] == "encrypted_file"
    assert results["gbk.txt"]["status"] == "added"
    assert results["virus.exe"]["error_code"] == "unsupported_format"
    assert results["empty.md"]["error_code"] == "empty_document"
    assert services.documents.count_documents(services.workspaces.get_workspace("acme").id) == 2


def test_oversized_uploads_are_refused(tmp_path: Path, embedder: BundledE5Embedder) -> None:
    services = build_services(Settings(data_dir=tmp_path / "d", max_upload_bytes=1000), embedder=embedder)
    workspace = services.workspaces.create_workspace("w")
    key = services.keys.issue(workspace.id, "k", "admin").plain
    with TestClient(create_app(services, run_embedding_worker=False)) as client:
        small_body = client.post(
            "/v1/documents", headers=_auth(key), files=[("files", ("a.txt", b"x" * 5000))]
        )
        assert small_body.status_code == 413 and small_body.json()["error"]["code"] == "too_large"
        huge_body = client.post(
            "/v1/documents", headers=_auth(key), files=[("files", ("a.txt", b"x" * 3_000_000))]
        )
        assert huge_body.status_code == 413
    services.close()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"question": ""},
        {"question": 42},
        {"question": "hi", "unexpected": True},
        {"question": "x" * 20_001},
    ],
)
def test_malformed_ask_bodies_get_a_clear_error(
    api: tuple[TestClient, Services, dict[str, str]], body: dict
) -> None:
    client, _, keys = api
    response = client.post("/v1/ask", json=body, headers=_auth(keys["acme"]))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input" and response.json()["error"]["message"]


def test_a_question_over_the_limit_is_refused_with_the_limit(
    api: tuple[TestClient, Services, dict[str, str]],
) -> None:
    client, _, keys = api
    response = client.post("/v1/ask", json={"question": "问" * 1500}, headers=_auth(keys["acme"]))
    assert response.status_code == 400 and "limit is 1000" in response.json()["error"]["message"]


def test_invalid_json_is_a_client_error(api: tuple[TestClient, Services, dict[str, str]]) -> None:
    client, _, keys = api
    headers = {**_auth(keys["acme"]), "Content-Type": "application/json"}
    response = client.post("/v1/search", content=b"{not json", headers=headers)
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_input"


def test_hostile_queries_are_answered_safely(api: tuple[TestClient, Services, dict[str, str]]) -> None:
    client, _, keys = api
    _upload(client, keys["acme"], "returns.md", POLICY)
    for query in ["'; DROP TABLE chunks; --", '" OR 1=1 NEAR(', "<script>alert(1)</script>", "\u0000\u200b"]:
        response = client.post("/v1/search", json={"query": query}, headers=_auth(keys["acme"]))
        assert response.status_code in (200, 400), response.text
    assert client.get("/v1/documents", headers=_auth(keys["acme"])).json()["total"] == 1


def test_requests_over_the_rate_limit_get_429(tmp_path: Path, embedder: BundledE5Embedder) -> None:
    services = build_services(Settings(data_dir=tmp_path / "d", rate_limit_per_minute=3), embedder=embedder)
    workspace = services.workspaces.create_workspace("w")
    key = services.keys.issue(workspace.id, "k", "client").plain
    with TestClient(create_app(services, run_embedding_worker=False)) as client:
        statuses = [client.get("/v1/documents", headers=_auth(key)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = client.get("/v1/documents", headers=_auth(key))
        assert limited.json()["error"]["code"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1
    services.close()


def test_operations_endpoints(api: tuple[TestClient, Services, dict[str, str]]) -> None:
    client, _, keys = api
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and "pending_embeddings" in ready
    client.post("/v1/ask", json={"question": "退货"}, headers=_auth(keys["acme"]))
    assert client.get("/metrics").status_code == 401  # route names and error rates are not public
    assert client.get("/metrics", headers=_auth(keys["acme-client"])).status_code == 403
    metrics = client.get("/metrics", headers=_auth(keys["acme"])).text
    assert 'zhiwen_requests_total{method="POST",route="/v1/ask",status="200"} 1.0' in metrics
    assert "zhiwen_stage_seconds_bucket" in metrics and 'stage="ask_embed"' in metrics
    schema = client.get("/openapi.json").json()
    assert {"/v1/ask", "/v1/search", "/v1/documents", "/v1/jobs/{job_id}"} <= set(schema["paths"])
    assert client.get("/docs").status_code == 200
    assert "智问" in client.get("/").text
    assert client.get("/v1/ask").status_code == 405


def test_the_openapi_document_names_and_describes_every_operation_and_the_keys(
    api: tuple[TestClient, Services, dict[str, str]],
) -> None:
    client, _, _ = api
    schema = client.get("/openapi.json").json()
    operations = {(p, m): op for p, item in schema["paths"].items() for m, op in item.items()}
    ids = [op["operationId"] for op in operations.values()]
    assert len(ids) == len(set(ids))
    assert [key for key, op in operations.items() if not op.get("description")] == []
    assert operations["/v1/ask", "post"]["operationId"] == "ask"
    assert operations["/v1/intents/models", "post"]["operationId"] == "intents_train"  # two handlers "train"
    assert operations["/v1/recommend/train", "post"]["operationId"] == "recommendations_train"
    assert set(schema["components"]["securitySchemes"]) == {"apiKey", "apiKeyHeader"}
    ask = operations["/v1/ask", "post"]
    assert ask["security"] == [{"apiKey": []}, {"apiKeyHeader": []}]
    assert not [p for p in ask.get("parameters", []) if p["name"].lower() in ("authorization", "x-api-key")]
    assert "security" not in operations["/healthz", "get"]


def test_a_disliked_answer_reaches_the_review_queue_with_its_correction(
    api: tuple[TestClient, Services, dict[str, str]],
) -> None:
    client, _, keys = api
    _upload(client, keys["acme"], "returns.md", b"# Returns\n\nRefunds take 3 working days.")
    asked = client.post(
        "/v1/ask", json={"question": "how long till my refund\x00 shows up"}, headers=_auth(keys["acme"])
    )
    assert asked.status_code == 200, asked.text  # a NUL is dropped, on either backend
    feedback = {"answer_id": asked.json()["answer_id"], "rating": "dislike", "correct_answer": "3 days"}
    assert client.post("/v1/feedback", json=feedback, headers=_auth(keys["acme"])).status_code == 201
    (group,) = client.get("/v1/review", headers=_auth(keys["acme"])).json()
    assert group["answer_ids"] == [feedback["answer_id"]] and group["dislikes"] == 1
    assert group["correction"] == "3 days" and "refund" in group["question"]
