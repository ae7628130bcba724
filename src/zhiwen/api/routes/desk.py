"""The agents' desk: the queue, a conversation with its bot context, claim, assign, reply, note, resolve,
reopen; presence; settings (hours, widget texts). Agent or admin keys; settings changes need an admin."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sse_starlette.sse import EventSourceResponse

from zhiwen.api.deps import AdminKey, AgentKey, ServicesDep, actor, person_name
from zhiwen.api.routes.conversations import STREAM_RECHECK_S, message_out
from zhiwen.api.schemas import (
    SQL_INT_MAX,
    AgentMessageRequest,
    AgentOut,
    AnswerContextOut,
    AssignRequest,
    ConversationContextOut,
    ConversationOut,
    ConversationSummaryOut,
    CreatedWebhookOut,
    DeskFiguresOut,
    DeskMessageOut,
    DeskSettingsOut,
    DeskStateOut,
    InboundReply,
    PresenceRequest,
    RatingOut,
    WebhookCreate,
    WebhookDeliveryOut,
    WebhookOut,
)
from zhiwen.api.signals import Signals, woken
from zhiwen.types import ConversationFilter, DeskConversation
from zhiwen.wiring import Services

router = APIRouter(prefix="/v1/desk", tags=["desk"])
Status = Literal["bot", "waiting", "open", "resolved"]


def conversation_out(conversation: DeskConversation) -> ConversationOut:
    fields = dataclasses.asdict(conversation)
    fields.pop("workspace_id")
    fields.pop("visitor_hash")
    return ConversationOut(**fields)


@router.get("/queue", response_model=list[ConversationOut])
def queue(
    services: ServicesDep,
    key: AgentKey,
    status: Annotated[list[Status] | None, Query(description="Default: waiting and open.")] = None,
    language: Annotated[str | None, Query(pattern="^(zh|en)$")] = None,
    team: Annotated[str | None, Query(max_length=100)] = None,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[ConversationOut]:
    """Conversations with people, longest waiting first; ``mine`` keeps those assigned to this key."""
    found = services.desk.queue(
        key.workspace_id,
        status or ("waiting", "open"),
        language,
        team,
        actor(key) if mine else None,
        limit,
    )
    return [conversation_out(c) for c in found]


Day = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD (UTC)")]


@router.get("/conversations", response_model=list[ConversationSummaryOut])
def conversations(
    services: ServicesDep,
    key: AdminKey,
    handed_off: bool | None = None,
    disliked: bool | None = None,
    confidence_below: Annotated[float | None, Query(ge=0, le=1)] = None,
    language: Annotated[str | None, Query(pattern="^(zh|en)$")] = None,
    since: Day = None,
    until: Day = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=SQL_INT_MAX)] = 0,
) -> list[ConversationSummaryOut]:
    """Every conversation, the bot's too, latest first, for reading back: filter by handoff, a disliked
    answer, an answer less confident than ``confidence_below``, language, and the days it started
    (``until`` excluded). Open one with ``/v1/desk/conversations/{id}``."""
    where = ConversationFilter(handed_off, disliked, confidence_below, language, since, until)
    return [
        ConversationSummaryOut(
            **conversation_out(s.conversation).model_dump(),
            turns=s.turns,
            lowest_confidence=s.lowest_confidence,
            dislikes=s.dislikes,
            rating=s.rating,
        )
        for s in services.desk.overview(key.workspace_id, where, limit, offset)
    ]


@router.get("/conversations/{conversation_id}", response_model=ConversationContextOut)
def conversation(conversation_id: str, services: ServicesDep, key: AgentKey) -> ConversationContextOut:
    """Everything to take over: every message (with internal notes), and for each bot reply its
    confidence, the passages it found and the answer it drafted but withheld."""
    context = services.desk.context(key.workspace_id, conversation_id)
    return ConversationContextOut(
        conversation=conversation_out(context["conversation"]),
        messages=[message_out(m) for m in context["messages"]],
        answers={k: AnswerContextOut(**v) for k, v in context["answers"].items()},
        state=DeskStateOut(**dataclasses.asdict(services.desk.state(key.workspace_id, conversation_id))),
    )


@router.get(
    "/conversations/{conversation_id}/messages/{message_id}/photo",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "The photo, without its metadata."}},
)
def message_photo(
    conversation_id: str,
    message_id: Annotated[int, Path(ge=1, le=SQL_INT_MAX)],
    services: ServicesDep,
    key: AgentKey,
) -> Response:
    """The photo the customer sent with a message (``photo: true``): upright, re-encoded, at most 1,600
    pixels a side, with no EXIF or location left in it."""
    media_type, data = services.desk.photo(key.workspace_id, conversation_id, message_id)
    return Response(data, media_type=media_type, headers={"Cache-Control": "no-store"})  # erasure is final


@router.post("/conversations/{conversation_id}/claim", response_model=ConversationOut)
def claim(conversation_id: str, services: ServicesDep, key: AgentKey) -> ConversationOut:
    """Take a waiting conversation (409 if another agent was first)."""
    return conversation_out(services.desk.claim(key.workspace_id, conversation_id, actor(key)))


@router.post("/conversations/{conversation_id}/assign", response_model=ConversationOut)
def assign(
    conversation_id: str, body: AssignRequest, services: ServicesDep, key: AgentKey
) -> ConversationOut:
    """Give a waiting or open conversation to an agent; a note in it says who did."""
    return conversation_out(services.desk.assign(key.workspace_id, conversation_id, body.agent, actor(key)))


@router.post("/conversations/{conversation_id}/reply", response_model=DeskMessageOut, status_code=201)
def reply(
    conversation_id: str, body: AgentMessageRequest, request: Request, services: ServicesDep, key: AgentKey
) -> DeskMessageOut:
    """Reply to the customer (a waiting conversation is claimed by replying)."""
    name = person_name(request)
    return message_out(services.desk.reply(key.workspace_id, conversation_id, actor(key), body.text, name))


@router.post("/conversations/{conversation_id}/note", response_model=DeskMessageOut, status_code=201)
def note(
    conversation_id: str, body: AgentMessageRequest, services: ServicesDep, key: AgentKey
) -> DeskMessageOut:
    """An internal note: agents see it, the customer never does."""
    return message_out(services.desk.note(key.workspace_id, conversation_id, actor(key), body.text))


@router.post("/conversations/{conversation_id}/resolve", response_model=ConversationOut)
def resolve(conversation_id: str, services: ServicesDep, key: AgentKey) -> ConversationOut:
    """Close it; the agent's answer to a handed-off question goes to the review queue."""
    return conversation_out(services.desk.resolve(key.workspace_id, conversation_id, actor(key)))


