"""The desk over HTTP: widget keys are confined to their origins and their visitor's conversation, agents
work the queue, a reconnecting event stream misses nothing, and bad input is refused by name."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from zhiwen.wiring import Services

SHOP = "https://shop.example.com"

Api = tuple[TestClient, Services, dict[str, str]]


def _keys(api: Api) -> dict[str, dict[str, str]]:
    _client, services, keys = api
    acme = services.workspaces.get_workspace("acme").id
    widget = services.keys.issue(acme, "site", "widget", [SHOP]).plain
    agent = services.keys.issue(acme, "alice", "agent").plain
    return {
        "widget": {"Authorization": f"Bearer {widget}", "Origin": SHOP},
        "agent": {"Authorization": f"Bearer {agent}"},
        "admin": {"Authorization": f"Bearer {keys['acme']}"},
        "other_admin": {"Authorization": f"Bearer {keys['globex']}"},
    }


def _start(client: TestClient, widget: dict[str, str]) -> tuple[str, dict[str, str]]:
    started = client.post("/v1/conversations", headers=widget)
    assert started.status_code == 201, started.text
    body = started.json()
    return body["conversation_id"], {**widget, "X-Visitor-Token": body["visitor_token"]}


def test_a_preflight_is_answered_only_for_an_origin_a_widget_key_allows(api: Api) -> None:
    client = api[0]
    _keys(api)
    asked = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    allowed = client.options("/v1/conversations", headers={**asked, "Origin": SHOP})
    assert allowed.status_code == 204 and allowed.headers["access-control-allow-origin"] == SHOP
    assert "x-visitor-token" in allowed.headers["access-control-allow-headers"]
    refused = client.options("/v1/conversations", headers={**asked, "Origin": "https://evil.example"})
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers


def test_a_widget_key_reaches_only_its_visitors_conversation_and_nothing_else(api: Api) -> None:
    client, _services, _ = api
    keys = _keys(api)
    mine, visitor = _start(client, keys["widget"])
    sent = client.post(f"/v1/conversations/{mine}/messages", headers=visitor, json={"text": "你好"})
    assert sent.status_code == 200 and sent.headers["access-control-allow-origin"] == SHOP
    _, stranger = _start(client, keys["widget"])
    assert client.get(f"/v1/conversations/{mine}", headers=stranger).status_code == 404
    assert client.get(f"/v1/conversations/{mine}", headers=keys["widget"]).status_code == 400  # no token
    for method, path in [("post", "/v1/search"), ("get", "/v1/documents"), ("get", "/v1/desk/queue")]:
        response = getattr(client, method)(
            path, headers=visitor, **({"json": {"query": "x"}} if method == "post" else {})
        )
        assert response.status_code == 403, (path, response.text)
    moved = {**visitor, "Origin": "https://evil.example"}
    assert client.get(f"/v1/conversations/{mine}", headers=moved).status_code == 403
    # another workspace's admin cannot see it either
    assert client.get(f"/v1/desk/conversations/{mine}", headers=keys["other_admin"]).status_code == 404


def test_only_agents_and_admins_work_the_desk_and_only_admins_change_its_settings(api: Api) -> None:
    client, _services, keys_ = api
    keys = _keys(api)
    client_key = {"Authorization": f"Bearer {keys_['acme-client']}"}
    assert client.get("/v1/desk/queue", headers=client_key).status_code == 403
    assert client.get("/v1/desk/queue", headers=keys["agent"]).status_code == 200
    settings = {"welcome": {"zh": "欢迎光临", "en": "Welcome"}, "suggestions": {"zh": ["怎么退货？"]}}
    assert client.put("/v1/desk/settings", headers=keys["agent"], json=settings).status_code == 403
    assert client.put("/v1/desk/settings", headers=keys["admin"], json=settings).status_code == 200
    config = client.get("/v1/widget/config", headers=keys["widget"]).json()
    assert config["welcome"]["zh"] == "欢迎光临" and config["suggestions"]["zh"] == ["怎么退货？"]
    wrong = client.put(
        "/v1/desk/settings", headers=keys["admin"], json={"hours": {"timezone": "Nowhere/City"}}
    )
    assert wrong.status_code == 400 and "timezone" in wrong.json()["error"]["message"]


def test_a_visitor_sees_the_answer_and_not_how_it_was_made(api: Api) -> None:
    client, services, _ = api
    keys = _keys(api)
    policy = "# Warranty\n\nThe robot vacuum has a two-year warranty; its motor has three years.\n"
    services.ingest.ingest_bytes(
        services.workspaces.get_workspace("acme").id, "warranty-internal.md", policy.encode()
    )
    services.embedding_worker.run_until_done()
    internals = {"confidence", "mode", "timings_ms", "release", "intent"}
    conversation, visitor = _start(client, keys["widget"])
    turn = client.post(
        f"/v1/conversations/{conversation}/messages", headers=visitor, json={"text": "转人工"}
    ).json()
    assert turn["answer"]["handoff"] and turn["answer"]["text"]
    assert not internals & turn["answer"].keys()
    assert turn["state"]["status"] == "waiting" and turn["state"]["reason"] is None
    streamed = _events(client, f"/v1/conversations/{conversation}/events", visitor, wanted=2)
    (state,) = [json.loads(e["data"]) for e in streamed if e.get("event") == "state"]
    assert state["status"] == "waiting" and state["reason"] is None

    asking, visitor = _start(client, keys["widget"])
    sent = client.post(
        f"/v1/conversations/{asking}/messages",
        headers=visitor,
        json={"text": "How long is the warranty on a robot vacuum?", "stream": True},
    )
    (turn,) = [json.loads(line[5:]) for line in sent.text.splitlines() if line.startswith("data:")]
    (citation, *_) = turn["answer"]["citations"]
    assert set(citation) == {"number", "document_title", "snippet"}, "no file name or ids"
    assert not internals & turn["answer"].keys()
    (bot,) = [m for m in turn["messages"] if m["author"] == "bot"]
    assert bot["citations"] and set(bot["citations"][0]) == {"number", "document_title", "snippet"}

    program = client.post("/v1/conversations", headers=keys["admin"]).json()["conversation_id"]
    turn = client.post(
        f"/v1/conversations/{program}/messages", headers=keys["admin"], json={"text": "转人工"}
    ).json()
    assert internals <= turn["answer"].keys() and turn["state"]["reason"] == "asked_for_human"
    program = client.post("/v1/conversations", headers=keys["admin"]).json()["conversation_id"]
    asked = client.post(
        f"/v1/conversations/{program}/messages",
        headers=keys["admin"],
        json={"text": "How long is the warranty on a robot vacuum?"},
    ).json()
    assert {"document_id", "source", "chunk_id"} <= asked["answer"]["citations"][0].keys()


def test_an_agent_claims_replies_and_resolves_and_two_claims_at_once_give_one_winner(api: Api) -> None:
    client, services, _ = api
    keys = _keys(api)
    acme = services.workspaces.get_workspace("acme").id
    bob = {"Authorization": f"Bearer {services.keys.issue(acme, 'bob', 'agent').plain}"}
    conversation, visitor = _start(client, keys["widget"])
    turn = client.post(
        f"/v1/conversations/{conversation}/messages", headers=visitor, json={"text": "转人工"}
    ).json()
    assert turn["state"]["status"] == "waiting" and turn["answer"]["handoff"]
    (queued,) = client.get("/v1/desk/queue", headers=keys["agent"]).json()
    assert queued["id"] == conversation and queued["last_message"]

    results: list[int] = []
    start = threading.Barrier(2)

    def claim(headers: dict[str, str]) -> None:
        start.wait()
        results.append(
            client.post(f"/v1/desk/conversations/{conversation}/claim", headers=headers).status_code
        )

    threads = [threading.Thread(target=claim, args=(h,)) for h in (keys["agent"], bob)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 409]
    holder = (
        keys["agent"]
        if client.get(f"/v1/desk/conversations/{conversation}", headers=bob).json()["conversation"][
            "assignee"
        ]
        == "key:alice"
        else bob
    )
    assert (
        client.post(
            f"/v1/desk/conversations/{conversation}/reply", headers=holder, json={"text": "您好"}
        ).status_code
        == 201
    )
    assert (
        client.post(
            f"/v1/desk/conversations/{conversation}/note", headers=holder, json={"text": "VIP"}
        ).status_code
        == 201
    )
    seen = client.get(f"/v1/conversations/{conversation}", headers=visitor).json()
    assert "VIP" not in [m["text"] for m in seen["messages"]] and seen["state"]["status"] == "open"
    assert client.post(f"/v1/desk/conversations/{conversation}/resolve", headers=holder).status_code == 200
    again = client.post(f"/v1/desk/conversations/{conversation}/resolve", headers=holder)
    assert again.status_code == 409


def _events(client: TestClient, path: str, headers: dict[str, str], wanted: int) -> list[dict[str, Any]]:
    """Read the stream until ``wanted`` message events and the state event after them arrived."""
    found: list[dict[str, Any]] = []
    with client.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200
        block: dict[str, str] = {}
        for line in response.iter_lines():
            if not line:
                if block:
                    found.append(block)
                block = {}
                messages = sum(1 for e in found if e.get("event") == "message")
                if messages >= wanted and found[-1].get("event") == "state":
                    break
                continue
            name, _, value = line.partition(":")
            block[name] = value.strip()
    return found


def test_a_reconnecting_stream_resumes_after_the_last_message_it_saw(api: Api) -> None:
    client, _services, _ = api
    keys = _keys(api)
    conversation, visitor = _start(client, keys["widget"])
    client.post(f"/v1/conversations/{conversation}/messages", headers=visitor, json={"text": "转人工"})
    first = _events(client, f"/v1/conversations/{conversation}/events", visitor, wanted=2)
    messages = [e for e in first if e["event"] == "message"]
    assert [json.loads(e["data"])["author"] for e in messages] == ["customer", "bot"]
    assert json.loads(next(e for e in first if e["event"] == "state")["data"])["status"] == "waiting"
    client.post(f"/v1/desk/conversations/{conversation}/reply", headers=keys["agent"], json={"text": "在的"})
    resumed = _events(
        client,
        f"/v1/conversations/{conversation}/events",
        {**visitor, "Last-Event-ID": messages[-1]["id"]},
        1,
    )
    (reply,) = [json.loads(e["data"]) for e in resumed if e["event"] == "message"]
    assert reply["author"] == "agent" and reply["text"] == "在的"
    bad = client.get(
        f"/v1/conversations/{conversation}/events", headers={**visitor, "Last-Event-ID": "x; drop"}
    )
    assert bad.status_code == 400


def test_broken_and_hostile_desk_messages_are_refused_by_name(api: Api) -> None:
    client, _services, _ = api
    keys = _keys(api)
    conversation, visitor = _start(client, keys["widget"])
    url = f"/v1/conversations/{conversation}/messages"
    assert client.post(url, headers=visitor, json={"text": ""}).status_code == 422
    assert client.post(url, headers=visitor, json={"text": "长" * 4001}).status_code == 422
    gbk = client.post(
        url, headers={**visitor, "Content-Type": "application/json"}, content='{"text": "退货"}'.encode("gbk")
    )
    assert gbk.status_code in (400, 422) and "error" in gbk.json()
    assert client.post(url, headers=visitor, json={"text": "hi", "extra": 1}).status_code == 422
    rating = client.post(f"/v1/conversations/{conversation}/rating", headers=visitor, json={"score": 9})
    assert rating.status_code == 422 and "score" in rating.json()["error"]["message"]
    assert (
        client.post(
            "/v1/conversations/conv_nope/messages", headers=keys["admin"], json={"text": "x"}
        ).status_code
        == 404
    )
    script = client.post(url, headers=visitor, json={"text": "<script>alert(1)</script> 转人工"}).json()
    assert (
        script["messages"][0]["text"] == "<script>alert(1)</script> 转人工"
    )  # stored as text, shown as text


def test_an_external_desk_replies_and_resolves_through_the_inbound_endpoint(api: Api) -> None:
    client, _services, _ = api
    keys = _keys(api)
    added = client.post(
        "/v1/desk/webhooks",
        headers=keys["admin"],
        json={"url": "http://127.0.0.1:9/hook", "events": ["handoff"]},
    )
    assert added.status_code == 201 and added.json()["secret"].startswith("whsec_")
    assert (
        client.post(
            "/v1/desk/webhooks",
            headers=keys["agent"],
            json={"url": "http://x.example/h", "events": ["handoff"]},
        ).status_code
        == 403
    )
    listed = client.get("/v1/desk/webhooks", headers=keys["admin"]).json()
    assert "secret" not in listed[0]  # shown once, never again
    conversation, visitor = _start(client, keys["widget"])
    client.post(f"/v1/conversations/{conversation}/messages", headers=visitor, json={"text": "转人工"})
    log = client.get(f"/v1/desk/webhooks/{listed[0]['id']}/deliveries", headers=keys["admin"]).json()
    assert [d["event"] for d in log] == ["handoff"]
    reply = client.post(
        "/v1/desk/inbound",
        headers=keys["agent"],
        json={
            "conversation_id": conversation,
            "agent": "Wang (Chatwoot)",
            "text": "您好，我是王",
            "resolve": True,
        },
    )
    assert reply.status_code == 200 and reply.json()["status"] == "resolved"
    seen = client.get(f"/v1/conversations/{conversation}", headers=visitor).json()["messages"]
    assert any(m["author"] == "agent" and m["author_name"] == "Wang (Chatwoot)" for m in seen)
    assert client.delete(f"/v1/desk/webhooks/{listed[0]['id']}", headers=keys["admin"]).status_code == 204


def test_a_streamed_message_ends_with_the_turn(api: Api) -> None:
    client, _services, _ = api
    keys = _keys(api)
    conversation, visitor = _start(client, keys["widget"])
    url = f"/v1/conversations/{conversation}/messages"
    with client.stream("POST", url, headers=visitor, json={"text": "你好", "stream": True}) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith(
            "text/event-stream"
        )
        body = "".join(response.iter_text())
    assert "event: turn" in body and conversation in body
    refused = client.post(url, headers=visitor, json={"text": " ", "stream": True})
    assert refused.status_code == 400  # refused before any stream opens


@pytest.mark.parametrize(
    "look",
    [
        {"color": "red"},
        {"color": "#12345"},
        {"color": "#0b6e4f\n"},
        {"position": "top"},
        {"title": {"fr": "Bonjour"}},
        {"title": {"zh": "x" * 41}},
        {"font": "Comic Sans"},
        "blue",
    ],
)
def test_a_widget_look_that_cannot_be_shown_is_refused_by_name(api: Api, look: object) -> None:
    client, keys = api[0], _keys(api)
    response = client.put("/v1/desk/settings", json={"look": look}, headers=keys["admin"])
    assert response.status_code == 400, response.text
    assert "look" in response.json()["error"]["message"]


def _phone_photo() -> bytes:
    """A phone's JPEG: stored sideways with an EXIF orientation, a GPS position and a comment."""
    import io

    from PIL import Image

    image = Image.new("RGB", (300, 120), (30, 60, 190))  # wide as stored; upright it is tall
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turn 90° clockwise to show
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 20.0)}  # GPS: where the customer lives
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, comment=b"customer-phone-serial-123")
    return out.getvalue()


