"""Search and ask (JSON or a server-sent event stream)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from sse_starlette.sse import EventSourceResponse

from zhiwen.api.deps import AdminKey, AnyKey, MetricsDep, ServicesDep
from zhiwen.api.observability import Metrics
from zhiwen.api.schemas import (
    MAX_PHOTO_BYTES,
    AnswerResponse,
    AskRequest,
    CitationOut,
    ExplainedHitOut,
    HitTestRequest,
    HitTestResponse,
    IntentOut,
    RelatedProductOut,
    SearchHit,
    SearchRequest,
    SearchResponse,
    VisitorAnswerOut,
    VisitorCitationOut,
)
from zhiwen.errors import InvalidInput, TooLarge
from zhiwen.services.answers.photos import PhotoQuestion, with_photo
from zhiwen.services.desk.desk import Turn
from zhiwen.services.knowledge.hit_test import hit_test as run_hit_test
from zhiwen.services.lifecycle.targets import working_id
from zhiwen.types import Answer, Hit
from zhiwen.wiring import Services

router = APIRouter(prefix="/v1", tags=["questions"])
STREAM_PIECE_CHARS = 12


def visitor_answer(answer: Answer, photo: PhotoQuestion | None = None) -> VisitorAnswerOut:
    """What a website visitor sees of an answer: confidences, modes and timings are for the company."""
    return VisitorAnswerOut(
        read_from_photo=None if photo is None else photo.read,
        product_in_photo=None if photo is None else photo.product,
        answer_id=answer.id,
        conversation_id=answer.conversation_id,
        question=answer.question,
        text=answer.text,
        language=answer.language,
        citations=[
            VisitorCitationOut(number=c.number, document_title=c.document_title, snippet=c.snippet)
            for c in answer.citations
        ],
        handoff=answer.handoff,
        related_products=[RelatedProductOut(**r.__dict__) for r in answer.related_products],
        understood_as=answer.understood_as,
    )


def answer_response(answer: Answer, photo: PhotoQuestion | None = None) -> AnswerResponse:
    return AnswerResponse(
        **visitor_answer(answer, photo).model_dump(exclude={"citations"}),
        citations=[CitationOut(**c.__dict__) for c in answer.citations],
        confidence=answer.confidence,
        mode=answer.mode,
        timings_ms=answer.timings_ms,
        release=answer.release,
        intent=None if answer.intent is None else IntentOut(**answer.intent.to_dict()),
    )


def search_hit(hit: Hit) -> SearchHit:
    """A hit with the working document and chunk ids, which stay stable across releases."""
    return SearchHit(
        score=hit.score,
        keyword_score=hit.keyword_score,
        vector_score=hit.vector_score,
        document_id=working_id(hit.chunk.document_id),
        source=hit.document_source,
        title=hit.document_title,
        chunk_id=working_id(hit.chunk.id),
        title_path=hit.chunk.title_path,
        kind=hit.chunk.kind,
        question=hit.chunk.question,
        text=hit.chunk.text,
    )


@router.post("/search", response_model=SearchResponse)
def search(body: SearchRequest, services: ServicesDep, key: AnyKey, metrics: MetricsDep) -> SearchResponse:
    """Hybrid (BM25 + multilingual embeddings) search; FAQ entries match on their question."""
    result = services.retriever.retrieve(
        key.workspace_id, body.query, k=body.k, mode=body.mode, document_ids=body.document_ids, tags=body.tags
    )
    metrics.observe_stages({f"search_{k}": v for k, v in result.timings_ms.items()})
    return SearchResponse(
        hits=[search_hit(h) for h in result.hits],
        timings_ms=result.timings_ms,
    )


@router.post("/hit-test", response_model=HitTestResponse)
def hit_test(body: HitTestRequest, services: ServicesDep, key: AdminKey) -> HitTestResponse:
    """What a customer asking ``question`` would get and why: the ranked passages with their keyword,
    vector and fused scores and the terms that matched, the passage the answer came from, and the answer
    with its confidence against the handoff threshold. Nothing is recorded."""
    tested = run_hit_test(services.answerer, key.workspace_id, body.question, body.target, body.use_llm)
    return HitTestResponse(
        answer=answer_response(tested.answer),
        draft_text=tested.draft_text,
        handoff_below=tested.handoff_below,
        release=tested.release,
        searched_as=tested.searched_as,
        hits=[
            ExplainedHitOut(
                **search_hit(e.hit).model_dump(), rank=e.rank, chosen=e.chosen, matched_terms=e.matched_terms
            )
            for e in tested.hits
        ],
    )


@router.post(
    "/ask",
    response_model=AnswerResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "With stream=true: events "
            "'delta' ({\"text\"}) then 'answer' (the full AnswerResponse).",
        }
    },
)
async def ask(
    body: AskRequest, services: ServicesDep, key: AnyKey, metrics: MetricsDep
) -> AnswerResponse | EventSourceResponse:
    """Answer in the question's language with numbered citations, or hand off (``handoff: true``): the
    conversation then waits for a person at the desk, and ``text`` tells the customer who replies when.
    A conversation a person holds refuses ``/v1/ask`` (409): use ``/v1/conversations/{id}/messages``.

    With ``stream: true``, an LLM's answer streams as its tokens come; an extractive answer, checked
    before any of it is shown, streams in pieces. The final ``answer`` event is what counts: an LLM
    reply that turns out to cite nothing ends as a handoff there."""
    if body.conversation_id:
        await run_in_threadpool(services.desk.bot_may_answer, key.workspace_id, body.conversation_id)
    question, read, kept_photo = body.question, None, None
    if body.image is not None:
        image = photo_bytes(body.image)
        limit = services.settings.max_question_chars
        read = await run_in_threadpool(seen_in_photo, services, key.workspace_id, body.question, image, limit)
        kept_photo = await run_in_threadpool(services.desk.clean_photo, key.workspace_id, image)
        question = read.question

    def recorded(answer: Answer) -> Turn:
        turn = services.desk.answered(key.workspace_id, answer)
        return services.desk.keep_photo(key.workspace_id, turn, kept_photo)

    if not body.stream:
        answer = await run_in_threadpool(
            services.answerer.answer,
            key.workspace_id,
            question,
            body.conversation_id,
            body.document_ids,
            body.tags,
            body.use_llm,
        )
        observe(metrics, answer)
        turn = await run_in_threadpool(recorded, answer)
        assert turn.answer is not None
        return answer_response(turn.answer, read)
    pieces = services.answerer.stream(
        key.workspace_id, question, body.conversation_id, body.document_ids, body.tags, body.use_llm
    )
    first = await run_in_threadpool(next, pieces)  # errors (bad conversation id…) before the stream opens

    def delta(text: str) -> dict[str, str]:
        return {"event": "delta", "data": json.dumps({"text": text}, ensure_ascii=False)}

    async def events() -> AsyncIterator[dict[str, str]]:
        piece: str | Answer | None = first
        streamed = False
        while isinstance(piece, str):
            streamed = True
            yield delta(piece)
            piece = await run_in_threadpool(next, pieces, None)
        assert isinstance(piece, Answer)
        observe(metrics, piece)
        piece = (await run_in_threadpool(recorded, piece)).answer
        assert piece is not None
        if not streamed:
            for start in range(0, len(piece.text), STREAM_PIECE_CHARS):
                yield delta(piece.text[start : start + STREAM_PIECE_CHARS])
        yield {"event": "answer", "data": answer_response(piece, read).model_dump_json()}

    return EventSourceResponse(events())


def seen_in_photo(
    services: Services, workspace_id: str, text: str, image: bytes, max_chars: int
) -> PhotoQuestion:
    """The message with what the photo shows: the recognised product (from the live recogniser, when it
    is sure enough) and the text read in it."""
    seen = services.vision.recognize(workspace_id, "photo", image)
    return with_photo(seen, text, max_chars)


def photo_bytes(encoded: str) -> bytes:
    """A photo sent as base64 (a data: URL's prefix is allowed), or a clear error."""
    if encoded.startswith("data:"):
        _header, comma, payload = encoded.partition(",")
        if not comma:
            raise InvalidInput("image: a data: URL needs a comma before the base64 (data:image/png;base64,…)")
    else:
        payload = encoded
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("image: not base64; send the photo's bytes in base64") from None
    if not data:
        raise InvalidInput("image: empty")
    if len(data) > MAX_PHOTO_BYTES:
        raise TooLarge(f"image: over {MAX_PHOTO_BYTES:,} bytes; send a smaller photo")
    return data


def observe(metrics: Metrics, answer: Answer) -> None:
    metrics.observe_stages({f"ask_{k}": v for k, v in answer.timings_ms.items()})
    metrics.answers.labels(mode=answer.mode).inc()
