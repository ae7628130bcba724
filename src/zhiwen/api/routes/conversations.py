"""A customer's conversation: messages to the bot or the people holding it, live events, a person on
request, the rating at the end. Used by programs (client keys) and by the chat widget (a public widget
key from an allowed origin, bound to one visitor by ``X-Visitor-Token``)."""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from sse_starlette.sse import EventSourceResponse

from zhiwen.api.deps import CustomerKey, ServicesDep
from zhiwen.api.routes.ask import answer_response, photo_bytes, seen_in_photo, visitor_answer
from zhiwen.api.schemas import (
    SQL_INT_MAX,
    AnswerResponse,
    CitationOut,
    DeskMessageOut,
    DeskStateOut,
    HumanRequest,
    MessageRequest,
    RatingOut,
    RatingRequest,
    TurnResponse,
    VisitorAnswerOut,
    VisitorCitationOut,
    WidgetConfigOut,
)
from zhiwen.api.signals import Signals, woken
from zhiwen.errors import InvalidInput, NotFound
from zhiwen.services.accounts.keys import hash_key
from zhiwen.services.answers.photos import PhotoQuestion
from zhiwen.services.desk.desk import DeskState, Turn
from zhiwen.types import ApiKey, DeskMessage
from zhiwen.wiring import Services

router = APIRouter(prefix="/v1", tags=["conversations"])
STREAM_RECHECK_S = 10.0  # a stream reads the store at least this often (writes by other processes)

VisitorToken = Annotated[
    str | None, Header(max_length=200, description="Widget keys: the token POST /v1/conversations gave.")
]


def message_out(message: DeskMessage, for_visitor: bool = False) -> DeskMessageOut:
    """A message as the desk stores it; a website visitor gets its citations' titles and words only."""
    cited = [dataclasses.asdict(c) for c in message.citations]
    return DeskMessageOut(
        **{k: v for k, v in dataclasses.asdict(message).items() if k != "citations"},
        citations=[
            VisitorCitationOut(number=c["number"], document_title=c["document_title"], snippet=c["snippet"])
            if for_visitor
            else CitationOut(**c)
            for c in cited
        ],
    )


def state_out(state: DeskState, for_visitor: bool = False) -> DeskStateOut:
    """Where the conversation stands; a website visitor is not told the desk's reason for queueing it."""
    shown = dataclasses.replace(state, reason=None) if for_visitor else state
    return DeskStateOut(**dataclasses.asdict(shown))


def turn_out(
    turn: Turn,
    key: ApiKey,
    visitor_token: str | None = None,
    photo: PhotoQuestion | None = None,
) -> TurnResponse:
    """The turn as this key may see it: a widget key (a website visitor) gets the visitor's view."""
    for_visitor = key.role == "widget"
    answer: AnswerResponse | VisitorAnswerOut | None = None
    if turn.answer is not None:
        answer = (visitor_answer if for_visitor else answer_response)(turn.answer, photo)
    return TurnResponse(
        conversation_id=turn.conversation_id,
        answer=answer,
        messages=[message_out(m, for_visitor) for m in turn.messages],
        state=state_out(turn.state, for_visitor),
        visitor_token=visitor_token,
    )


def _visitor(key: ApiKey, token: str | None) -> str | None:
    if key.role != "widget":
        return None
    if not token:
        raise InvalidInput("widget keys send X-Visitor-Token (POST /v1/conversations gives one)")
    return hash_key(token)


def visitor_conversation(services: Services, key: ApiKey, conversation_id: str, token: str | None) -> str:
    """The conversation, if this key may use it: a widget key only its own visitor's."""
    visitor = _visitor(key, token)
    conversation = services.desk.conversation(key.workspace_id, conversation_id)
    if visitor is not None and conversation.visitor_hash != visitor:
        raise NotFound(f"no conversation {conversation_id!r} for this visitor")
    return conversation.id


def _per_visitor(request: Request, key: ApiKey, token: str | None) -> None:
    if key.role == "widget" and token:
        request.app.state.visitor_limiter.check(hash_key(token))