def test_a_photo_sent_to_the_bot_reaches_the_agent_without_its_metadata_and_goes_with_erasure(
    api: Api,
) -> None:
    import base64
    import io

    from PIL import Image

    client, _, _ = api
    keys = _keys(api)
    conversation, visitor = _start(client, keys["widget"])
    sent = client.post(
        f"/v1/conversations/{conversation}/messages",
        json={"text": "转人工 这个坏了", "image": base64.b64encode(_phone_photo()).decode()},
        headers=visitor,
    )
    assert sent.status_code == 200, sent.text
    customer = next(m for m in sent.json()["messages"] if m["author"] == "customer")
    assert customer["photo"] is True
    context = client.get(f"/v1/desk/conversations/{conversation}", headers=keys["agent"]).json()
    assert [m["photo"] for m in context["messages"] if m["author"] == "customer"] == [True]
    path = f"/v1/desk/conversations/{conversation}/messages/{customer['id']}/photo"
    photo = client.get(path, headers=keys["agent"])
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    kept = Image.open(io.BytesIO(photo.content))
    assert kept.size == (120, 300)  # upright
    assert not kept.getexif() and b"customer-phone-serial" not in photo.content and "comment" not in kept.info
    assert client.get(path, headers=keys["widget"]).status_code == 403
    assert client.get(path, headers=keys["other_admin"]).status_code == 404
    exported = client.post(
        "/v1/customers/export", json={"conversation_ids": [conversation]}, headers=keys["admin"]
    ).json()
    messages = exported["conversations"][0]["messages"]
    assert messages[0]["photo"].startswith("data:image/jpeg;base64,") and "photo" not in messages[1]
    erased = client.post(
        "/v1/customers/erase", json={"conversation_ids": [conversation]}, headers=keys["admin"]
    )
    assert erased.status_code == 200, erased.text
    assert client.get(path, headers=keys["agent"]).status_code == 404


def test_a_workspace_that_redacts_what_it_stores_keeps_no_photos(api: Api) -> None:
    import base64

    client, _, _ = api
    keys = _keys(api)
    changed = client.patch("/v1/privacy", json={"redact_stored": True}, headers=keys["admin"])
    assert changed.status_code == 200, changed.text
    conversation, visitor = _start(client, keys["widget"])
    sent = client.post(
        f"/v1/conversations/{conversation}/messages",
        json={"text": "转人工 身份证拍给你", "image": base64.b64encode(_phone_photo()).decode()},
        headers=visitor,
    ).json()
    customer = next(m for m in sent["messages"] if m["author"] == "customer")
    assert customer["photo"] is False
    path = f"/v1/desk/conversations/{conversation}/messages/{customer['id']}/photo"
    assert client.get(path, headers=keys["agent"]).status_code == 404
