"""Trust: the audit log (list, export, verify), the workspace's sealed secrets for its tools, its
privacy rules, and a customer's data exported or erased. Admin keys only."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import StreamingResponse

from zhiwen.api.deps import AdminKey, ServicesDep
from zhiwen.api.schemas import (
    SQL_INT_MAX,
    AuditEntryOut,
    AuditPageOut,
    AuditVerificationOut,
    CustomerRequest,
    ErasureOut,
    ExpiredOut,
    PrivacySettingsOut,
    PrivacySettingsPatch,
    SecretOut,
    SecretPut,
    other_content,
)
from zhiwen.services.trust.audit import export_lines
from zhiwen.services.trust.customer_data import CustomerRef
from zhiwen.types import AuditQuery

router = APIRouter(prefix="/v1", tags=["trust"])


@router.get("/audit", response_model=AuditPageOut)
def audit_entries(
    services: ServicesDep,
    key: AdminKey,
    actor: Annotated[str | None, Query(max_length=300, description="e.g. user:ann@example.com")] = None,
    action: Annotated[str | None, Query(max_length=200, description="A part of it: release, DELETE")] = None,
    since: Annotated[str | None, Query(max_length=40, description="ISO 8601, inclusive")] = None,
    until: Annotated[str | None, Query(max_length=40, description="ISO 8601, exclusive")] = None,
    before: Annotated[int | None, Query(ge=1, le=SQL_INT_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPageOut:
    """The workspace's audit log, newest first: every change made by a person, a key or the command
    line, with who, what, when, from where and the outcome (HTTP status or exit code)."""
    entries = services.audit.entries(key.workspace_id, AuditQuery(actor, action, since, until, before, limit))
    return AuditPageOut(
        entries=[AuditEntryOut(**dataclasses.asdict(e)) for e in entries],
        next_before=entries[-1].seq if len(entries) == limit else None,
    )


@router.get(
    "/audit/export",
    response_class=Response,
    responses=other_content("The whole log, oldest first", "application/x-ndjson", "text/csv"),
)
def export_audit(
    services: ServicesDep, key: AdminKey, format: Literal["jsonl", "csv"] = "jsonl"
) -> StreamingResponse:
    """The whole audit log of the workspace as JSON Lines or CSV, oldest first, with each entry's hash
    and the previous one's, so the copy can be verified on its own."""

    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return StreamingResponse(
        export_lines(services.audit.export(key.workspace_id), format),
        media_type=f"{media}; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="zhiwen-audit.{format}"'},
    )


@router.get("/audit/verify", response_model=AuditVerificationOut)
def verify_audit(services: ServicesDep, key: AdminKey) -> AuditVerificationOut:
    """Recompute the hash chain: ``ok`` is false, with the first entry that breaks it, when an entry
    was changed, removed or inserted after it was written."""
    return AuditVerificationOut(**dataclasses.asdict(services.audit.verify(key.workspace_id)))


@router.get("/secrets", response_model=list[SecretOut])
def list_secrets(services: ServicesDep, key: AdminKey) -> list[SecretOut]:
    """The names of the workspace's secrets (what tools send as ``{secret:NAME}``), never their values."""
    return [SecretOut(name=n, updated_at=at) for n, at in services.secrets.names(key.workspace_id)]


@router.put("/secrets/{name}", status_code=status.HTTP_204_NO_CONTENT)
def put_secret(name: str, body: SecretPut, services: ServicesDep, key: AdminKey) -> Response:
    """Set a secret for the workspace's tools. It is stored sealed with the master key and never shown
    again; a tool's ``{secret:NAME}`` uses it before any server-wide ``ZHIWEN_SECRET_NAME``."""
    services.secrets.put(key.workspace_id, name, body.value)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/secrets/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_secret(name: str, services: ServicesDep, key: AdminKey) -> Response:
    """Remove a secret; tools that use it fail (and hand off) until it is set again."""
    services.secrets.delete(key.workspace_id, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/privacy", response_model=PrivacySettingsOut)
def get_privacy(services: ServicesDep, key: AdminKey) -> PrivacySettingsOut:
    """What personal data is redacted where, and how long customers' data is kept."""
    return PrivacySettingsOut(**services.privacy.settings(key.workspace_id).to_dict())


@router.patch("/privacy", response_model=PrivacySettingsOut)
def patch_privacy(body: PrivacySettingsPatch, services: ServicesDep, key: AdminKey) -> PrivacySettingsOut:
    """Change some privacy rules (send only those). Redaction applies to what is stored or ingested
    from now on; customers' words sent to an LLM or a webhook are always redacted. A retention of null
    keeps data until it is erased."""
    changes = body.model_dump(exclude_unset=True)
    return PrivacySettingsOut(**services.privacy.update(key.workspace_id, changes).to_dict())


@router.post("/privacy/expire", response_model=ExpiredOut)
def expire_now(services: ServicesDep, key: AdminKey) -> ExpiredOut:
    """Apply the retention rules now (the server also does it every hour); how much was deleted."""
    return ExpiredOut(**services.customers.expire(key.workspace_id))


def _customer(body: CustomerRequest) -> CustomerRef:
    return CustomerRef(tuple(body.conversation_ids), body.visitor_token, body.contact, body.user_id)


@router.post("/customers/export", response_model=dict[str, Any])
def export_customer(body: CustomerRequest, services: ServicesDep, key: AdminKey) -> dict[str, Any]:
    """Everything held about one customer, as one JSON document: their conversations (messages,
    answers given, feedback, rating), reviews and behaviour events. Name them by conversation ids, the
    widget's visitor token, the contact they left or your user id for them."""
    return services.customers.export(key.workspace_id, _customer(body))


@router.post("/customers/erase", response_model=ErasureOut)
def erase_customer(body: CustomerRequest, services: ServicesDep, key: AdminKey) -> ErasureOut:
    """Erase one customer everywhere: conversations, answers, feedback, ratings, reviews, events, pending
    webhook deliveries, curated answers made from their questions (in the working knowledge and in
    every release snapshot), and their words in golden sets and evaluation results. Then every table is
    searched for what was erased: ``remaining`` lists any place that still holds it (empty when done).
    Cannot be undone; the audit log records that an erasure happened, not whom it concerned."""
    erasure = services.customers.erase(key.workspace_id, _customer(body))
    return ErasureOut(counts=erasure.counts, remaining=erasure.remaining)
