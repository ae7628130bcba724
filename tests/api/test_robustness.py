"""Inputs that broke the API once (issue 13): each test failed on the code before its fix."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests import files
from zhiwen.adapters.embedders import BundledE5Embedder
from zhiwen.api import create_app
from zhiwen.api.duties import Duties
from zhiwen.api.schemas import SQL_INT_MAX
from zhiwen.config import Settings
from zhiwen.errors import Conflict
from zhiwen.processes import identity
from zhiwen.wiring import Services, build_background, build_services

Api = tuple[TestClient, Services, dict[str, str]]
TOO_BIG = str(2**64)


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_curated_answers_may_hold_the_line_separators_json_allows(api: Api) -> None:
    client, _, keys = api
    for answer in ("Line\u2028separated", "next\u0085line", "para\u2029graph", "form\x0cfeed"):
        response = client.post(
            "/v1/curated", headers=_auth(keys["acme"]), json={"question": f"q {answer}?", "answer": answer}
        )
        assert response.status_code == 201, response.text
    listed = client.get("/v1/curated", headers=_auth(keys["acme"])).json()
    assert len(listed) == 4
    found = client.post(
        "/v1/search", headers=_auth(keys["acme"]), json={"query": "Line separated", "k": 3}
    ).json()
    assert any("Line\u2028separated" in hit["text"] for hit in found["hits"])


def test_a_jsonl_document_may_hold_u2028_inside_a_string(api: Api) -> None:
    client, _, keys = api
    body = '{"question": "How long is the warranty?", "answer": "One year\u2028for batteries."}\n'
    response = client.post(
        "/v1/documents", headers=_auth(keys["acme"]), files=[("files", ("faq.jsonl", body.encode()))]
    )
    assert response.status_code == 200, response.text
    assert response.json()["files"][0]["status"] == "added"


def test_a_jsonl_document_nested_too_deep_is_refused_by_name(api: Api) -> None:
    client, _, keys = api
    deep = b'{"text": ' + b"[" * 20_000 + b"]" * 20_000 + b"}\n"
    response = client.post(
        "/v1/documents", headers=_auth(keys["acme"]), files=[("files", ("deep.jsonl", deep))]
    )
    assert response.status_code == 200, response.text
    result = response.json()["files"][0]
    assert result["status"] == "failed"
    assert "line 1" in result["error"] and "nested too deeply" in result["error"]


def test_integers_beyond_what_the_store_holds_are_refused_not_a_500(api: Api) -> None:
    client, _, keys = api
    admin = _auth(keys["acme"])
    for method, path in (
        ("GET", f"/v1/releases/{TOO_BIG}"),
        ("POST", f"/v1/releases/{TOO_BIG}/promote"),
        ("GET", f"/v1/sentiment/models/{TOO_BIG}"),
        ("POST", f"/v1/recommend/models/{TOO_BIG}/promote"),
        ("GET", f"/v1/documents?offset={TOO_BIG}"),
        ("GET", f"/v1/golden-sets/demo/export?version={TOO_BIG}"),
    ):
        response = client.request(method, path, headers=admin)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["code"] == "invalid_input"
    response = client.post("/v1/eval/runs", headers=admin, json={"golden": "demo", "release": int(TOO_BIG)})
    assert response.status_code == 422, response.text


def _integers(schema: dict[str, Any], where: str, components: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every integer in a JSON schema, following references, with where it is and its maximum."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _integers(components[name], name, components)
    found = [(where, schema.get("maximum"))] if schema.get("type") == "integer" else []
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            found += _integers(option, where, components)
    for name, prop in schema.get("properties", {}).items():
        found += _integers(prop, f"{where}.{name}", components)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            found += _integers(schema[key], f"{where}[]", components)
    return found


def test_every_integer_a_client_sends_is_bounded_in_the_schema(api: Api) -> None:
    """The guard for routes added later: an unbounded integer parameter or body field is a future 500."""
    client, _, _ = api
    openapi = client.get("/openapi.json").json()
    components = openapi["components"]["schemas"]
    integers = []
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                integers += _integers(parameter["schema"], f"{where} {parameter['name']}", components)
            for content in operation.get("requestBody", {}).get("content", {}).values():
                integers += _integers(content["schema"], f"{where} body", components)
    assert len(integers) > 20
    # JSON schema numbers are floats here: 2^63 - 1 reads as 2^63, so compare as floats.
    unbounded = [where for where, maximum in integers if maximum is None or maximum > float(SQL_INT_MAX)]
    assert not unbounded


def test_every_error_has_the_documented_shape(api: Api) -> None:
    client, _, keys = api
    admin = _auth(keys["acme"])
    checks = [
        (client.get("/v1/no-such-route", headers=admin), 404, "not_found"),
        (client.delete("/v1/search", headers=admin), 405, "method_not_allowed"),
        (client.post("/v1/search", headers=admin, content=b'{"query": "\xff\xfe"}'), 422, "invalid_input"),
        (
            client.post("/v1/search", headers=admin, content='{"query": "退货"}'.encode("gbk")),
            422,
            "invalid_input",
        ),
        (client.post("/v1/search", headers=admin, content=b"[" * 5000 + b"]" * 5000), 422, "invalid_input"),
    ]
    for response, status, code in checks:
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code, response.text
        assert "detail" not in response.json()


def test_a_request_without_a_valid_key_is_refused_before_its_body_is_judged(api: Api) -> None:
    client, _, _ = api
    for body in (b"{not json", b'{"query": 5}', b""):
        response = client.post("/v1/search", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "unauthorized"


def test_unhandled_errors_are_counted_in_metrics(tmp_path: Path, embedder: BundledE5Embedder) -> None:
    services = build_services(Settings(data_dir=tmp_path, metrics_public=True), embedder=embedder)
    workspace = services.workspaces.create_workspace("acme")
    key = services.keys.issue(workspace.id, "admin", "admin").plain
    with TestClient(create_app(services, run_embedding_worker=False)) as client:
        services.db.close()  # the store is gone: the next request fails inside the service
        response = client.get("/v1/documents", headers=_auth(key))
        assert response.status_code == 500 and response.json()["error"]["code"] == "internal"
        assert 'route="/v1/documents",status="500"' in client.get("/metrics").text


def test_guessing_keys_is_rate_limited_per_address(api: Api) -> None:
    client, services, keys = api
    statuses = [
        client.post("/v1/search", json={"query": "x"}, headers=_auth(f"zw_guess{n}")).status_code
        for n in range(services.settings.failed_auth_per_minute + 5)
    ]
    assert statuses[0] == 401 and statuses[-1] == 429
    assert client.post("/v1/search", json={"query": "x"}, headers=_auth(keys["acme"])).status_code == 200


def test_pages_cannot_be_framed_and_run_only_their_own_script(api: Api) -> None:
    client, _, _ = api
    page = client.get("/")
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'sha256-" in policy
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"


def test_the_admin_only_message_says_which_role_the_key_has(api: Api) -> None:
    client, _, keys = api
    response = client.get("/v1/golden-sets", headers=_auth(keys["acme-client"]))
    assert response.status_code == 403 and "'client'" in response.json()["error"]["message"]


def test_a_golden_set_can_be_read_back(api: Api) -> None:
    client, _, keys = api
    admin = _auth(keys["acme"])
    item = {"question": "How long is the warranty?", "expected_answer": "1 year"}
    assert client.post("/v1/golden-sets/faq", headers=admin, json={"items": [item]}).status_code == 201
    response = client.get("/v1/golden-sets/faq", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 1 and response.json()["items"][0]["expected_answer"] == ["1 year"]
    assert client.get("/v1/golden-sets/none", headers=admin).status_code == 404


def test_a_hostile_file_in_a_batch_fails_alone(api: Api) -> None:
    client, _, keys = api
    lol = files.with_member(files.docx("# Guide\n\nPlug it in."), "word/document.xml", files.BILLION_LAUGHS)
    batch = [
        ("good.md", b"# A\n\nRefunds take 3 days."),
        ("lol.docx", lol),
        ("good2.md", b"# B\n\nShips in 1 day."),
    ]
    response = client.post(
        "/v1/documents", headers=_auth(keys["acme"]), files=[("files", item) for item in batch]
    )
    assert response.status_code == 200, response.text
    results = {r["source"]: r for r in response.json()["files"]}
    assert results["good.md"]["status"] == results["good2.md"]["status"] == "added"
    assert results["lol.docx"]["status"] == "failed" and results["lol.docx"]["error_code"] == "corrupt_file"


def test_a_chunked_upload_is_limited_like_one_with_a_length(
    tmp_path: Path, embedder: BundledE5Embedder
) -> None:
    settings = Settings(data_dir=tmp_path, max_upload_bytes=100_000)
    services = build_services(settings, embedder=embedder)
    key = services.keys.issue(services.workspaces.create_workspace("acme").id, "admin", "admin").plain
    boundary = "zhiwen"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.md"\r\n\r\n'

    def body() -> Iterator[bytes]:  # no Content-Length: the client streams it
        yield head.encode()
        for _ in range(300):
            yield b"x" * 10_000
        yield f"\r\n--{boundary}--\r\n".encode()

    with TestClient(create_app(services, run_embedding_worker=False)) as client:
        response = client.post(
            "/v1/documents",
            headers={**_auth(key), "content-type": f"multipart/form-data; boundary={boundary}"},
            content=body(),
        )
        assert response.status_code == 413, response.text
        assert response.json()["error"]["code"] == "too_large"
        assert client.get("/v1/documents", headers=_auth(key)).json()["total"] == 0


def test_topics_of_a_few_distinct_reviews_ask_for_fewer_topics(api: Api) -> None:
    """Found by schemathesis: 13 distinct negative reviews and k=29 was a 500 from k-means."""
    client, _, keys = api
    admin = _auth(keys["acme"])
    texts = [f"质量太差了，用了{n}天就坏了" for n in range(13)] * 3
    reviews = [{"text": t, "label": "negative"} for t in texts]
    assert (
        client.post("/v1/reviews", headers=admin, json={"reviews": reviews, "score": False}).status_code
        == 201
    )
    response = client.post("/v1/reviews/topics", headers=admin, json={"k": 29})
    assert response.status_code == 400 and "distinct negative reviews" in response.json()["error"]["message"]


def test_an_api_only_process_leaves_the_jobs_of_the_process_doing_the_work_alone(
    tmp_path: Path, embedder: BundledE5Embedder
) -> None:
    """Starting an API-only process beside a running server must not fail that server's jobs as
    interrupted (only the process doing the background work recovers them, when it starts)."""
    services = build_services(Settings(data_dir=tmp_path), embedder=embedder)
    workspace = services.workspaces.create_workspace("acme")
    running = services.jobs.create_job(workspace.id, "tune", status="running")
    with TestClient(create_app(services, owner=False)):
        assert services.jobs.get_job(workspace.id, running.id).status == "running"
    with TestClient(create_app(services, run_embedding_worker=False)):
        assert services.jobs.get_job(workspace.id, running.id).status == "failed"
    services.close()


def test_only_one_process_does_the_background_work_of_a_data_dir(
    tmp_path: Path, embedder: BundledE5Embedder
) -> None:
    services = build_services(Settings(data_dir=tmp_path), embedder=embedder)
    first = Duties(services, build_background(services, "elsewhere"))
    first.start()
    second = Duties(services, build_background(services, "elsewhere"))
    with pytest.raises(Conflict, match=r"pid \d+ on .+\) already does the background work.*--api-only"):
        second.start()
    first.stop()
    second.start()  # the lock went with the first
    second.stop()
    services.close()


def test_an_owner_whose_lock_went_with_its_connection_stops_and_another_can_take_over(
    tmp_path: Path, embedder: BundledE5Embedder, postgres_url: str
) -> None:
    machines = [
        build_services(Settings(data_dir=tmp_path / name, database_url=postgres_url), embedder=embedder)
        for name in ("a", "b")
    ]
    first, second = (Duties(s, build_background(s, "elsewhere")) for s in machines)
    first.start()
    with pytest.raises(Conflict):
        second.start()
    assert first.still_the_owner()
    with psycopg.connect(postgres_url, autocommit=True) as admin:  # the database restarted, say
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name LIKE 'zhiwen serve%'"
        )
    assert not first.still_the_owner()  # it stops its background work rather than share it
    second.start()
    assert second.still_the_owner()
    second.stop()
    first.stop()
    for services in machines:
        services.close()


def test_a_starting_server_fails_only_the_jobs_whose_process_is_gone(
    tmp_path: Path, embedder: BundledE5Embedder
) -> None:
    """Another API process on the same database runs a job: a server starting beside it leaves that job
    alone, and fails the one whose process ended."""
    services = build_services(Settings(data_dir=tmp_path), embedder=embedder)
    workspace = services.workspaces.create_workspace("acme")
    held, orphaned = (services.jobs.create_job(workspace.id, "tune", status="running") for _ in range(2))
    other = subprocess.Popen(["sleep", "60"])  # the other API process
    with services.db.transaction() as conn:
        conn.execute("UPDATE jobs SET runner = ? WHERE id = ?", (identity(other.pid), held.id))
        conn.execute("UPDATE jobs SET runner = ? WHERE id = ?", (f"{identity(os.getpid())}0", orphaned.id))
    try:
        assert services.ingest_jobs.recover()["failed"] == [orphaned.id]
        assert services.jobs.get_job(workspace.id, held.id).status == "running"
    finally:
        other.kill()
        other.wait()
    services.close()
