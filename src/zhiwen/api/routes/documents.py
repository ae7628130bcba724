"""Upload, list, show and delete documents; poll ingestion jobs."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status

from zhiwen.api.deps import AdminKey, AnyKey, ServicesDep
from zhiwen.api.schemas import (
    SQL_INT_MAX,
    DocumentList,
    DocumentOut,
    IngestFileResult,
    IngestResponse,
    JobOut,
)
from zhiwen.errors import InvalidInput, TooLarge
from zhiwen.services.ingest import IngestResult
from zhiwen.types import Document

router = APIRouter(prefix="/v1", tags=["documents"])
MAX_FILES = 100


def _document_out(d: Document) -> DocumentOut:
    return DocumentOut(
        id=d.id,
        source=d.source,
        title=d.title,
        tags=list(d.tags),
        chunk_count=d.chunk_count,
        created_at=d.created_at,
        updated_at=d.updated_at,
    )


def _file_result(r: IngestResult) -> IngestFileResult:
    return IngestFileResult(**dataclasses.asdict(r))


def _read_uploads(files: list[UploadFile], max_bytes: int) -> list[tuple[str, bytes]]:
    uploads = []
    for upload in files:
        name = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
        if not name:
            raise InvalidInput("every uploaded file needs a file name")
        data = upload.file.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise TooLarge(f"{name} is over the {max_bytes:,}-byte upload limit")
        uploads.append((name, data))
    return uploads


@router.post(
    "/documents",
    response_model=IngestResponse,
    responses={
        202: {"model": IngestResponse, "description": "Large upload accepted as a job; poll /v1/jobs/{id}"}
    },
    status_code=status.HTTP_200_OK,
)
def upload_documents(
    services: ServicesDep,
    key: AdminKey,
    response: Response,
    files: Annotated[
        list[UploadFile], File(description="Markdown, text, HTML, PDF, DOCX, CSV/XLSX FAQ, JSONL")
    ],
    tags: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI reads the default, never mutates it
) -> IngestResponse:
    """Ingest files. Small uploads are processed before the reply; large ones become a background job."""
    if len(files) > MAX_FILES:
        raise InvalidInput(f"at most {MAX_FILES} files per request")
    uploads = _read_uploads(files, services.settings.max_upload_bytes)
    ingest = services.ingest
    if sum(len(data) for _, data in uploads) <= services.settings.sync_upload_bytes:
        results = [ingest.ingest_bytes(key.workspace_id, name, data, tags) for name, data in uploads]
        return IngestResponse(files=[_file_result(r) for r in results])

    job = services.ingest_jobs.start(key.workspace_id, uploads, tags)
    response.status_code = status.HTTP_202_ACCEPTED
    return IngestResponse(files=[], job_id=job.id)


@router.get("/documents", response_model=DocumentList)
def list_documents(
    services: ServicesDep,
    key: AnyKey,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=SQL_INT_MAX)] = 0,
) -> DocumentList:
    docs = services.documents.list_documents(key.workspace_id, limit, offset)
    total = services.documents.count_documents(key.workspace_id)
    return DocumentList(documents=[_document_out(d) for d in docs], total=total)


@router.get("/documents/{document_id}", response_model=DocumentOut)
def get_document(services: ServicesDep, key: AnyKey, document_id: str) -> DocumentOut:
    return _document_out(services.documents.get_document(key.workspace_id, document_id))


@router.delete("/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_document(services: ServicesDep, key: AdminKey, document_id: str) -> Response:
    services.ingest.delete_document(key.workspace_id, document_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/jobs/{job_id}", response_model=JobOut, tags=["jobs"])
def get_job(services: ServicesDep, key: AnyKey, job_id: str) -> JobOut:
    job = services.jobs.get_job(key.workspace_id, job_id)
    return JobOut(**{k: v for k, v in dataclasses.asdict(job).items() if k != "workspace_id"})
