"""People sign in with e-mail and password: hashed with Argon2id, an HTTP-only SameSite cookie, a CSRF
token for every change, sign-out, resets and disabling that end sessions, failed attempts limited."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from zhiwen.adapters.embedders import BundledE5Embedder
from zhiwen.api import create_app
from zhiwen.config import Settings
from zhiwen.wiring import Services, build_services

Api = tuple[TestClient, Services, dict[str, str]]
PASSWORD = "correct horse battery"


def _agent(api: Api, email: str = "li@shop.example") -> dict[str, str]:
    client, _services, keys = api
    created = client.post(
        "/v1/users",
        headers={"Authorization": f"Bearer {keys['acme']}"},
        json={"email": email, "name": "Li", "role": "agent", "password": PASSWORD},
    )
    assert created.status_code == 201, created.text
    return created.json()


def test_an_agent_signs_in_with_a_cookie_and_every_change_needs_the_csrf_token(api: Api) -> None:
    client, services, _ = api
    user = _agent(api)
    signed = client.post("/v1/auth/sign-in", json={"email": "LI@shop.example ", "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "zhiwen_session=" in cookie
    csrf = signed.json()["csrf_token"]
    assert client.get("/v1/auth/me").json()["user"]["id"] == user["id"]
    assert client.get("/v1/desk/queue").status_code == 200  # reading needs no token
    refused = client.post("/v1/desk/presence", json={"status": "online"})
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["error"]["message"]
    wrong = client.post("/v1/desk/presence", json={"status": "online"}, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    ok = client.post("/v1/desk/presence", json={"status": "online"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200 and ok.json()["agent"] == "user:li@shop.example"
    assert client.get("/v1/users").status_code == 403  # an agent is no admin
    with services.db.reading() as conn:
        (stored,) = conn.execute("SELECT password_hash FROM users").fetchone()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert client.post("/v1/auth/sign-out", headers={"X-CSRF-Token": csrf}).status_code == 204
    client.cookies.clear()
    assert client.get("/v1/auth/me").status_code == 401


def test_a_wrong_password_and_an_unknown_address_get_the_same_answer(api: Api) -> None:
    client, _services, _ = api
    _agent(api)
    wrong = client.post("/v1/auth/sign-in", json={"email": "li@shop.example", "password": "not it at all"})
    unknown = client.post(
        "/v1/auth/sign-in", json={"email": "nobody@shop.example", "password": "not it at all"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "set-cookie" not in wrong.headers


def test_failed_sign_ins_are_limited_and_over_the_limit_no_password_is_tried(
    tmp_path: Path, embedder: BundledE5Embedder
) -> None:
    services = build_services(Settings(data_dir=tmp_path, failed_auth_per_minute=5), embedder=embedder)
    workspace = services.workspaces.create_workspace("acme").id
    services.users.create(workspace, "li@shop.example", "Li", "agent", PASSWORD)
    with TestClient(create_app(services, run_embedding_worker=False)) as client:
        codes = [
            client.post(
                "/v1/auth/sign-in", json={"email": "li@shop.example", "password": f"guess {n}"}
            ).status_code
            for n in range(8)
        ]
        assert codes[:5] == [401] * 5 and codes[5:] == [429] * 3
        right = client.post("/v1/auth/sign-in", json={"email": "li@shop.example", "password": PASSWORD})
        assert right.status_code == 429 and "set-cookie" not in right.headers  # a right guess too
        other = client.post("/v1/auth/sign-in", json={"email": "wu@shop.example", "password": PASSWORD})
        assert other.status_code == 429  # this address is over its limit for every account
    kept = (tmp_path / "rate-limits.sqlite3").read_bytes() + (
        tmp_path / "rate-limits.sqlite3-wal"
    ).read_bytes()
    assert b"li@shop.example" not in kept and b"testclient" not in kept  # buckets are named by a hash
    services.close()


def test_a_reset_or_a_disabled_account_ends_its_sessions(api: Api) -> None:
    client, _services, keys = api
    admin = {"Authorization": f"Bearer {keys['acme']}"}
    user = _agent(api)
    client.post("/v1/auth/sign-in", json={"email": "li@shop.example", "password": PASSWORD})
    assert client.get("/v1/auth/me").status_code == 200
    reset = client.post(
        f"/v1/users/{user['id']}/password", headers=admin, json={"password": "a brand new one"}
    )
    assert reset.status_code == 200
    assert client.get("/v1/auth/me").status_code == 401
    assert (
        client.post("/v1/auth/sign-in", json={"email": "li@shop.example", "password": PASSWORD}).status_code
        == 401
    )
    client.post("/v1/auth/sign-in", json={"email": "li@shop.example", "password": "a brand new one"})
    assert client.post(f"/v1/users/{user['id']}/disable", headers=admin).status_code == 200
    assert client.get("/v1/auth/me").status_code == 401
    again = client.post("/v1/auth/sign-in", json={"email": "li@shop.example", "password": "a brand new one"})
    assert again.status_code == 401
    other = {"Authorization": f"Bearer {keys['globex']}"}
    assert client.post(f"/v1/users/{user['id']}/enable", headers=other).status_code == 404  # not theirs


def test_bad_accounts_are_refused_by_name(api: Api) -> None:
    client, _services, keys = api
    admin = {"Authorization": f"Bearer {keys['acme']}"}
    _agent(api)
    cases = [
        ({"email": "li@shop.example", "name": "Li", "password": PASSWORD}, 409, "already exists"),
        ({"email": "not-an-address", "name": "X", "password": PASSWORD}, 400, "e-mail"),
        ({"email": "x@shop.example", "name": "X", "password": "short"}, 422, "password"),
        ({"email": "x@shop.example", "name": "X", "password": PASSWORD, "role": "root"}, 422, "role"),
    ]
    for body, status, named in cases:
        response = client.post("/v1/users", headers=admin, json=body)
        assert response.status_code == status and named in response.json()["error"]["message"], response.text
    assert client.post("/v1/auth/sign-in", json={"email": "x"}).status_code == 422  # validation, not 401
