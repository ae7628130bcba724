"""An OpenAI-compatible face: chat front ends and SDKs built for OpenAI talk to a workspace's assistant.

`POST /v1/chat/completions` answers the last user message through the whole pipeline (curated answers,
knowledge, confidence, handoff to the desk), streaming or not. Earlier user messages are read as the
conversation, so "那它多少钱？" is understood after a product question. System and assistant messages are
ignored: Zhiwen answers from the workspace's knowledge, not from instructions a client sends. Citations stay
as [n] markers in the text and come in full in the extra `citations` field; `zhiwen.handoff` says a person
takes over. `GET /v1/models` lists the one model a key can use.

A stream starts once the answer is checked, also with an LLM: a reply that cites nothing becomes a handoff,
and an OpenAI client shows every delta it got, so it must never get the reply first (`/v1/ask` streams the
LLM's tokens live and says so in its final event instead).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from sse_starlette.sse import EventSourceResponse

from zhiwen.api.deps import AnyKey, MetricsDep, ServicesDep
from zhiwen.api.observability import Metrics
from zhiwen.api.routes.ask import STREAM_PIECE_CHARS, observe
from zhiwen.api.schemas import (
    ChatAssistantMessage,
    ChatChoice,
    ChatCompletion,
    ChatCompletionRequest,
    ChatMessage,
    CitationOut,
    ModelCard,
    ModelList,
    ZhiwenAnswerInfo,
)
from zhiwen.errors import InvalidInput, NotFound
from zhiwen.services.answers.followup import Understood
from zhiwen.services.answers.service import HISTORY_TURNS
from zhiwen.types import Answer, ApiKey
from zhiwen.wiring import Services

router = APIRouter(prefix="/v1", tags=["openai-compatible"])
MODEL = "zhiwen"  # a key belongs to one workspace, so its assistant needs no other name


@router.get("/models", response_model=ModelList)
def models(services: ServicesDep, key: AnyKey) -> ModelList:
    """The workspace's assistant, as the one model this key can ask."""
    workspace = services.workspaces.get_workspace(key.workspace_id)
    return ModelList(data=[ModelCard(id=MODEL, created=_seconds(workspace.created_at))])


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={200: {"content": {"text/event-stream": {}}, "description": "With stream=true: chunks."}},
)
async def chat_completions(
    body: ChatCompletionRequest, services: ServicesDep, key: AnyKey, metrics: MetricsDep
) -> ChatCompletion | EventSourceResponse:
    """Answer the last user message like `/v1/ask`, in OpenAI's chat-completions shape."""
    if body.model != MODEL:
        raise NotFound(f"model {body.model!r} does not exist; this key's model is {MODEL!r} (GET /v1/models)")
    question, earlier = _user_turns(body.messages, services.settings.max_question_chars)
    if body.conversation_id:
        await run_in_threadpool(services.desk.bot_may_answer, key.workspace_id, body.conversation_id)
        previous = None
    else:
        previous = await run_in_threadpool(_understand, services, key, earlier)
    created = int(datetime.now().timestamp())
    answer = await run_in_threadpool(
        lambda: services.answerer.answer(key.workspace_id, question, body.conversation_id, previous=previous)
    )
    answer = await run_in_threadpool(_recorded, services, key, metrics, answer)
    if not body.stream:
        return _completion(answer, created)

    def chunk(delta: dict[str, str], final: bool = False) -> dict[str, str]:
        data: dict[str, Any] = {
            "id": f"chatcmpl-{answer.id}",
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": "stop" if final else None}],
        }
        if final:
            data.update(citations=_citations(answer), zhiwen=_info(answer).model_dump())
        return {"data": json.dumps(data, ensure_ascii=False, default=str)}

    async def events() -> AsyncIterator[dict[str, str]]:
        yield chunk({"role": "assistant", "content": ""})
        for start in range(0, len(answer.text), STREAM_PIECE_CHARS):
            yield chunk({"content": answer.text[start : start + STREAM_PIECE_CHARS]})
        yield chunk({}, final=True)
        yield {"data": "[DONE]"}

    return EventSourceResponse(events())


def _user_turns(messages: list[ChatMessage], max_chars: int) -> tuple[str, list[str]]:
    """The last user message's text, and the user messages before it (the conversation so far, each cut
    to the question limit: only the last one is answered, and its length is checked like /v1/ask's)."""
    texts = [_text(m) for m in messages if m.role == "user"]
    if not texts or not texts[-1].strip():
        raise InvalidInput("messages need a last user message with text: that is the question answered")
    return texts[-1], [t[:max_chars] for t in texts[:-1] if t.strip()][-HISTORY_TURNS:]


def _text(message: ChatMessage) -> str:
    if isinstance(message.content, str) or message.content is None:
        return message.content or ""
    kinds = {part.type for part in message.content} - {"text"}
    if kinds:
        raise InvalidInput(f"only text content is understood, not {', '.join(sorted(kinds))}")
    return "\n".join(part.text or "" for part in message.content)


def _understand(services: Services, key: ApiKey, earlier: list[str]) -> Understood | None:
    target = services.answerer.targets.live(key.workspace_id)
    return services.answerer.understand(target, earlier) if earlier else None


def _recorded(services: Services, key: ApiKey, metrics: Metrics, answer: Answer) -> Answer:
    """The answer as the desk records it (a handoff becomes its honest notice)."""
    observe(metrics, answer)
    turn = services.desk.answered(key.workspace_id, answer)
    assert turn.answer is not None
    return turn.answer


def _citations(answer: Answer) -> list[dict[str, Any]]:
    return [CitationOut(**c.__dict__).model_dump() for c in answer.citations]


def _info(answer: Answer) -> ZhiwenAnswerInfo:
    return ZhiwenAnswerInfo(
        answer_id=answer.id,
        conversation_id=answer.conversation_id,
        confidence=answer.confidence,
        handoff=answer.handoff,
        mode=answer.mode,
        release=answer.release,
    )


def _completion(answer: Answer, created: int) -> ChatCompletion:
    return ChatCompletion(
        id=f"chatcmpl-{answer.id}",
        created=created,
        model=MODEL,
        choices=[ChatChoice(message=ChatAssistantMessage(content=answer.text))],
        citations=[CitationOut(**c.__dict__) for c in answer.citations],
        zhiwen=_info(answer),
    )


def _seconds(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp).timestamp())
