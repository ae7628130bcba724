"""Request and response bodies, one per purpose."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


class SearchRequest(Strict):
    query: str = Field(min_length=1, max_length=2000)
    k: int = Field(5, ge=1, le=100)
    mode: Literal["hybrid", "keyword", "vector"] = "hybrid"
    document_ids: list[str] | None = Field(None, max_length=1000)
    tags: list[str] | None = Field(None, max_length=100)


class SearchHit(BaseModel):
    score: float
    keyword_score: float | None
    vector_score: float | None
    document_id: str
    source: str
    title: str
    chunk_id: str
    title_path: str
    kind: Literal["passage", "faq"]
    question: str | None
    text: str


class SearchResponse(BaseModel):
    hits: list[SearchHit]
    timings_ms: dict[str, float]


class AskRequest(Strict):
    question: str = Field(min_length=1, max_length=20_000)
    conversation_id: str | None = Field(None, max_length=64)
    stream: bool = False
    use_llm: bool = True
    document_ids: list[str] | None = Field(None, max_length=1000)
    tags: list[str] | None = Field(None, max_length=100)


class CitationOut(BaseModel):
    number: int
    document_id: str
    document_title: str
    source: str
    chunk_id: str
    snippet: str


class AnswerResponse(BaseModel):
    answer_id: str
    conversation_id: str | None
    question: str
    text: str
    language: Literal["zh", "en"]
    citations: list[CitationOut]
    confidence: float = Field(ge=0, le=1)
    handoff: bool
    mode: Literal["faq", "extractive", "llm", "handoff"]
    timings_ms: dict[str, float]


class IngestFileResult(BaseModel):
    source: str
    status: Literal["added", "updated", "unchanged", "failed"]
    document_id: str | None
    chunks: int
    duplicates: int
    near_duplicates: int
    warnings: list[str]
    error_code: str | None
    error: str | None


class IngestResponse(BaseModel):
    files: list[IngestFileResult]
    job_id: str | None = None


class DocumentOut(BaseModel):
    id: str
    source: str
    title: str
    tags: list[str]
    chunk_count: int
    created_at: str
    updated_at: str


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    total: int


class JobOut(BaseModel):
    id: str
    kind: str
    status: Literal["queued", "running", "succeeded", "failed"]
    progress: float
    result: dict[str, object] | None
    error: str | None
    created_at: str
    updated_at: str
