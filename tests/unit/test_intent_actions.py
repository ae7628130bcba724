"""Intents in a conversation, with the real embedding model and a real HTTP tool on 127.0.0.1: replies,
slots asked for and filled, handoffs, and every way a tool can fail."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from zhiwen.errors import InvalidInput
from zhiwen.services.intents.actions import TOOL_FAILED, IntentRouter, ToolFailed
from zhiwen.services.intents.definitions import Tool, parse_intent
from zhiwen.types import Workspace
from zhiwen.wiring import Services


class _Orders(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path
        if path.startswith("/slow"):
            time.sleep(1.5)
        if path.startswith("/error"):
            self._send(500, b'{"error": "database down"}')
        elif path.startswith("/html"):
            self._send(200, b"<html>maintenance</html>")
        elif path.startswith("/list"):
            self._send(200, b"[1, 2]")
        elif path.startswith("/huge"):
            self._send(200, json.dumps({"x": "y" * 1_100_000}).encode())
        else:
            reply = {"status": "shipped", "delivery": {"eta": "12-07"}, "path": path}
            reply["auth"] = self.headers.get("Authorization", "")
            self._send(200, json.dumps(reply).encode())

    def _send(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def orders() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Orders)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tool(url: str, **extra: Any) -> Tool:
    intent = parse_intent(
        {
            "name": "order_status",
            "action": "tool",
            "slots": [{"name": "order_number", "pattern": "order_number", "prompt": "订单号？"}],
            "tool": {"url": url, "reply": "{status} {delivery.eta}", **extra},
            "examples": ["where is my order"],
        }
    )
    assert intent.tool is not None
    return intent.tool


def test_a_tool_gets_url_encoded_slots_and_its_secret(orders: str) -> None:
    router = IntentRouter(None, {"ORDERS_TOKEN": "s3cret"})  # type: ignore[arg-type] # calls need no model
    tool = _tool(orders + "/ok/{order_number}", headers={"Authorization": "Bearer {secret:ORDERS_TOKEN}"})
    reply = router.call(tool, {"order_number": "2024113012345"})
    assert reply["path"] == "/ok/2024113012345" and reply["auth"] == "Bearer s3cret"
    hostile = router.call(tool, {"order_number": "../admin?x=1#"})
    assert hostile["path"] == "/ok/..%2Fadmin%3Fx%3D1%23"  # a slot never changes the path or the host
    router.close()


def test_a_workspace_secret_wins_over_the_servers_of_the_same_name(orders: str) -> None:
    stored = {"ws_a": {"ORDERS_TOKEN": "workspace-a"}}
    router = IntentRouter(
        None,  # type: ignore[arg-type] # calls need no model
        {"ORDERS_TOKEN": "server"},
        workspace_secrets=lambda workspace_id: stored.get(workspace_id, {}),
    )
    tool = _tool(orders + "/ok/{order_number}", headers={"Authorization": "Bearer {secret:ORDERS_TOKEN}"})
    assert router.call(tool, {"order_number": "1"}, "ws_a")["auth"] == "Bearer workspace-a"
    assert router.call(tool, {"order_number": "1"}, "ws_b")["auth"] == "Bearer server"
    router.close()


@pytest.mark.parametrize(
    ("path", "timeout", "message"),
    [
        ("/error", 2.0, "HTTP 500"),
        ("/html", 2.0, "not JSON"),
        ("/list", 2.0, "not a JSON object"),
        ("/huge", 5.0, "over 1,000,000 bytes"),
        ("/slow", 0.5, "no reply within 0.5 s"),
    ],
)
def test_every_failure_of_a_tool_is_named(orders: str, path: str, timeout: float, message: str) -> None:
    router = IntentRouter(None, {})  # type: ignore[arg-type]
    with pytest.raises(ToolFailed, match=message):
        router.call(_tool(orders + path, timeout_s=timeout), {})
    with pytest.raises(ToolFailed, match="cannot reach the tool"):
        router.call(_tool(f"http://127.0.0.1:{_closed_port()}/x"), {})
    with pytest.raises(ToolFailed, match="ZHIWEN_SECRET_MISSING"):
        router.call(_tool(orders + "/ok", headers={"X-Key": "{secret:MISSING}"}), {})
    router.close()


def _live(services: Services, workspace: Workspace, orders: str, path: str = "/ok/{order_number}") -> None:
    intents = []
    for intent in services.intents.definitions(workspace.id):
        if intent.name == "order_status":
            definition = {**intent.to_dict(), "action": "tool"}
            definition["tool"] = {
                "url": orders + path,
                "timeout_s": 0.5,
                "reply": {"zh": "订单{order_number}：{status}", "en": "Order {order_number}: {status}"},
            }
            intent = parse_intent(definition)
        intents.append(intent)
    services.intents.replace(workspace.id, intents)
    model = services.intents.train(workspace.id, "test")
    services.intents.promote(workspace.id, model.version, "test")


def test_a_conversation_is_greeted_asked_for_the_order_number_and_answered_by_the_tool(
    services: Services, workspace: Workspace, orders: str
) -> None:
    assert services.answerer.answer(workspace.id, "你好").intent is None  # no live intent model yet
    _live(services, workspace, orders)
    hello = services.answerer.answer(workspace.id, "你好")
    assert (hello.mode, hello.text, hello.handoff) == ("reply", "您好！请问有什么可以帮您？", False)
    assert hello.intent is not None and hello.intent.name == "greeting"
    asked = services.answerer.answer(workspace.id, "我的订单到哪了", hello.conversation_id)
    assert asked.mode == "reply" and "订单号" in asked.text
    assert asked.intent is not None and asked.intent.awaiting == "order_number"
    told = services.answerer.answer(workspace.id, "是这个 2024113012345", hello.conversation_id)
    assert (told.mode, told.text) == ("tool", "订单2024113012345：shipped")
    assert told.intent is not None and told.intent.slots == {"order_number": "2024113012345"}
    direct = services.answerer.answer(workspace.id, "where is my order 2024110155555")
    assert (direct.mode, direct.text) == ("tool", "Order 2024110155555: shipped")
    ordinary = services.answerer.answer(workspace.id, "扫地机器人保修多久？")
    assert ordinary.intent is not None and ordinary.intent.action == "answer"
    assert ordinary.mode in ("extractive", "handoff")  # the knowledge base (empty here) was asked


def test_a_failing_tool_apologises_and_hands_off_and_a_complaint_goes_to_a_person(
    services: Services, workspace: Workspace, orders: str
) -> None:
    _live(services, workspace, orders, "/error/{order_number}")
    failed = services.answerer.answer(workspace.id, "订单 2024113012345 到哪了")
    assert failed.handoff and failed.mode == "handoff" and failed.text.startswith(TOOL_FAILED["zh"])
    assert failed.intent is not None and failed.intent.error == "the tool answered HTTP 500"
    turn = services.desk.answered(workspace.id, failed)
    assert turn.state.status == "waiting"
    assert services.desk.conversation(workspace.id, failed.conversation_id or "").reason == "order_status"
    angry = services.answerer.answer(workspace.id, "你们太差劲了，修了三次都没修好，我要投诉")
    assert angry.handoff and angry.intent is not None and angry.intent.name == "complaint"
    queued = services.desk.answered(workspace.id, angry)
    assert queued.answer is not None and queued.answer.text.startswith("非常抱歉")
    assert services.desk.conversation(workspace.id, angry.conversation_id or "").reason == "complaint"
    assert angry.intent.urgent and queued.state.position == 1  # a complaint goes before the order question
    assert services.desk.state(workspace.id, failed.conversation_id or "").position == 2
    assert [c.id for c in services.desk.queue(workspace.id)] == [
        angry.conversation_id,
        failed.conversation_id,
    ]


def test_a_message_without_the_slot_starts_over(
    services: Services, workspace: Workspace, orders: str
) -> None:
    _live(services, workspace, orders)
    asked = services.answerer.answer(workspace.id, "where is my order")
    assert asked.intent is not None and asked.intent.awaiting == "order_number"
    thanks = services.answerer.answer(workspace.id, "never mind, thanks", asked.conversation_id)
    assert thanks.intent is not None and thanks.intent.name == "thanks" and thanks.mode == "reply"


def test_training_refuses_an_example_two_intents_share_and_too_few_intents(
    services: Services, workspace: Workspace
) -> None:
    live = services.intents.train(workspace.id, "test")
    services.intents.promote(workspace.id, live.version, "test")
    services.intents.put(
        workspace.id,
        parse_intent({"name": "hello", "action": "reply", "reply": "hi", "examples": ["你好", "早"]}),
    )
    with pytest.raises(InvalidInput, match="'你好' in greeting and hello"):
        services.intents.train(workspace.id, "test")
    services.intents.replace(workspace.id, [parse_intent({"name": "only", "examples": ["x"]})])
    with pytest.raises(InvalidInput, match="at least two intents"):
        services.intents.train(workspace.id, "test")
    services.intents.replace(workspace.id, [])  # no intents: the live model has nothing to act on
    assert services.intents.definitions(workspace.id) == []
    greeted = services.answerer.answer(workspace.id, "你好")
    assert greeted.intent is not None and (greeted.intent.name, greeted.intent.action) == (
        "knowledge",
        "answer",
    )
    assert greeted.mode in ("extractive", "handoff")  # the knowledge base was asked


def test_a_bare_number_is_answered_in_the_conversations_language_and_full_width_digits_count(
    services: Services, workspace: Workspace, orders: str
) -> None:
    _live(services, workspace, orders)
    asked = services.answerer.answer(workspace.id, "我的快递到哪了")
    assert asked.intent is not None and asked.intent.awaiting == "order_number"
    told = services.answerer.answer(workspace.id, "２０２４１１３０１２３４５", asked.conversation_id)
    assert (told.mode, told.language, told.text) == ("tool", "zh", "订单2024113012345：shipped")


def test_the_gate_compares_a_new_version_with_the_live_one_on_the_same_examples(
    services: Services, workspace: Workspace
) -> None:
    first = services.intents.train(workspace.id, "test")
    services.intents.promote(workspace.id, first.version, "test")
    second = services.intents.train(workspace.id, "test")
    verdict = services.intents.check(workspace.id, second.version)
    assert verdict["live"]["version"] == first.version and set(verdict["live"]) >= {"accuracy", "macro_f1"}
    assert verdict["passed"], verdict["failures"]  # the same settings on the same split: no drop
    services.intents.family.set_gate_policy(workspace.id, {}, 0.0)
    broken = [
        parse_intent({"name": "hello", "action": "reply", "reply": "hi", "examples": ["hi"]}),
        parse_intent({"name": "knowledge", "examples": ["hi there", "hello"]}),
    ]
    services.intents.replace(workspace.id, broken)
    third = services.intents.train(workspace.id, "test")
    refused = services.intents.check(workspace.id, third.version)  # two examples: nothing held out
    assert refused["candidate"]["accuracy"] is None and not refused["passed"]


def test_requests_a_tool_cannot_send_fail_politely(orders: str) -> None:
    router = IntentRouter(None, {"TOKEN": "密钥"})  # type: ignore[arg-type] # calls need no model
    with pytest.raises(ToolFailed, match="cannot send the request"):
        router.call(_tool(orders + "/ok", headers={"X-Key": "{secret:TOKEN}"}), {})
    with pytest.raises(ToolFailed, match="path segment"):
        router.call(_tool(orders + "/ok/{order_number}"), {"order_number": ".."})
    router.close()