@router.post("/conversations/{conversation_id}/reopen", response_model=ConversationOut)
def reopen(conversation_id: str, services: ServicesDep, key: AgentKey) -> ConversationOut:
    """Open a resolved conversation again; it goes back to the queue."""
    return conversation_out(services.desk.reopen(key.workspace_id, conversation_id, actor(key)))


@router.post("/presence", response_model=AgentOut)
def presence(body: PresenceRequest, services: ServicesDep, key: AgentKey) -> AgentOut:
    """Online, away or offline, with the teams and languages this agent takes; send it at least every
    minute while online (an agent not heard from for 2 minutes counts as offline)."""
    given = services.desk.set_presence(key.workspace_id, actor(key), body.status, body.teams, body.languages)
    return AgentOut(**dataclasses.asdict(given))


@router.get("/agents", response_model=list[AgentOut])
def agents(services: ServicesDep, key: AgentKey) -> list[AgentOut]:
    """The agents and their presence (online, away, offline), teams and languages."""
    return [AgentOut(**dataclasses.asdict(a)) for a in services.desk.agents(key.workspace_id)]


@router.get("/ratings", response_model=list[RatingOut])
def ratings(
    services: ServicesDep, key: AgentKey, since: Annotated[str | None, Query(max_length=40)] = None
) -> list[RatingOut]:
    """Customers' ratings of conversations, the latest first."""
    return [RatingOut(**dataclasses.asdict(r)) for r in services.desk.ratings(key.workspace_id, since)]


@router.get("/stats", response_model=list[DeskFiguresOut])
def stats(
    services: ServicesDep,
    key: AgentKey,
    days: Annotated[int, Query(ge=1, le=3650)] = 30,
    by: Literal["day", "agent", "release"] = "day",
) -> list[DeskFiguresOut]:
    """Per day, agent or release: conversations, handoff rate, bot containment (never handed off, no answer
    disliked), CSAT (share of ratings 4–5) and mean score, median first-response and resolution minutes."""
    return [DeskFiguresOut(**dataclasses.asdict(f)) for f in services.desk.stats(key.workspace_id, days, by)]


