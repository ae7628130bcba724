"""Intents over HTTP: definitions, import and export, a training job, the gate, and asks that an intent
answers."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import wait_for_job
from zhiwen.wiring import Services

API = tuple[TestClient, Services, dict[str, str]]
HOURS = """
intents:
  - name: opening_hours
    action: reply
    reply: {zh: 我们每天 9:00–21:00 营业。, en: "We are open 9:00-21:00 every day."}
    examples: [几点开门, 你们几点关门, 营业时间, what time do you open, "open on sunday?", opening hours]
"""


def _headers(keys: dict[str, str], name: str = "acme") -> dict[str, str]:
    return {"Authorization": f"Bearer {keys[name]}"}


def test_intents_are_edited_trained_promoted_and_answer_asks(api: API) -> None:
    client, _, keys = api
    admin = _headers(keys)
    listed = client.get("/v1/intents", headers=admin).json()
    assert listed["live"] is None and "greeting" in [i["name"] for i in listed["intents"]]
    assert client.post("/v1/ask", headers=admin, json={"question": "你好"}).json()["intent"] is None

    imported = client.post(
        "/v1/intents/import?merge=true",
        headers=admin,
        files={"file": ("hours.yaml", HOURS.encode(), "application/yaml")},
    )
    assert imported.status_code == 200, imported.text
    assert "opening_hours" in [i["name"] for i in imported.json()["intents"]]
    exported = client.get("/v1/intents/export?format=csv", headers=admin)
    assert (
        exported.headers["content-type"].startswith("text/csv") and "opening_hours,几点开门" in exported.text
    )

    started = client.post("/v1/intents/models", headers=admin, json={"promote": True})
    assert started.status_code == 202
    job = wait_for_job(client, started.json()["id"], admin)
    assert job["status"] == "succeeded", job
    assert job["result"]["version"] == 1 and job["result"]["gate"]["passed"]
    models = client.get("/v1/intents/models", headers=admin).json()
    assert models["live"] == 1 and models["models"][0]["report"]["held_out"]["examples"] > 0

    tried = client.post("/v1/intents/classify", headers=admin, json={"message": "你们周日几点开门"}).json()
    assert tried["match"]["name"] == "opening_hours" and tried["ranked"][0][0] == "opening_hours"
    answer = client.post("/v1/ask", headers=admin, json={"question": "你们周日几点开门"}).json()
    assert answer["mode"] == "reply" and answer["text"] == "我们每天 9:00–21:00 营业。"
    assert answer["intent"]["name"] == "opening_hours" and answer["intent"]["action"] == "reply"
    person = client.post("/v1/ask", headers=admin, json={"question": "转人工"}).json()
    assert person["handoff"] and person["intent"]["name"] == "human"
    chat = client.post(
        "/v1/chat/completions",
        headers=admin,
        json={
            "model": "zhiwen",
            "messages": [{"role": "user", "content": "what time do you open on sunday"}],
        },
    ).json()
    assert chat["choices"][0]["message"]["content"] == "We are open 9:00-21:00 every day."
    assert chat["zhiwen"]["mode"] == "reply"

    client.put("/v1/intents/gate", headers=admin, json={"minimum": {"accuracy": 1.0}})
    refused = client.post("/v1/intents/models/1/promote", headers=admin)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "gate_refused"
    assert client.post("/v1/intents/rollback", headers=admin).status_code == 404  # nothing earlier


def test_bad_intents_are_refused_and_nothing_is_half_saved(api: API) -> None:
    client, _, keys = api
    admin = _headers(keys)
    before = client.get("/v1/intents", headers=admin).json()
    broken = client.post(
        "/v1/intents/import",
        headers=admin,
        files={"file": ("intents.yaml", b"intents:\n  - name: ok\n    examples: [a]\n  - name: Bad\n", "x")},
    )
    assert broken.status_code == 400 and "Bad" in broken.json()["error"]["message"]
    assert client.get("/v1/intents", headers=admin).json() == before
    gbk = "intent,example\nopening_hours,几点开门\nopening_hours,营业时间\n".encode("gbk")
    added = client.post(
        "/v1/intents/import?merge=true", headers=admin, files={"file": ("i.csv", gbk, "text/csv")}
    )
    assert added.status_code == 200, added.text
    hours = next(i for i in added.json()["intents"] if i["name"] == "opening_hours")
    assert hours == {
        "name": "opening_hours",
        "action": "answer",
        "description": "",
        "reply": None,
        "slots": [],
        "tool": None,
        "urgent": False,
        "examples": ["几点开门", "营业时间"],
    }
    before = added.json()
    mismatch = client.put(
        "/v1/intents/hours", headers=admin, json={"name": "other", "action": "answer", "examples": ["x"]}
    )
    assert mismatch.status_code == 400
    assert client.delete("/v1/intents/nothing", headers=admin).status_code == 404
    hostile = client.put(
        "/v1/intents/hours",
        headers=admin,
        json={
            "name": "hours",
            "action": "tool",
            "examples": ["x"],
            "tool": {"url": "file:///etc/passwd", "reply": "r"},
        },
    )
    assert hostile.status_code == 400 and "http(s)" in hostile.json()["error"]["message"]
    client_key = {"Authorization": f"Bearer {keys['acme-client']}"}
    assert client.get("/v1/intents", headers=client_key).status_code == 403
    assert client.get("/v1/intents", headers=admin).json() == before
