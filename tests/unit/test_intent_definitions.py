"""Intent definitions: the built-in ones, YAML and CSV in every encoding, and clear errors for bad input."""

from __future__ import annotations

import pytest

from zhiwen.errors import CorruptFile, InvalidInput
from zhiwen.services.intents.builtin import KNOWLEDGE, builtin_intents
from zhiwen.services.intents.definitions import (
    MAX_EXAMPLE_CHARS,
    dump_csv,
    dump_yaml,
    fill,
    parse_intent,
    read_intents,
)

ORDER_TOOL = """
intents:
  - name: order_status
    action: tool
    slots:
      - {name: order_number, pattern: order_number, prompt: {zh: 请提供订单号, en: 'Your order number?'}}
    tool:
      url: "https://orders.example.com/api/{order_number}"
      headers: {Authorization: "Bearer {secret:ORDERS_TOKEN}"}
      timeout_s: 2
      reply: {zh: "订单{order_number}：{status}", en: "Order {order_number}: {status}"}
    examples: [我的订单到哪了, where is my order]
  - name: knowledge
    examples: [退货运费谁出]
"""


def test_the_built_in_intents_cover_the_usual_needs_and_round_trip_through_yaml_and_csv() -> None:
    intents = builtin_intents()
    assert {i.name: i.action for i in intents} == {
        "human": "handoff",
        "greeting": "reply",
        "thanks": "reply",
        "complaint": "handoff",
        "order_status": "handoff",
        KNOWLEDGE: "answer",
    }
    assert all(i.examples for i in intents)
    assert read_intents("intents.yaml", dump_yaml(intents).encode()) == intents
    assert read_intents("intents.csv", dump_csv(intents).encode(), known=intents) == intents
    with pytest.raises(InvalidInput, match=r"greeting\.reply: give a text"):
        read_intents("intents.csv", dump_csv(intents).encode())  # a new reply intent needs its reply


def test_a_tool_with_slots_and_a_secret_is_read_whole() -> None:
    order, knowledge = read_intents("intents.yml", ORDER_TOOL.encode())
    assert order.tool is not None and order.tool.timeout_s == 2
    assert order.tool.headers == {"Authorization": "Bearer {secret:ORDERS_TOKEN}"}
    assert order.slots[0].find("单号 2024113012345 谢谢") == "2024113012345"
    assert order.slots[0].find("电话 13800138000") is None  # 11 digits starting with 1 is a phone
    assert knowledge.action == "answer"


def test_a_gbk_csv_is_read_and_one_language_serves_both() -> None:
    data = "intent,example,action\ngreeting,你好,reply\ngreeting,在吗,reply\n".encode("gbk")
    with pytest.raises(InvalidInput, match="reply: give a text"):
        read_intents("intents.csv", data)  # a reply intent needs its reply: CSV carries examples only
    (answer,) = read_intents("i.csv", "intent,example\nhours,几点开门\nhours,营业时间\n".encode("gbk"))
    assert answer.examples == ("几点开门", "营业时间")
    reply = parse_intent({"name": "hi", "action": "reply", "reply": "您好", "examples": ["hi"]})
    assert reply.reply == {"zh": "您好", "en": "您好"}


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("intents.yaml", b"intents: [", "not valid YAML"),
        ("intents.yaml", b"", "expected a list of intents"),
        ("intents.yaml", b"\x00\x01binary", "binary"),
        ("intents.txt", b"whatever", ".yaml, .yml, .json or .csv"),
        ("intents.csv", b"text,label\nhi,greeting\n", "intent,example"),
        ("intents.csv", b"intent,example\n,hi\n", "line 2"),
        ("intents.yaml", b"- name: Bad Name\n  examples: [x]\n", "must start with a letter"),
        ("intents.yaml", b"- name: x\n  action: launch\n  examples: [x]\n", "'launch' is not one of"),
        ("intents.yaml", b"- name: x\n  examples: []\n", "at least one example"),
        ("intents.yaml", b"- name: x\n  action: tool\n  examples: [a]\n", "needs a tool"),
        ("intents.yaml", b"- {name: x, examples: [a]}\n- {name: x, examples: [b]}\n", "appear twice"),
        (
            "intents.yaml",
            b"- name: x\n  action: tool\n  examples: [a]\n  tool: {url: 'file:///etc/passwd', reply: r}\n",
            "not an http(s) URL",
        ),
        (
            "intents.yaml",
            b"- name: x\n  action: tool\n  examples: [a]\n  tool: {url: 'http://h/{id}', reply: r}\n",
            "{id} is neither a slot",
        ),
        (
            "intents.yaml",
            b"- name: x\n  action: tool\n  examples: [a]\n"
            b"  slots: [{name: host, pattern: '\\w+', prompt: p}]\n"
            b"  tool: {url: 'http://{host}.example.com/', reply: r}\n",
            "not the host",
        ),
        (
            "intents.yaml",
            b"- name: x\n  action: reply\n  reply: hi\n  examples: [a]\n  slots: [{name: city, prompt: p}]\n",
            "pattern: one of",
        ),
        ("intents.yaml", b"- name: x\n  examples: [[nested]]\n", "each example is a text"),
        ("intents.yaml", b"- name: x\n  description: " + b"d" * 501 + b"\n  examples: [a]\n", "at most 500"),
        (
            "intents.yaml",
            b"- name: x\n  action: reply\n  reply: 'hi {name}'\n  examples: [a]\n",
            "{name} is not a slot",
        ),
        (
            "intents.yaml",
            b"- name: x\n  action: reply\n  reply: hi\n  examples: [a]\n"
            b"  slots: [{name: s, pattern: '(', prompt: p}]\n",
            "not a regular expression",
        ),
        (
            "intents.yaml",
            b"- name: x\n  action: tool\n  examples: [a]\n"
            b"  tool: {url: 'http://h', reply: r, timeout_s: 99}\n",
            "between 0 and 30",
        ),
    ],
)
def test_broken_definitions_are_refused_naming_the_problem(filename: str, data: bytes, message: str) -> None:
    with pytest.raises((InvalidInput, CorruptFile), match=message.replace("(", r"\(").replace(")", r"\)")):
        read_intents(filename, data)


def test_huge_and_malicious_examples_are_refused_or_kept_as_plain_text() -> None:
    with pytest.raises(InvalidInput, match=f"over {MAX_EXAMPLE_CHARS} characters"):
        parse_intent({"name": "x", "examples": ["长" * (MAX_EXAMPLE_CHARS + 1)]})
    with pytest.raises(InvalidInput, match="at most"):
        parse_intent({"name": "x", "examples": [f"example {n}" for n in range(5001)]})
    hostile = parse_intent({"name": "x", "examples": ["<script>alert(1)</script>", "'; DROP TABLE x; --"]})
    assert hostile.examples == ("<script>alert(1)</script>", "'; DROP TABLE x; --")
    with pytest.raises(InvalidInput, match="not valid YAML"):  # safe_load builds no Python objects
        read_intents("x.yaml", b"!!python/object/apply:os.system ['echo hacked']")


def test_templates_fill_nested_fields_and_never_show_a_raw_placeholder() -> None:
    reply = {"status": "shipped", "delivery": {"eta": "12-07"}, "items": [1, 2], "none": None}
    assert fill("{status}, ETA {delivery.eta}", reply) == "shipped, ETA 12-07"
    assert fill("{missing} {delivery.x} {items} {none}", reply) == "? ? ? ?"