@router.post("/conversations", status_code=status.HTTP_201_CREATED, response_model=TurnResponse)
def start_conversation(
    services: ServicesDep,
    key: CustomerKey,
    x_visitor_token: VisitorToken = None,
    language: Annotated[str, Query(pattern="^(zh|en)$")] = "zh",
) -> TurnResponse:
    """Start a conversation. A widget key gets a visitor token (or keeps the one it sent): only requests
    carrying it can read or write this conversation."""
    token = x_visitor_token
    if key.role == "widget" and not token:
        token = secrets.token_urlsafe(24)
    conversation = services.desk.start(key.workspace_id, hash_key(token) if token else None, language)
    state = services.desk.state(key.workspace_id, conversation.id)
    return turn_out(Turn(conversation.id, None, (), state), key, token if key.role == "widget" else None)


@router.get("/conversations/{conversation_id}", response_model=TurnResponse)
def read_conversation(
    conversation_id: str,
    services: ServicesDep,
    key: CustomerKey,
    x_visitor_token: VisitorToken = None,
    after: Annotated[int, Query(ge=0, le=SQL_INT_MAX)] = 0,
) -> TurnResponse:
    """The messages after ``after`` (all by default; internal notes never) and where it stands."""
    held = visitor_conversation(services, key, conversation_id, x_visitor_token)
    messages = services.desk.messages(key.workspace_id, held, after)
    return turn_out(Turn(held, None, tuple(messages), services.desk.state(key.workspace_id, held)), key)


@router.post(
    "/conversations/{conversation_id}/messages",
    response_model=TurnResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "With stream=true."}},
)
async def send_message(
    conversation_id: str,
    body: MessageRequest,
    request: Request,
    services: ServicesDep,
    key: CustomerKey,
    x_visitor_token: VisitorToken = None,
) -> TurnResponse | EventSourceResponse:
    """The customer writes. The bot answers (``answer``), unless a person holds the conversation; asking
    for a person ("转人工", "agent please") puts it in the queue, and ``state`` says who replies when.
    With ``stream: true`` an LLM's reply arrives in ``delta`` events as it is written, then ``turn``."""
    await run_in_threadpool(_per_visitor, request, key, x_visitor_token)  # a database write
    held = await run_in_threadpool(visitor_conversation, services, key, conversation_id, x_visitor_token)
    text, seen, kept_photo = body.text, None, None
    if body.image is not None:
        limit = min(services.settings.max_question_chars, 4000)
        photo = photo_bytes(body.image)
        seen = await run_in_threadpool(seen_in_photo, services, key.workspace_id, text, photo, limit)
        kept_photo = await run_in_threadpool(services.desk.clean_photo, key.workspace_id, photo)
        text = seen.question

    def kept(turn: Turn) -> Turn:
        return services.desk.keep_photo(key.workspace_id, turn, kept_photo)

    if not body.stream:
        turn = await run_in_threadpool(services.desk.say, key.workspace_id, held, text, use_llm=body.use_llm)
        return turn_out(await run_in_threadpool(kept, turn), key, photo=seen)
    pieces = services.desk.say_streaming(key.workspace_id, held, text, use_llm=body.use_llm)
    first = await run_in_threadpool(next, pieces)  # a refused message fails before the stream opens

    async def events() -> AsyncIterator[dict[str, str]]:
        piece: str | Turn | None = first
        while isinstance(piece, str):
            yield {"event": "delta", "data": json.dumps({"text": piece}, ensure_ascii=False)}
            piece = await run_in_threadpool(next, pieces, None)
        assert isinstance(piece, Turn)
        turn = await run_in_threadpool(kept, piece)
        yield {"event": "turn", "data": turn_out(turn, key, photo=seen).model_dump_json()}

    return EventSourceResponse(events())


