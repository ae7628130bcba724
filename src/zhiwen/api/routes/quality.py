"""Feedback, review, curated answers and golden sets. Feedback takes any key (end customers rate answers
through the client's key); everything else needs an admin key."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status
from fastapi.responses import PlainTextResponse

from zhiwen.api.deps import AdminKey, CustomerKey, ServicesDep, actor, read_upload
from zhiwen.api.routes.conversations import VisitorToken, visitor_conversation
from zhiwen.api.schemas import (
    SQL_INT_MAX,
    ApproveRequest,
    CuratedCreate,
    CuratedUpdate,
    DismissRequest,
    FeedbackRequest,
    GoldenCreate,
    other_content,
)
from zhiwen.services.golden import golden_item, golden_record
from zhiwen.services.golden_sets import MAX_GOLDEN_BYTES

router = APIRouter(prefix="/v1", tags=["feedback and review"])


@router.post("/feedback", status_code=status.HTTP_201_CREATED)
def give_feedback(
    body: FeedbackRequest,
    services: ServicesDep,
    key: CustomerKey,
    x_visitor_token: VisitorToken = None,
) -> dict[str, Any]:
    """Like or dislike an answer (the ``answer_id`` that ask returned), with a comment and a correction.
    Repeated dislikes in one conversation send it to people (desk setting ``failed_answers``)."""
    if key.role == "widget":  # only answers given in this visitor's own conversation
        given_in = services.feedback.answer_record(key.workspace_id, body.answer_id)["answer"]
        conversation = given_in.get("conversation_id") if isinstance(given_in, dict) else None
        visitor_conversation(services, key, str(conversation), x_visitor_token)
    given = services.feedback.give(
        key.workspace_id, body.answer_id, body.rating, body.comment, body.correct_answer, actor(key)
    )
    if body.rating == "dislike":
        services.desk.answer_disliked(key.workspace_id, body.answer_id)
    return dataclasses.asdict(given)


@router.get("/answers/{answer_id}")
def get_answer_record(answer_id: str, services: ServicesDep, key: AdminKey) -> dict[str, object]:
    """The recorded answer: question, retrieved chunks with scores, citations, confidence, release and
    feedback."""
    return services.feedback.answer_record(key.workspace_id, answer_id)


@router.get("/review")
def review_queue(
    services: ServicesDep, key: AdminKey, limit: Annotated[int, Query(ge=1, le=2000)] = 50
) -> list[dict[str, Any]]:
    """Disliked and handed-off questions not yet reviewed, similar ones grouped, most frequent first."""
    return services.feedback.queue(key.workspace_id, limit)


@router.post("/review/{answer_id}/approve", status_code=status.HTTP_201_CREATED)
def approve(answer_id: str, body: ApproveRequest, services: ServicesDep, key: AdminKey) -> dict[str, Any]:
    """Turn the group's correction into a curated answer (and optionally a golden question)."""
    curated = services.feedback.approve(
        key.workspace_id, answer_id, actor(key), body.answer, body.question, body.golden
    )
    return dataclasses.asdict(curated)


@router.post("/review/dismiss")
def dismiss(body: DismissRequest, services: ServicesDep, key: AdminKey) -> dict[str, int]:
    return {"closed": services.feedback.dismiss(key.workspace_id, body.answer_ids)}


@router.get("/curated", tags=["curated answers"])
def list_curated(services: ServicesDep, key: AdminKey) -> list[dict[str, Any]]:
    return [dataclasses.asdict(c) for c in services.curated.list_curated(key.workspace_id)]


@router.post("/curated", status_code=status.HTTP_201_CREATED, tags=["curated answers"])
def add_curated(body: CuratedCreate, services: ServicesDep, key: AdminKey) -> dict[str, Any]:
    """Matched before anything else once released; the working knowledge has it at once."""
    return dataclasses.asdict(services.curated.add(key.workspace_id, body.question, body.answer, actor(key)))


@router.patch("/curated/{curated_id}", tags=["curated answers"])
def update_curated(
    curated_id: str, body: CuratedUpdate, services: ServicesDep, key: AdminKey
) -> dict[str, Any]:
    updated = services.curated.update(
        key.workspace_id, curated_id, actor(key), body.question, body.answer, body.enabled
    )
    return dataclasses.asdict(updated)


@router.delete("/curated/{curated_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["curated answers"])
def delete_curated(curated_id: str, services: ServicesDep, key: AdminKey) -> Response:
    services.curated.delete(key.workspace_id, curated_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/golden-sets", tags=["golden sets"])
def list_golden(services: ServicesDep, key: AdminKey) -> list[dict[str, Any]]:
    return [dataclasses.asdict(v) for v in services.golden.versions(key.workspace_id)]


@router.post("/golden-sets/{name}", status_code=status.HTTP_201_CREATED, tags=["golden sets"])
def create_golden(name: str, body: GoldenCreate, services: ServicesDep, key: AdminKey) -> dict[str, Any]:
    """A new version of ``name`` from JSON items (to upload a JSONL or CSV file, use ``/import``)."""
    items = [golden_item(i.model_dump(exclude_none=True), f"items[{n}]") for n, i in enumerate(body.items)]
    return dataclasses.asdict(
        services.golden.save(key.workspace_id, name, items, body.note or "created by API")
    )


@router.get("/golden-sets/{name}", tags=["golden sets"])
def get_golden(
    name: str,
    services: ServicesDep,
    key: AdminKey,
    version: Annotated[int | None, Query(ge=1, le=SQL_INT_MAX)] = None,
) -> dict[str, Any]:
    """One version of a golden set (default: the newest) with its questions."""
    info, items = services.golden.items(key.workspace_id, name, version)
    return {**dataclasses.asdict(info), "items": [golden_record(i) for i in items]}


@router.post("/golden-sets/{name}/import", status_code=status.HTTP_201_CREATED, tags=["golden sets"])
def import_golden(
    name: str,
    services: ServicesDep,
    key: AdminKey,
    file: Annotated[UploadFile, File(description="JSONL or CSV golden file")],
    note: Annotated[str, Form(max_length=500)] = "",
) -> dict[str, Any]:
    data = read_upload(file, MAX_GOLDEN_BYTES)
    version = services.golden.import_bytes(
        key.workspace_id, name, file.filename or "golden.jsonl", data, note
    )
    return dataclasses.asdict(version)


@router.get(
    "/golden-sets/{name}/export",
    response_class=Response,
    responses=other_content("The golden set as JSON Lines or CSV", "application/x-ndjson", "text/csv"),
    tags=["golden sets"],
)
def export_golden(
    name: str,
    services: ServicesDep,
    key: AdminKey,
    version: Annotated[int | None, Query(ge=1, le=SQL_INT_MAX)] = None,
    format: Literal["jsonl", "csv"] = "jsonl",
) -> PlainTextResponse:
    text = services.golden.export(key.workspace_id, name, version, format)
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return PlainTextResponse(text, media_type=f"{media}; charset=utf-8")
