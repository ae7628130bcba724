"""Schemathesis generates requests from the OpenAPI schema for every operation, with an admin, a client,
an agent and a widget key, against a workspace holding a document and a golden set: no request may get a
500, and every response must be one the schema documents (status code, content type, body)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from zhiwen.api import create_app
from zhiwen.config import Settings
from zhiwen.wiring import build_services

# Built at import: schemathesis reads the schema while pytest collects the tests.
_DATA = tempfile.TemporaryDirectory(prefix="zhiwen-schemathesis-")
_LIMITS = Settings(
    data_dir=Path(_DATA.name), rate_limit_per_minute=1_000_000, failed_auth_per_minute=1_000_000
)
_SERVICES = build_services(_LIMITS)
_WORKSPACE = _SERVICES.workspaces.create_workspace("acme")
KEYS = {role: _SERVICES.keys.issue(_WORKSPACE.id, role, role).plain for role in ("admin", "client", "agent")}  # type: ignore[arg-type]
SHOP = "https://shop.example.com"
KEYS["widget"] = _SERVICES.keys.issue(_WORKSPACE.id, "widget", "widget", [SHOP]).plain
_SERVICES.ingest.ingest_bytes(_WORKSPACE.id, "returns.md", b"# Returns\n\nRefunds take 3 working days.")
_SERVICES.golden.import_bytes(
    _WORKSPACE.id,
    "demo",
    "g.jsonl",
    b'{"question": "How long do refunds take?", "expected_answer": "3 days"}\n',
)
# Event streams never end by design (tests/api/test_desk_api.py reads them); generated webhooks would send
# to generated hosts (tests/unit/test_webhooks.py checks their validation).
_APP = create_app(_SERVICES, run_embedding_worker=False)
_APP.state.background.start()  # schemathesis does not run the app's lifespan; uploads need the worker
schema = (
    schemathesis.openapi.from_asgi("/openapi.json", _APP)
    .exclude(path_regex=r"/events$")
    .exclude(path="/v1/desk/webhooks", method="POST")
)
BOUNDED = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@schema.parametrize()
@BOUNDED
def test_every_answer_to_an_admin_key_is_documented_and_none_is_a_server_error(case: Any) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {KEYS['admin']}"}, checks=CHECKS)


@schema.parametrize()
@settings(BOUNDED, max_examples=4)
def test_every_answer_to_a_client_key_is_documented_and_none_is_a_server_error(case: Any) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {KEYS['client']}"}, checks=CHECKS)


@schema.parametrize()
@settings(BOUNDED, max_examples=3)
def test_every_answer_to_an_agent_key_is_documented_and_none_is_a_server_error(case: Any) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {KEYS['agent']}"}, checks=CHECKS)


@schema.parametrize()
@settings(BOUNDED, max_examples=3)
def test_every_answer_to_a_widget_key_is_documented_and_none_is_a_server_error(case: Any) -> None:
    headers = {"Authorization": f"Bearer {KEYS['widget']}", "Origin": SHOP}
    case.call_and_validate(headers=headers, checks=CHECKS)