@router.post("/webhooks", status_code=201, response_model=CreatedWebhookOut)
def add_webhook(body: WebhookCreate, services: ServicesDep, key: AdminKey) -> CreatedWebhookOut:
    """Send desk events to ``url``, signed with the returned ``secret`` (shown only now; see docs/desk.md
    for checking ``X-Zhiwen-Signature``)."""
    hook, secret = services.webhooks.add(key.workspace_id, body.url, body.events)
    return CreatedWebhookOut(**dataclasses.asdict(hook), secret=secret)


@router.get("/webhooks", response_model=list[WebhookOut])
def list_webhooks(services: ServicesDep, key: AdminKey) -> list[WebhookOut]:
    """The webhooks that receive the desk's events."""
    return [WebhookOut(**dataclasses.asdict(h)) for h in services.webhooks.webhooks(key.workspace_id)]


@router.delete("/webhooks/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: str, services: ServicesDep, key: AdminKey) -> None:
    """Stop sending events to this webhook."""
    services.webhooks.delete(key.workspace_id, webhook_id)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[WebhookDeliveryOut])
def webhook_deliveries(webhook_id: str, services: ServicesDep, key: AdminKey) -> list[WebhookDeliveryOut]:
    """The delivery log: each event's status (pending, delivered, failed), attempts, last response."""
    return [
        WebhookDeliveryOut(**dataclasses.asdict(d))
        for d in services.webhooks.deliveries(key.workspace_id, webhook_id)
    ]


@router.post("/inbound", response_model=ConversationOut)
def inbound(body: InboundReply, services: ServicesDep, key: AgentKey) -> ConversationOut:
    """An external desk answers: the text reaches the customer as ``agent``'s reply (claiming a waiting
    conversation), and ``resolve`` closes it, as in Zhiwen's own inbox."""
    agent = f"external:{body.agent}"
    if body.text.strip():
        services.desk.reply(key.workspace_id, body.conversation_id, agent, body.text, body.agent)
    if body.resolve:
        return conversation_out(services.desk.resolve(key.workspace_id, body.conversation_id, agent))
    return conversation_out(services.desk.conversation(key.workspace_id, body.conversation_id))


@router.get("/settings", response_model=DeskSettingsOut)
def get_settings(services: ServicesDep, key: AgentKey) -> DeskSettingsOut:
    """The desk settings: business hours, the widget's look, welcome and suggested questions, teams."""
    return DeskSettingsOut(**services.desk.settings(key.workspace_id).to_dict())


@router.put("/settings", response_model=DeskSettingsOut)
def put_settings(
    services: ServicesDep,
    key: AdminKey,
    body: Annotated[
        dict[str, Any],
        Body(
            examples=[
                {
                    "hours": {"timezone": "Asia/Shanghai", "weekly": {"mon": "09:00-18:00"}},
                    "welcome": {"zh": "您好！", "en": "Hi!"},
                    "suggestions": {"zh": ["怎么退货？"], "en": ["How do I return an item?"]},
                    "failed_answers": 2,
                    "teams": ["sales", "after-sales"],
                }
            ]
        ),
    ],
) -> DeskSettingsOut:
    """Replace the desk settings: business hours, the widget's look, welcome and suggested questions, how
    many disliked answers send a conversation to people, teams and routing."""
    return DeskSettingsOut(**services.desk.configure(key.workspace_id, body).to_dict())


@router.get(
    "/events",
    responses={200: {"content": {"text/event-stream": {}}, "description": "'changed' events."}},
)
async def desk_events(request: Request, services: ServicesDep, key: AgentKey) -> EventSourceResponse:
    """A ``changed`` event whenever a message is added or a conversation changes hands:
    the inbox reloads what it shows."""
    return EventSourceResponse(_changes(services, request.app.state.signals, key.workspace_id), ping=15)


async def _changes(services: Services, signals: Signals, workspace_id: str) -> AsyncIterator[dict[str, str]]:
    last = ""
    with signals.subscription(f"workspace:{workspace_id}") as changed:
        while True:
            changed.clear()
            latest = await run_in_threadpool(services.desk.last_change, workspace_id)
            if latest != last:
                last = latest
                yield {"event": "changed", "data": latest}
            await woken(changed, STREAM_RECHECK_S)