@router.post("/conversations/{conversation_id}/human", response_model=TurnResponse)
def ask_for_a_person(
    conversation_id: str,
    body: HumanRequest,
    request: Request,
    services: ServicesDep,
    key: CustomerKey,
    x_visitor_token: VisitorToken = None,
) -> TurnResponse:
    """Put the conversation in the human queue, with a contact for the reply if nobody is online."""
    _per_visitor(request, key, x_visitor_token)
    held = visitor_conversation(services, key, conversation_id, x_visitor_token)
    return turn_out(services.desk.request_human(key.workspace_id, held, body.contact, body.message), key)


@router.post(
    "/conversations/{conversation_id}/rating", status_code=status.HTTP_201_CREATED, response_model=RatingOut
)
def rate_conversation(
    conversation_id: str,
    body: RatingRequest,
    services: ServicesDep,
    key: CustomerKey,
    x_visitor_token: VisitorToken = None,
) -> RatingOut:
    """The customer's rating (1–5) of the conversation; rating again replaces it."""
    held = visitor_conversation(services, key, conversation_id, x_visitor_token)
    return RatingOut(
        **dataclasses.asdict(services.desk.rate(key.workspace_id, held, body.score, body.comment))
    )


@router.get(
    "/conversations/{conversation_id}/events",
    responses={200: {"content": {"text/event-stream": {}}, "description": "'message' and 'state' events."}},
)
async def conversation_events(
    conversation_id: str,
    request: Request,
    services: ServicesDep,
    key: CustomerKey,
    x_visitor_token: VisitorToken = None,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
    after: Annotated[int, Query(ge=0, le=SQL_INT_MAX)] = 0,
) -> EventSourceResponse:
    """Live: every message after ``Last-Event-ID`` (or ``after``) as a ``message`` event whose id is the
    message's, then each new one as it is stored; a ``state`` event whenever who holds it changes. A
    client that reconnects with the last id it saw misses nothing."""
    held = await run_in_threadpool(visitor_conversation, services, key, conversation_id, x_visitor_token)
    start = after
    if last_event_id:
        if not last_event_id.isdigit():
            raise InvalidInput("Last-Event-ID: expected the id of the last message seen")
        start = int(last_event_id)
    return EventSourceResponse(
        _events(
            services,
            request.app.state.signals,
            key.workspace_id,
            held,
            start,
            include_notes=False,
            for_visitor=key.role == "widget",
        ),
        ping=15,
    )


async def _events(
    services: Services,
    signals: Signals,
    workspace_id: str,
    conversation_id: str,
    after: int,
    include_notes: bool,
    for_visitor: bool = False,
) -> AsyncIterator[dict[str, str]]:
    """Messages and state changes of one conversation, read back from the store on every wake-up."""
    last_state: DeskState | None = None
    with signals.subscription(conversation_id) as changed:
        while True:
            changed.clear()
            messages = await run_in_threadpool(
                services.desk.messages, workspace_id, conversation_id, after, include_notes
            )
            for message in messages:
                after = message.id
                yield {
                    "id": str(message.id),
                    "event": "message",
                    "data": message_out(message, for_visitor).model_dump_json(),
                }
            state = await run_in_threadpool(services.desk.state, workspace_id, conversation_id)
            if state != last_state:
                last_state = state
                yield {"event": "state", "data": state_out(state, for_visitor).model_dump_json()}
            await woken(changed, STREAM_RECHECK_S)


@router.get("/widget/config", response_model=WidgetConfigOut)
def widget_config(services: ServicesDep, key: CustomerKey) -> WidgetConfigOut:
    """What the chat widget shows before the first message: its look, welcome, suggested questions, whether
    people are there to answer, and the desk's hours."""
    settings = services.desk.settings(key.workspace_id)
    availability = services.desk.availability(key.workspace_id)
    return WidgetConfigOut(
        look=settings.look,
        welcome=settings.welcome,
        suggestions=settings.suggestions,
        staffed=availability.staffed,
        open_now=availability.open_now,
        hours={
            language: settings.hours.describe(language) if settings.hours else "" for language in ("zh", "en")
        },
    )
