"""Feedback, review, curated answers and golden sets. Feedback takes any key (end customers rate answers
through the client's key); everything else needs an admin key."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status
from fastapi.responses import PlainTextResponse

from zhiwen.api.deps import AdminKey, CustomerKey, ServicesDep, actor, read_upload
from zhiwen.api.routes.conversations import VisitorToken, visitor_conversation
from zhiwen.api.schemas import (
    SQL_INT_MAX,
    ApproveRequest,
    CuratedCreate,
    CuratedOut,
    CuratedUpdate,
    DismissedOut,
    DismissRequest,
    FeedbackOut,
    FeedbackRequest,
    GoldenCreate,
    GoldenItemOut,
    GoldenSetOut,
    GoldenSetVersionOut,
    ReviewGroupOut,
    other_content,
)
from zhiwen.services.lifecycle.golden import golden_item, golden_record
from zhiwen.services.lifecycle.golden_sets import MAX_GOLDEN_BYTES

router = APIRouter(prefix="/v1", tags=["feedback and review"])


@router.post("/feedback", status_code=status.HTTP_201_CREATED, response_model=FeedbackOut)
def give_feedback(
    body: FeedbackRequest,
    services: ServicesDep,
    key: CustomerKey,
    x_visitor_token: VisitorToken = None,
) -> FeedbackOut:
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
    return FeedbackOut(**dataclasses.asdict(given))


@router.get("/answers/{answer_id}")
def get_answer_record(answer_id: str, services: ServicesDep, key: AdminKey) -> dict[str, object]:
    """The recorded answer: question, retrieved chunks with scores, citations, confidence, release and
    feedback."""
    return services.feedback.answer_record(key.workspace_id, answer_id)


@router.get("/review", response_model=list[ReviewGroupOut])
def review_queue(
    services: ServicesDep, key: AdminKey, limit: Annotated[int, Query(ge=1, le=2000)] = 50
) -> list[ReviewGroupOut]:
    """Disliked and handed-off questions not yet reviewed, similar ones grouped, most frequent first."""
    return [ReviewGroupOut(**g) for g in services.feedback.queue(key.workspace_id, limit)]


@router.post("/review/{answer_id}/approve", status_code=status.HTTP_201_CREATED, response_model=CuratedOut)
def approve(answer_id: str, body: ApproveRequest, services: ServicesDep, key: AdminKey) -> CuratedOut:
    """Turn the group's correction into a curated answer (and optionally a golden question)."""
    curated = services.feedback.approve(
        key.workspace_id, answer_id, actor(key), body.answer, body.question, body.golden
    )
    return CuratedOut(**dataclasses.asdict(curated))


@router.post("/review/dismiss", response_model=DismissedOut)
def dismiss(body: DismissRequest, services: ServicesDep, key: AdminKey) -> DismissedOut:
    """Close review groups without a curated answer."""
    return DismissedOut(closed=services.feedback.dismiss(key.workspace_id, body.answer_ids))


@router.get("/curated", tags=["curated answers"], response_model=list[CuratedOut])
def list_curated(services: ServicesDep, key: AdminKey) -> list[CuratedOut]:
    """The curated answers, enabled and disabled."""
    return [CuratedOut(**dataclasses.asdict(c)) for c in services.curated.list_curated(key.workspace_id)]


@router.post(
    "/curated", status_code=status.HTTP_201_CREATED, tags=["curated answers"], response_model=CuratedOut
)
def add_curated(body: CuratedCreate, services: ServicesDep, key: AdminKey) -> CuratedOut:
    """Matched before anything else once released; the working knowledge has it at once."""
    return CuratedOut(
        **dataclasses.asdict(services.curated.add(key.workspace_id, body.question, body.answer, actor(key)))
    )


@router.patch("/curated/{curated_id}", tags=["curated answers"], response_model=CuratedOut)
def update_curated(curated_id: str, body: CuratedUpdate, services: ServicesDep, key: AdminKey) -> CuratedOut:
    """Change a curated answer's question or text, or enable or disable it."""
    updated = services.curated.update(
        key.workspace_id, curated_id, actor(key), body.question, body.answer, body.enabled
    )
    return CuratedOut(**dataclasses.asdict(updated))


@router.delete("/curated/{curated_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["curated answers"])
def delete_curated(curated_id: str, services: ServicesDep, key: AdminKey) -> Response:
    """Delete a curated answer (releases keep their frozen copies)."""
    services.curated.delete(key.workspace_id, curated_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/golden-sets", tags=["golden sets"], response_model=list[GoldenSetVersionOut])
def list_golden(services: ServicesDep, key: AdminKey) -> list[GoldenSetVersionOut]:
    """Every version of every golden set."""
    return [GoldenSetVersionOut(**dataclasses.asdict(v)) for v in services.golden.versions(key.workspace_id)]


@router.post(
    "/golden-sets/{name}",
    status_code=status.HTTP_201_CREATED,
    tags=["golden sets"],
    response_model=GoldenSetVersionOut,
)
def create_golden(name: str, body: GoldenCreate, services: ServicesDep, key: AdminKey) -> GoldenSetVersionOut:
    """A new version of ``name`` from JSON items (to upload a JSONL or CSV file, use ``/import``)."""
    items = [golden_item(i.model_dump(exclude_none=True), f"items[{n}]") for n, i in enumerate(body.items)]
    saved = services.golden.save(key.workspace_id, name, items, body.note or "created by API")
    return GoldenSetVersionOut(**dataclasses.asdict(saved))


@router.get("/golden-sets/{name}", tags=["golden sets"], response_model=GoldenSetOut)
def get_golden(
    name: str,
    services: ServicesDep,
    key: AdminKey,
    version: Annotated[int | None, Query(ge=1, le=SQL_INT_MAX)] = None,
) -> GoldenSetOut:
    """One version of a golden set (default: the newest) with its questions."""
    info, items = services.golden.items(key.workspace_id, name, version)
    return GoldenSetOut(**dataclasses.asdict(info), items=[GoldenItemOut(**golden_record(i)) for i in items])


@router.post(
    "/golden-sets/{name}/import",
    status_code=status.HTTP_201_CREATED,
    tags=["golden sets"],
    response_model=GoldenSetVersionOut,
)
def import_golden(
    name: str,
    services: ServicesDep,
    key: AdminKey,
    file: Annotated[UploadFile, File(description="JSONL or CSV golden file")],
    note: Annotated[str, Form(max_length=500)] = "",
) -> GoldenSetVersionOut:
    """A new version of the golden set from a JSONL or CSV file (UTF-8 or GBK)."""
    data = read_upload(file, MAX_GOLDEN_BYTES)
    version = services.golden.import_bytes(
        key.workspace_id, name, file.filename or "golden.jsonl", data, note
    )
    return GoldenSetVersionOut(**dataclasses.asdict(version))


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
    """A golden set version as JSON Lines or CSV."""
    text = services.golden.export(key.workspace_id, name, version, format)
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return PlainTextResponse(text, media_type=f"{media}; charset=utf-8")
