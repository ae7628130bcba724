"""The audit log and sealed secrets through the API, over real stores."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import pytest
from fastapi.testclient import TestClient

from zhiwen.adapters.secret_box import FernetSecretBox, new_key
from zhiwen.errors import ZhiwenError
from zhiwen.services.trust.secrets import SecretService
from zhiwen.stores.sqlite.secrets import SqliteSecretStore
from zhiwen.types import AuditQuery
from zhiwen.wiring import Services

Api = tuple[TestClient, Services, dict[str, str]]


def _auth(keys: dict[str, str], name: str) -> dict[str, str]:
    return {"authorization": f"Bearer {keys[name]}"}


def test_changes_are_audited_with_who_what_and_outcome_but_questions_and_reads_are_not(api: Api) -> None:
    client, _, keys = api
    admin = _auth(keys, "acme")
    faq = "# 退货\n\n七天内可以无理由退货。".encode()
    created = client.post("/v1/documents", files=[("files", ("faq.md", faq))], headers=admin)
    assert created.status_code == 200, created.text
    document_id = created.json()["files"][0]["document_id"]
    assert client.delete(f"/v1/documents/{document_id}", headers=admin).status_code == 204
    client.post("/v1/ask", json={"question": "可以退货吗"}, headers=admin)
    client.get("/v1/documents", headers=admin)
    refused = client.post("/v1/keys", json={"name": "x", "role": "admin"}, headers=_auth(keys, "acme-client"))
    assert refused.status_code == 403

    entries = client.get("/v1/audit", headers=admin).json()["entries"]
    assert [(e["action"], e["outcome"]) for e in entries] == [
        ("POST /v1/keys", 403),  # a refused attempt is recorded too
        ("DELETE /v1/documents/{document_id}", 204),
        ("POST /v1/documents", 200),
    ]
    assert entries[0]["actor"].startswith("key:widget (zw_") and entries[1]["actor"].startswith(
        "key:admin (zw_"
    )
    assert entries[1]["target"] == f"/v1/documents/{document_id}"
    assert entries[1]["source"] == "testclient"
    assert client.get("/v1/audit", headers=_auth(keys, "globex")).json()["entries"] == []  # per workspace


def test_the_audit_log_filters_pages_exports_and_verifies(api: Api) -> None:
    client, _, keys = api
    admin = _auth(keys, "acme")
    for number in range(3):
        client.post("/v1/curated", json={"question": f"问题{number}", "answer": "答案"}, headers=admin)
    page = client.get("/v1/audit", params={"limit": 2}, headers=admin).json()
    assert len(page["entries"]) == 2 and page["next_before"] is not None
    rest = client.get("/v1/audit", params={"before": page["next_before"]}, headers=admin).json()
    assert len(rest["entries"]) == 1 and rest["next_before"] is None
    assert client.get("/v1/audit", params={"action": "DELETE"}, headers=admin).json()["entries"] == []

    exported = client.get("/v1/audit/export", headers=admin)
    lines = [json.loads(line) for line in exported.text.splitlines()]
    # oldest first; an export is recorded too, before it is written out
    assert [line["action"] for line in lines] == ["POST /v1/curated"] * 3 + ["GET /v1/audit/export"]
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    as_csv = list(csv.DictReader(io.StringIO(client.get("/v1/audit/export?format=csv", headers=admin).text)))
    assert len(as_csv) == 5 and as_csv[0]["hash"] == lines[0]["hash"]
    verified = client.get("/v1/audit/verify", headers=admin).json()
    assert verified["ok"] and verified["entries"] == 5 and verified["broken_at"] is None


def test_an_edited_audit_entry_is_refused_and_a_forged_one_breaks_the_chain(api: Api) -> None:
    client, services, keys = api
    admin = _auth(keys, "acme")
    for number in range(3):
        client.post("/v1/curated", json={"question": f"问题{number}", "answer": "答案"}, headers=admin)
    second = client.get("/v1/audit", headers=admin).json()["entries"][1]
    with services.db.transaction() as conn, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit_log WHERE seq = ?", (second["seq"],))
    with services.db.transaction() as conn:  # someone with the file drops the guard and edits an entry
        on_table = " ON audit_log" if services.settings.database_url else ""  # PostgreSQL names the table
        conn.execute(f"DROP TRIGGER audit_log_no_update{on_table}")
        conn.execute("UPDATE audit_log SET actor = 'key:nobody' WHERE seq = ?", (second["seq"],))
    verified = client.get("/v1/audit/verify", headers=admin).json()
    assert not verified["ok"] and verified["broken_at"] == second["seq"]
    assert "changed after it was written" in verified["problem"]


def test_a_failed_sign_in_is_audited_in_the_store_wide_log(api: Api) -> None:
    client, services, _ = api
    refused = client.post("/v1/auth/sign-in", json={"email": "Mallory@example.com", "password": "x" * 12})
    assert refused.status_code == 401
    (entry,) = services.audit.entries("", AuditQuery())
    assert (entry.actor, entry.action, entry.outcome) == (
        "user:mallory@example.com",
        "POST /v1/auth/sign-in",
        401,
    )


def test_a_secret_is_stored_sealed_listed_by_name_and_never_shown(api: Api) -> None:
    client, services, keys = api
    admin = _auth(keys, "acme")
    assert (
        client.put("/v1/secrets/ORDERS_TOKEN", json={"value": "tok-9f8e7d"}, headers=admin).status_code == 204
    )
    listed = client.get("/v1/secrets", headers=admin).json()
    assert [s["name"] for s in listed] == ["ORDERS_TOKEN"] and "tok-9f8e7d" not in json.dumps(listed)
    with services.db.reading() as conn:
        (sealed,) = conn.execute("SELECT sealed FROM workspace_secrets").fetchone()
    assert sealed.startswith("fernet:") and "tok-9f8e7d" not in sealed
    acme = services.workspaces.get_workspace("acme").id
    assert services.secrets.values(acme) == {"ORDERS_TOKEN": "tok-9f8e7d"}
    assert client.get("/v1/secrets", headers=_auth(keys, "globex")).json() == []

    bad = client.put("/v1/secrets/orders token", json={"value": "x"}, headers=admin)
    assert bad.status_code == 400 and "capital letters" in bad.json()["error"]["message"]
    assert client.put("/v1/secrets/EMPTY", json={"value": ""}, headers=admin).status_code == 422
    assert client.delete("/v1/secrets/ORDERS_TOKEN", headers=admin).status_code == 204
    assert client.delete("/v1/secrets/ORDERS_TOKEN", headers=admin).status_code == 404
    assert client.get("/v1/secrets", headers=_auth(keys, "acme-client")).status_code == 403


def test_rotation_reseals_every_secret_so_the_old_master_key_can_go(api: Api) -> None:
    _, services, _ = api
    acme = services.workspaces.get_workspace("acme").id
    services.secrets.put(acme, "ORDERS_TOKEN", "tok-1")
    services.webhooks.add(acme, "https://desk.example.com/hook", ["handoff"])
    with services.db.transaction() as conn:  # a webhook stored by an older version, in plain text
        conn.execute(
            "INSERT INTO webhooks (id, workspace_id, url, secret, events, created_at)"
            " VALUES ('whk_old', ?, 'https://desk.example.com/old', 'whsec_plain', '[\"handoff\"]', 't')",
            (acme,),
        )
    old_key = (services.settings.data_dir / "master.key").read_text().strip()
    fresh = new_key()
    rotating = SecretService(SqliteSecretStore(services.db), FernetSecretBox([fresh, old_key]))  # new,old
    assert rotating.rotate() == 3
    with services.db.reading() as conn:
        stored = [
            r[0]
            for r in conn.execute(
                "SELECT sealed FROM workspace_secrets UNION ALL SELECT secret FROM webhooks"
            )
        ]
    only_new = FernetSecretBox([fresh])
    assert sorted(only_new.open(s) for s in stored)[0] == "tok-1"
    assert "whsec_plain" in {only_new.open(s) for s in stored}
    with pytest.raises(ZhiwenError, match="cannot be opened"):
        FernetSecretBox([new_key()]).open(stored[0])
    with pytest.raises(ZhiwenError, match="not a Fernet key"):
        FernetSecretBox(["not-a-key"])


def test_privacy_rules_are_read_and_changed_field_by_field(api: Api) -> None:
    client, _, keys = api
    admin = _auth(keys, "acme")
    assert client.get("/v1/privacy", headers=admin).json()["redact_stored"] is False
    changed = client.patch("/v1/privacy", json={"redact_stored": True, "keep_events_days": 90}, headers=admin)
    assert changed.status_code == 200
    assert changed.json() | {"kinds": None} == {
        "redact_stored": True,
        "redact_ingested": False,
        "kinds": None,
        "keep_conversations_days": None,
        "keep_events_days": 90,
    }
    assert (
        client.patch("/v1/privacy", json={"keep_events_days": None}, headers=admin).json()["keep_events_days"]
        is None
    )
    assert client.patch("/v1/privacy", json={"kinds": ["passport"]}, headers=admin).status_code == 422
    assert client.patch("/v1/privacy", json={"retain": 3}, headers=admin).status_code == 422
    assert client.post("/v1/privacy/expire", headers=admin).json() == {
        "conversations": 0,
        "answers": 0,
        "events": 0,
        "predictions": 0,
    }
    assert client.get("/v1/privacy", headers=_auth(keys, "globex")).json()["redact_stored"] is False


def test_a_customer_is_exported_and_erased_through_the_api_by_an_admin_only(api: Api) -> None:
    client, services, keys = api
    admin = _auth(keys, "acme")
    acme = services.workspaces.get_workspace("acme").id
    turn = services.desk.say(acme, None, "我的手机是13800138000，订单怎么还没到")
    body = {"conversation_ids": [turn.conversation_id]}
    assert client.post("/v1/customers/export", json=body, headers=_auth(keys, "globex")).status_code == 404
    assert (
        client.post("/v1/customers/erase", json=body, headers=_auth(keys, "acme-client")).status_code == 403
    )
    exported = client.post("/v1/customers/export", json=body, headers=admin).json()
    assert exported["conversations"][0]["answers"][0]["question"].startswith("我的手机是13800138000")
    erased = client.post("/v1/customers/erase", json=body, headers=admin).json()
    assert erased["counts"]["conversations"] == 1 and erased["remaining"] == []
    assert client.post("/v1/customers/export", json=body, headers=admin).status_code == 404
    nobody = client.post("/v1/customers/erase", json={}, headers=admin)
    assert nobody.status_code == 400 and "name the customer" in nobody.json()["error"]["message"]
    entries = client.get("/v1/audit", params={"action": "customers"}, headers=admin).json()["entries"]
    assert [(e["action"].split("/")[-1], e["outcome"]) for e in entries] == [
        ("erase", 400),
        ("export", 404),
        ("erase", 200),
        ("export", 200),
        ("erase", 403),
    ]
    assert "13800138000" not in json.dumps(entries)  # the log says an erasure happened, not whose
