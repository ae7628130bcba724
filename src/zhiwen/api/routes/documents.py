"""Upload, list, show and delete documents; poll ingestion jobs."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, cast

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status

from zhiwen.api.deps import AdminKey, AnyKey, BackgroundDep, ServicesDep
from zhiwen.api.schemas import (
    SQL_INT_MAX,
    ChunkOut,
    DocumentList,
    DocumentOut,
    IngestFileResult,
    IngestResponse,
    JobOut,
)
from zhiwen.errors import InvalidInput
from zhiwen.text.tokenize import indexed_text, keyword_tokens
from zhiwen.types import Document, Job

router = APIRouter(prefix="/v1", tags=["documents"])
MAX_FILES = 100


def job_out(job: Job) -> JobOut:
    """A job as every route that starts or shows one returns it."""
    return JobOut(**{k: v for k, v in dataclasses.asdict(job).items() if k != "workspace_id"})


def _document_out(d: Document) -> DocumentOut:
    return DocumentOut(
        id=d.id,
        source=d.source,
        title=d.title,
        tags=list(d.tags),
        chunk_count=d.chunk_count,
        waiting_chunks=d.waiting_chunks,
        characters=d.characters,
        created_at=d.created_at,
        updated_at=d.updated_at,
    )


def _file_name(upload: UploadFile) -> str:
    """The document's source: a file from a folder keeps its path in the folder (two README.md in two
    folders are two documents); drive letters, roots and ``..`` are dropped."""
    parts = (upload.filename or "").replace("\\", "/").split("/")
    name = "/".join(p for p in parts if p not in ("", ".", "..") and not p.endswith(":"))
    if not name:
        raise InvalidInput("every uploaded file needs a file name")
    return name


@router.post(
    "/documents",
    response_model=IngestResponse,
    responses={
        202: {
            "model": IngestResponse,
            "description": "Accepted as a job (a large upload, or a small one unfinished after the wait);"
            " poll /v1/jobs/{id}",
        }
    },
    status_code=status.HTTP_200_OK,
)
def upload_documents(
    services: ServicesDep,
    background: BackgroundDep,
    key: AdminKey,
    response: Response,
    files: Annotated[
        list[UploadFile], File(description="Markdown, text, HTML, PDF, DOCX, CSV/XLSX FAQ, JSONL")
    ],
    tags: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI reads the default, never mutates it
) -> IngestResponse:
    """Ingest files. The background worker does the work, so answers keep their pace meanwhile; a small
    upload (256 kB by default) is waited for and its results returned, a larger one is answered at once
    with 202 and a job to poll."""
    if len(files) > MAX_FILES:
        raise InvalidInput(f"at most {MAX_FILES} files per request")
    uploads = [(_file_name(upload), upload.file) for upload in files]
    job = services.ingest_jobs.start(key.workspace_id, uploads, tags)
    background.notify()
    settings = services.settings
    if sum(upload.size or 0 for upload in files) <= settings.sync_upload_bytes:
        job = services.ingest_jobs.wait(job, settings.sync_upload_wait_seconds)
        if job.status == "succeeded" and job.result is not None:
            results = cast(list[dict[str, Any]], job.result["files"])
            return IngestResponse(files=[IngestFileResult(**r) for r in results])
    response.status_code = status.HTTP_202_ACCEPTED
    return IngestResponse(files=[], job_id=job.id)


@router.get("/documents", response_model=DocumentList)
def list_documents(
    services: ServicesDep,
    key: AnyKey,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=SQL_INT_MAX)] = 0,
) -> DocumentList:
    """The workspace's documents by source, with their chunks, embedding status and size."""
    docs = services.documents.list_documents(key.workspace_id, limit, offset)
    total = services.documents.count_documents(key.workspace_id)
    return DocumentList(documents=[_document_out(d) for d in docs], total=total)


@router.get("/documents/{document_id}", response_model=DocumentOut)
def get_document(services: ServicesDep, key: AnyKey, document_id: str) -> DocumentOut:
    """One document, with its chunks, embedding status and size."""
    return _document_out(services.documents.get_document(key.workspace_id, document_id))


@router.get("/documents/{document_id}/chunks", response_model=list[ChunkOut])
def document_chunks(services: ServicesDep, key: AnyKey, document_id: str) -> list[ChunkOut]:
    """The document as the index sees it: its chunks in order, each with the terms keyword search
    matches it on."""
    services.documents.get_document(key.workspace_id, document_id)  # 404 for another workspace's id
    return [
        ChunkOut(
            id=c.id,
            position=c.position,
            kind=c.kind,
            title_path=c.title_path,
            question=c.question,
            text=c.text,
            terms=list(dict.fromkeys(keyword_tokens(indexed_text(c)))),
        )
        for c in services.documents.document_chunks(key.workspace_id, document_id)
    ]


@router.delete("/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_document(services: ServicesDep, key: AdminKey, document_id: str) -> Response:
    """Delete the document, its chunks, vectors and keyword terms (releases keep their frozen copies)."""
    services.ingest.delete_document(key.workspace_id, document_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/jobs/{job_id}", response_model=JobOut, tags=["jobs"])
def get_job(services: ServicesDep, key: AnyKey, job_id: str) -> JobOut:
    """A job's status, progress (0 to 1), result or error: uploads, tuning, training."""
    job = services.jobs.get_job(key.workspace_id, job_id)
    return job_out(job)
