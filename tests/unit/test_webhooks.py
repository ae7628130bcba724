"""Webhooks: signed, stored before they are sent, retried with backoff, never redirected, and the desk's
events reach a real receiver on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from zhiwen.errors import InvalidInput
from zhiwen.services.desk.webhooks import BACKOFF_S, WebhookService
from zhiwen.stores.sqlite.webhooks import SqliteWebhookStore
from zhiwen.types import Workspace
from zhiwen.wiring import Services


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _verify(secret: str, request: httpx.Request) -> dict[str, Any]:
    stamp, digest = (part.split("=", 1)[1] for part in request.headers["x-zhiwen-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + request.content, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(digest, expected)
    return dict(json.loads(request.content))


def test_a_delivery_is_signed_and_retried_with_backoff_until_it_succeeds(
    services: Services, workspace: Workspace
) -> None:
    seen: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500 if len(seen) == 1 else 204)

    clock = Clock()
    hooks = WebhookService(
        SqliteWebhookStore(services.db),
        services.secret_box,
        services.privacy,
        httpx.MockTransport(receiver),
        now=clock,
    )
    hook, secret = hooks.add(workspace.id, "https://desk.example.com/zhiwen", ["handoff"])
    with services.db.reading() as conn:  # stored sealed under the master key, not as it was shown
        (stored,) = conn.execute("SELECT secret FROM webhooks WHERE id = ?", (hook.id,)).fetchone()
    assert stored.startswith("fernet:")
    assert secret not in stored
    hooks.emit(workspace.id, "handoff", {"conversation_id": "conv_1"})
    hooks.emit(workspace.id, "rating", {"score": 5})  # this webhook does not take ratings
    assert hooks.deliver_due() == 1
    (pending,) = hooks.deliveries(workspace.id, hook.id)
    assert (pending.status, pending.attempts, pending.error) == ("pending", 1, "HTTP 500")
    assert hooks.deliver_due() == 0  # not due before the backoff
    clock.now += timedelta(seconds=BACKOFF_S[0] + 1)
    assert hooks.deliver_due() == 1
    (delivered,) = hooks.deliveries(workspace.id, hook.id)
    assert delivered.status == "delivered" and delivered.attempts == 2 and delivered.response_status == 204
    body = _verify(secret, seen[-1])
    assert body["event"] == "handoff" and body["data"] == {"conversation_id": "conv_1"}
    assert body["delivery_id"] == delivered.id == seen[-1].headers["x-zhiwen-delivery"]


def test_a_redirecting_target_is_a_failure_and_is_given_up_after_the_last_attempt(
    services: Services, workspace: Workspace
) -> None:
    calls: list[str] = []

    def redirector(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(302, headers={"location": "http://169.254.169.254/latest/meta-data"})

    clock = Clock()
    hooks = WebhookService(
        SqliteWebhookStore(services.db),
        services.secret_box,
        services.privacy,
        httpx.MockTransport(redirector),
        now=clock,
    )
    hook, _ = hooks.add(workspace.id, "https://desk.example.com/hook", ["message"])
    hooks.emit(workspace.id, "message", {"text": "hi"})
    for wait in (0, *BACKOFF_S):
        clock.now += timedelta(seconds=wait + 1)
        hooks.deliver_due()
    (failed,) = hooks.deliveries(workspace.id, hook.id)
    assert failed.status == "failed" and failed.attempts == len(BACKOFF_S) + 1
    assert "redirects are not followed" in failed.error
    assert all("169.254" not in url for url in calls)


def test_a_customers_personal_data_never_leaves_in_a_webhook_but_the_contact_they_left_does(
    services: Services, workspace: Workspace
) -> None:
    hooks = WebhookService(SqliteWebhookStore(services.db), services.secret_box, services.privacy)
    hook, _ = hooks.add(workspace.id, "https://desk.example.com/hook", ["message", "handoff"])
    hooks.emit(
        workspace.id, "message", {"conversation_id": "conv_1", "text": "我的手机13912345678，卡号没问题"}
    )
    hooks.emit(workspace.id, "handoff", {"conversation_id": "conv_1", "contact": "13912345678 晚上"})
    sent = {d.event: d.payload["data"] for d in hooks.deliveries(workspace.id, hook.id)}
    assert sent["message"]["text"] == "我的手机[phone]，卡号没问题"
    assert sent["handoff"]["contact"] == "13912345678 晚上"  # left for the callback, so it goes


@pytest.mark.parametrize(
    ("url", "events", "named"),
    [
        ("ftp://desk.example.com", ["handoff"], r"http\(s\)"),
        ("https://user:pw@desk.example.com", ["handoff"], "password"),
        ("not a url", ["handoff"], r"http\(s\)"),
        ("http://0.0.0.0/hook", ["handoff"], "not an address"),
        ("https://desk.example.com", ["shipping"], "events"),
        ("https://desk.example.com", [], "events"),
    ],
)
def test_bad_webhooks_are_refused_by_name(
    services: Services, workspace: Workspace, url: str, events: list[str], named: str
) -> None:
    with pytest.raises(InvalidInput, match=named):
        services.webhooks.add(workspace.id, url, events)
    assert services.webhooks.webhooks(workspace.id) == []


def test_the_desks_events_reach_a_real_receiver_with_the_whole_context(
    demo_copy: tuple[Services, Workspace],
) -> None:
    services, workspace = demo_copy
    received: list[tuple[dict[str, str], bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append((dict(self.headers.items()), body))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/zhiwen"
        _hook, secret = services.webhooks.add(workspace.id, url, ["handoff", "resolve", "rating"])
        services.webhooks.start()
        turn = services.desk.say(workspace.id, None, "转人工，我的订单 123 还没发货")
        services.desk.reply(workspace.id, turn.conversation_id, "key:alice", "马上处理")
        services.desk.resolve(workspace.id, turn.conversation_id, "key:alice")
        services.desk.rate(workspace.id, turn.conversation_id, 4)
        deadline = time.monotonic() + 10
        while len(received) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        services.webhooks.stop()
        server.shutdown()
        server.server_close()
    events = []
    for headers, body in received:
        request = httpx.Request("POST", url, headers=headers, content=body)
        events.append(_verify(secret, request))
    assert [e["event"] for e in events] == ["handoff", "resolve", "rating"]
    handoff = events[0]["data"]
    assert handoff["reason"] == "asked_for_human" and handoff["messages"][0]["text"].startswith("转人工")
