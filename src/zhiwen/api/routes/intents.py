"""Intents (admin key): definitions, import and export, trying a message, and intent model versions (train
as a job, gate, promote, rollback)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, Response, UploadFile, status

from zhiwen import tasks
from zhiwen.api.deps import AdminKey, ServicesDep, actor, read_upload
from zhiwen.api.routes.documents import job_out
from zhiwen.api.routes.model_routes import add_model_routes
from zhiwen.api.schemas import (
    IntentClassifyRequest,
    IntentClassifyResponse,
    IntentDefinition,
    IntentOut,
    IntentsIn,
    IntentsOut,
    IntentTrainRequest,
    JobOut,
)
from zhiwen.errors import InvalidInput
from zhiwen.services.intents.definitions import Intent, dump_csv, dump_yaml, parse_intent, parse_intents
from zhiwen.wiring import Services

router = APIRouter(prefix="/v1/intents", tags=["intents"])
# Routes with a fixed path come before /{name}, which would otherwise take "gate" for an intent's name.
MAX_IMPORT_BYTES = 20_000_000


def _out(services: Services, workspace_id: str, intents: list[Intent]) -> IntentsOut:
    return IntentsOut(
        intents=[IntentDefinition(**i.to_dict()) for i in intents],
        live=services.intents.family.live_version(workspace_id),
    )


@router.get("", response_model=IntentsOut)
def list_intents(services: ServicesDep, key: AdminKey) -> IntentsOut:
    """The workspace's intents (the built-in ones until it saves its own) and the live model version."""
    return _out(services, key.workspace_id, services.intents.definitions(key.workspace_id))


@router.put("", response_model=IntentsOut)
def replace_intents(body: IntentsIn, services: ServicesDep, key: AdminKey) -> IntentsOut:
    """Replace every intent. Train and promote a model for the change to take effect."""
    intents = parse_intents([i.model_dump(exclude_none=True) for i in body.intents])
    return _out(services, key.workspace_id, services.intents.replace(key.workspace_id, intents))


@router.post("/import", response_model=IntentsOut)
def import_intents(
    services: ServicesDep,
    key: AdminKey,
    file: Annotated[
        UploadFile, File(description="YAML (the whole definition) or CSV (intent,example[,action])")
    ],
    merge: Annotated[bool, Query(description="Keep intents the file does not name.")] = False,
) -> IntentsOut:
    """Intents from a file; nothing changes unless the whole file is valid (errors name the intent and
    field)."""
    data = read_upload(file, MAX_IMPORT_BYTES)
    imported = services.intents.import_bytes(key.workspace_id, file.filename or "intents.yaml", data, merge)
    return _out(services, key.workspace_id, imported)


@router.get(
    "/export",
    response_class=Response,
    responses={
        200: {
            "description": "The intents as YAML (an object with the list `intents`) or CSV.",
            "content": {
                "application/yaml": {"schema": {"type": "object", "required": ["intents"]}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
def export_intents(services: ServicesDep, key: AdminKey, format: Literal["yaml", "csv"] = "yaml") -> Response:
    """The intents as YAML (actions included) or CSV (examples only), to edit and import again."""
    intents = services.intents.definitions(key.workspace_id)
    if format == "csv":
        return Response(dump_csv(intents), media_type="text/csv; charset=utf-8")
    return Response(dump_yaml(intents), media_type="application/yaml; charset=utf-8")


@router.post("/classify", response_model=IntentClassifyResponse)
def classify(body: IntentClassifyRequest, services: ServicesDep, key: AdminKey) -> IntentClassifyResponse:
    """What the live intent model makes of a message (nothing is answered or recorded)."""
    classified = services.intents.classify(key.workspace_id, body.message)
    if classified is None:
        return IntentClassifyResponse(match=None, ranked=[], threshold=None)
    return IntentClassifyResponse(
        match=IntentOut(**classified.match.to_dict()),
        ranked=classified.ranked,
        threshold=classified.threshold,
    )


@router.post("/models", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
def train(body: IntentTrainRequest, services: ServicesDep, key: AdminKey) -> JobOut:
    """Train an intent model on the current intents as a job; poll ``/v1/jobs/{id}``: its result names the
    version and its held-out figures. With ``promote``, the job also promotes it if it passes the gate."""
    params = {"actor": actor(key), "promote": body.promote}
    return job_out(tasks.start(services, key.workspace_id, "intent-train", params))


add_model_routes(router, "", lambda services, *_: services.intents, "intent model")


@router.put("/{name}", response_model=IntentsOut)
def put_intent(name: str, body: IntentDefinition, services: ServicesDep, key: AdminKey) -> IntentsOut:
    """Add an intent or replace the one with this name (the body's name must match)."""
    intent = parse_intent(body.model_dump(exclude_none=True))
    if intent.name != name:
        raise InvalidInput(f"the path names {name!r} but the body names {intent.name!r}")
    services.intents.put(key.workspace_id, intent)
    return _out(services, key.workspace_id, services.intents.definitions(key.workspace_id))


@router.delete("/{name}", response_model=IntentsOut)
def delete_intent(name: str, services: ServicesDep, key: AdminKey) -> IntentsOut:
    """Remove an intent; the next trained model no longer knows it."""
    services.intents.remove(key.workspace_id, name)
    return _out(services, key.workspace_id, services.intents.definitions(key.workspace_id))
