"""The desk: every turn of a conversation in one ordered log, the human queue, and what agents do with it.

A conversation is held by the bot until the bot hands off, the customer asks for a person, or answers
keep failing; then it waits in the queue until an agent claims it, and is open until the agent resolves
it. While people hold it the bot stays quiet. Each message is stored before anyone is told of it
(``listeners`` are called after the write), so whoever reconnects reads what they missed from the store.
When an agent resolves a handed-off question, the agent's reply is recorded on the bot's answer as
feedback of kind ``agent``: it reaches the review queue, where one approval makes it a curated answer.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import secrets
import statistics
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from zhiwen.errors import Conflict, InvalidInput, NotFound, WithPerson, ZhiwenError
from zhiwen.ports import AnswerStore, DeskStore, FeedbackStore, PhotoCleaner, WorkspaceStore
from zhiwen.services.answers.service import AnswerService
from zhiwen.services.desk.handoff import (
    Availability,
    asks_for_human,
    queued_notice,
    resolved_notice,
    says_more_than_asking_for_a_person,
)
from zhiwen.services.desk.settings import DeskSettings
from zhiwen.services.desk.stats import DeskFigures, GroupBy, desk_figures
from zhiwen.services.desk.webhooks import WebhookService
from zhiwen.services.reviews.service import ReviewService
from zhiwen.services.trust.privacy import PrivacyPolicy, outward
from zhiwen.text.normalize import detect_language
from zhiwen.types import (
    AgentPresence,
    Answer,
    ConversationFilter,
    ConversationRating,
    ConversationSummary,
    DeskConversation,
    DeskMessage,
    utc_now,
)

log = logging.getLogger(__name__)
MAX_MESSAGE_CHARS = 4000
MAX_CONTACT_CHARS = 200
MAX_COMMENT_CHARS = 2000
CHANGES_KEPT = timedelta(minutes=10)  # the change feed's entries outlive any follower's poll by far
PRESENCE_TTL = timedelta(minutes=2)  # an agent whose page stopped sending heartbeats is offline after this
DEFAULT_WAIT_MINUTES = 3.0  # per place in the queue, until the desk has answered conversations to learn from
WITH_PEOPLE = ("waiting", "open")
SETTING = "desk"

Listener = Callable[[str, str], None]  # (workspace id, conversation id): something changed


@dataclass(frozen=True)
class DeskState:
    """Where a conversation stands, as the customer may know it."""

    status: str
    reason: str | None
    position: int | None  # place in the queue while waiting, 1 = next
    expected_wait_minutes: int | None
    agents_online: int
    open_now: bool
    assignee_name: str | None


@dataclass(frozen=True)
class Turn:
    """What one customer message led to: the bot's answer (if the bot answered) and the new messages."""

    conversation_id: str
    answer: Answer | None
    messages: tuple[DeskMessage, ...]
    state: DeskState


def display_name(agent: str) -> str:
    """An agent id ("key:alice", "user:li@example.com") as the customer sees it."""
    name = agent.split(":", 1)[-1]
    return name.split("@", 1)[0]


class DeskService:
    def __init__(
        self,
        store: DeskStore,
        answers: AnswerStore,
        answerer: AnswerService,
        feedback: FeedbackStore,
        workspaces: WorkspaceStore,
        reviews: ReviewService | None = None,
        webhooks: WebhookService | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        privacy: PrivacyPolicy | None = None,
        photos: PhotoCleaner | None = None,
    ) -> None:
        self._photos = photos
        self._reviews = reviews
        self._webhooks = webhooks
        self._store = store
        self._answers = answers
        self._answerer = answerer
        self._feedback = feedback
        self._workspaces = workspaces
        self._privacy = privacy or PrivacyPolicy(workspaces)
        self._now = now
        self.listeners: list[Listener] = []
        self.origin = f"{os.getpid()}-{secrets.token_hex(4)}"  # this process, in the change feed

    # ---- settings -----------------------------------------------------------------------------------

    def settings(self, workspace_id: str) -> DeskSettings:
        return DeskSettings.parse(self._workspaces.get_setting(workspace_id, SETTING))

    def configure(self, workspace_id: str, value: dict[str, Any]) -> DeskSettings:
        """Replace the desk settings (validated first: nothing is stored if any part is wrong)."""
        settings = DeskSettings.parse(value)
        self._workspaces.put_setting(workspace_id, SETTING, settings.to_dict())
        return settings

    # ---- the customer's side ------------------------------------------------------------------------

    def start(
        self, workspace_id: str, visitor_hash: str | None = None, language: str = "zh"
    ) -> DeskConversation:
        conversation_id = self._answers.ensure_conversation(workspace_id, None)
        return self._store.open_conversation(workspace_id, conversation_id, language, visitor_hash)

    def conversation(self, workspace_id: str, conversation_id: str) -> DeskConversation:
        try:
            return self._store.get(workspace_id, conversation_id)
        except NotFound:  # made by /v1/ask before the desk knew it, or not at all
            return self._store.open_conversation(workspace_id, conversation_id, "zh")

    def messages(
        self, workspace_id: str, conversation_id: str, after: int = 0, include_notes: bool = False
    ) -> list[DeskMessage]:
        self.conversation(workspace_id, conversation_id)
        found = self._store.messages(workspace_id, conversation_id, after)
        return found if include_notes else [m for m in found if m.author != "note"]

    def say(
        self,
        workspace_id: str,
        conversation_id: str | None,
        text: str,
        *,
        visitor_hash: str | None = None,
        use_llm: bool = True,
    ) -> Turn:
        """A customer's message: the bot answers it, unless people hold the conversation (then it waits
        for them) or the customer asks for a person (then it goes to the queue)."""
        text = _message_text(text)
        if conversation_id is None:
            conversation_id = self.start(workspace_id, visitor_hash, detect_language(text)).id
        held = self.conversation(workspace_id, conversation_id)
        if held.status in WITH_PEOPLE:
            message = self._add(workspace_id, conversation_id, "customer", "", text)
            return Turn(conversation_id, None, (message,), self.state(workspace_id, conversation_id))
        answer = self._answerer.answer(workspace_id, text, conversation_id, use_llm=use_llm)
        return self.answered(workspace_id, answer)

    def clean_photo(self, workspace_id: str, image: bytes) -> tuple[str, bytes] | None:
        """The photo as it may be kept (upright, re-encoded, no metadata), or None when none is kept: done
        before the message is recorded, so a photo that cannot be kept records nothing. A workspace that
        redacts personal data in what it stores keeps no photos: pixels cannot be redacted, and a photo of
        an ID card or a bank card is exactly what it must not keep."""
        if self._photos is None or self._privacy.settings(workspace_id).redact_stored:
            return None
        return self._photos.clean("photo", image)

    def keep_photo(self, workspace_id: str, turn: Turn, photo: tuple[str, bytes] | None) -> Turn:
        """Keep the photo (from :meth:`clean_photo`) with the customer's message of ``turn``, so the agent
        who takes the conversation over sees it; it goes when the message goes (erasure, retention)."""
        customer = next((m for m in turn.messages if m.author == "customer"), None)
        if photo is None or customer is None:
            return turn
        self._store.add_photo(workspace_id, customer.id, *photo)
        self._notify(workspace_id, turn.conversation_id)
        messages = tuple(replace(m, photo=True) if m.id == customer.id else m for m in turn.messages)
        return replace(turn, messages=messages)

    def photo(self, workspace_id: str, conversation_id: str, message_id: int) -> tuple[str, bytes]:
        self.conversation(workspace_id, conversation_id)
        return self._store.photo(workspace_id, conversation_id, message_id)

    def bot_may_answer(self, workspace_id: str, conversation_id: str | None) -> None:
        """Refuse to let the bot answer in a conversation people hold (``/v1/ask`` asks first)."""
        if conversation_id is None:
            return
        held = self.conversation(workspace_id, conversation_id)
        if held.status in WITH_PEOPLE:
            raise WithPerson(
                f"conversation {conversation_id} is with a person now ({held.status}); send the "
                f"customer's messages with POST /v1/conversations/{conversation_id}/messages"
            )

    def say_streaming(
        self,
        workspace_id: str,
        conversation_id: str | None,
        text: str,
        *,
        visitor_hash: str | None = None,
        use_llm: bool = True,
    ) -> Iterator[str | Turn]:
        """:meth:`say` as it is written: an LLM's reply in pieces as they come, then the :class:`Turn`,
        which is what counts (a reply that ends as a handoff is replaced by the desk's notice there)."""
        text = _message_text(text)
        held = self.conversation(workspace_id, conversation_id) if conversation_id else None
        if held is None or held.status in WITH_PEOPLE or asks_for_human(text):
            yield self.say(workspace_id, conversation_id, text, visitor_hash=visitor_hash, use_llm=use_llm)
            return
        for piece in self._answerer.stream(workspace_id, text, held.id, use_llm=use_llm):
            if isinstance(piece, str):
                yield piece
            else:
                yield self.answered(workspace_id, piece)

    def answered(self, workspace_id: str, answer: Answer) -> Turn:
        """Record a turn the bot answered (``/v1/ask`` and :meth:`say`): the question and the reply in the
        log; a handoff, or a customer asking for a person, puts the conversation in the queue, and the
        customer reads the truth about who will reply and when instead of the bot's handoff line."""
        assert answer.conversation_id is not None, "recorded answers belong to a conversation"
        conversation_id = answer.conversation_id
        held = self.conversation(workspace_id, conversation_id)
        if held.status == "bot" and held.language != answer.language:
            self._store.update(workspace_id, conversation_id, {"language": answer.language})
        question = self._add(workspace_id, conversation_id, "customer", "", answer.question)
        reason = _handoff_reason(answer)
        if reason is None:
            reply = self._add(
                workspace_id, conversation_id, "bot", "", answer.text, answer.id, answer.citations
            )
            return Turn(conversation_id, answer, (question, reply), self.state(workspace_id, conversation_id))
        urgent = answer.intent is not None and answer.intent.urgent
        notice, state = self._queue(workspace_id, conversation_id, reason, answer.language, urgent)
        if answer.preface:
            notice = f"{answer.preface}\n\n{notice}"
        answer = replace(answer, text=notice, citations=(), handoff=True, mode="handoff")
        reply = self._add(workspace_id, conversation_id, "bot", "", notice, answer.id)
        return Turn(conversation_id, answer, (question, reply), state)

    def request_human(
        self, workspace_id: str, conversation_id: str, contact: str = "", message: str = ""
    ) -> Turn:
        """The customer pressed "talk to a person", optionally leaving a contact and a message."""
        if len(contact) > MAX_CONTACT_CHARS:
            raise InvalidInput(f"contact: at most {MAX_CONTACT_CHARS} characters")
        held = self.conversation(workspace_id, conversation_id)
        added: list[DeskMessage] = []
        if message.strip():
            added.append(self._add(workspace_id, conversation_id, "customer", "", _message_text(message)))
        if contact.strip():
            self._store.update(workspace_id, conversation_id, {"contact": contact.strip()})
        if held.status in WITH_PEOPLE:
            return Turn(conversation_id, None, tuple(added), self.state(workspace_id, conversation_id))
        notice, state = self._queue(workspace_id, conversation_id, "asked_for_human", held.language)
        added.append(self._add(workspace_id, conversation_id, "bot", "", notice))
        return Turn(conversation_id, None, tuple(added), state)

    def answer_disliked(self, workspace_id: str, answer_id: str) -> None:
        """Feedback said an answer was wrong: after ``failed_answers`` of them, people take over."""
        given = self._answers.get_answer(workspace_id, answer_id)["answer"]
        conversation_id = given.get("conversation_id") if isinstance(given, dict) else None
        if not conversation_id:
            return
        held = self.conversation(workspace_id, str(conversation_id))
        failed = held.failed_answers + 1
        self._store.update(workspace_id, held.id, {"failed_answers": failed})
        if held.status not in WITH_PEOPLE and failed >= self.settings(workspace_id).failed_answers:
            notice, _ = self._queue(workspace_id, held.id, "repeated_failures", held.language)
            self._add(workspace_id, held.id, "bot", "", notice)

    def rate(
        self, workspace_id: str, conversation_id: str, score: int, comment: str = ""
    ) -> ConversationRating:
        if not isinstance(score, int) or not 1 <= score <= 5:
            raise InvalidInput("score: a whole number from 1 (bad) to 5 (excellent)")
        if len(comment) > MAX_COMMENT_CHARS:
            raise InvalidInput(f"comment: at most {MAX_COMMENT_CHARS} characters")
        held = self.conversation(workspace_id, conversation_id)
        rating = ConversationRating(
            conversation_id=conversation_id,
            score=score,
            comment=self._privacy.stored(workspace_id, comment.strip()),
            agent=held.assignee,
            release=self._release_of(workspace_id, conversation_id),
            created_at=utc_now(),
        )
        self._store.rate(workspace_id, rating)
        self._emit(workspace_id, "rating", dataclasses.asdict(rating))
        if rating.comment and self._reviews is not None:
            # the comment joins review analytics (sentiment, complaint topics), channel "desk rating"
            record = {
                "text": rating.comment,
                "rating": score,
                "channel": "desk rating",
                "customer": f"conversation:{conversation_id}",  # erased with the conversation
                "created_at": rating.created_at,  # two customers' "很好" are two reviews
            }
            try:
                self._reviews.import_records(workspace_id, [record])
            except ZhiwenError as error:  # analytics must not lose the customer's rating
                log.warning("rating comment not added to reviews: %s", outward(error.message))
        return rating

    def state(self, workspace_id: str, conversation_id: str) -> DeskState:
        held = self._store.get(workspace_id, conversation_id)
        availability = self.availability(workspace_id)
        position = wait = None
        if held.status == "waiting":
            waiting = self._store.conversations(workspace_id, ("waiting",), limit=10_000)
            position = 1 + sum(1 for c in waiting if _ahead(c, held))
            if availability.staffed:
                wait = self._expected_wait(workspace_id, position, availability.agents_online)
        return DeskState(
            status=held.status,
            reason=held.reason,
            position=position,
            expected_wait_minutes=wait,
            agents_online=availability.agents_online,
            open_now=availability.open_now,
            assignee_name=display_name(held.assignee) if held.assignee else None,
        )

    def availability(self, workspace_id: str, language: str = "zh") -> Availability:
        """Who can answer now; the hours as a customer reading ``language`` reads them."""
        now = self._now()
        hours = self.settings(workspace_id).hours
        online = sum(
            1
            for agent in self._store.agents(workspace_id)
            if agent.status == "online" and now - datetime.fromisoformat(agent.seen_at) < PRESENCE_TTL
        )
        return Availability(
            agents_online=online,
            open_now=hours is None or hours.is_open(now),
            next_opening=None if hours is None else hours.next_opening(now),
            hours="" if hours is None else hours.describe(language),
        )

    # ---- the agent's side ---------------------------------------------------------------------------

    def queue(
        self,
        workspace_id: str,
        statuses: Sequence[str] = WITH_PEOPLE,
        language: str | None = None,
        team: str | None = None,
        assignee: str | None = None,
        limit: int = 200,
    ) -> list[DeskConversation]:
        """Conversations with people: urgent ones (a complaint) first, then the longest waiting."""
        for status in statuses:
            if status not in ("bot", "waiting", "open", "resolved"):
                raise InvalidInput(f"status: {status!r} is not one of bot, waiting, open, resolved")
        return self._store.conversations(
            workspace_id, tuple(statuses), language=language, team=team, assignee=assignee, limit=limit
        )

    def overview(
        self, workspace_id: str, where: ConversationFilter, limit: int = 100, offset: int = 0
    ) -> list[ConversationSummary]:
        """Every conversation, bot-only ones included, for reading back: handed off, disliked, unsure."""
        return self._store.overview(workspace_id, where, limit, offset)

    def context(self, workspace_id: str, conversation_id: str) -> dict[str, Any]:
        """Everything an agent needs to take over: the conversation, every message with notes, and for
        each bot reply the confidence, the answer drafted but withheld and the passages it cited."""
        held = self.conversation(workspace_id, conversation_id)
        messages = self.messages(workspace_id, conversation_id, include_notes=True)
        answers: dict[str, Any] = {}
        for message in messages:
            if message.answer_id and message.answer_id not in answers:
                try:
                    record = self._answers.get_answer(workspace_id, message.answer_id)
                except NotFound:
                    continue
                given = dict(record["answer"])  # type: ignore[call-overload]
                withheld = record.get("withheld")
                cited = (
                    withheld.get("citations", []) if isinstance(withheld, dict) else given.get("citations")
                )
                answers[message.answer_id] = {
                    "confidence": given.get("confidence"),
                    "mode": given.get("mode"),
                    "release": given.get("release"),
                    "withheld": withheld,
                    "passages": list(cited or [])[:3],  # what the draft cited: title and snippet
                }
        return {"conversation": held, "messages": messages, "answers": answers}

    def claim(self, workspace_id: str, conversation_id: str, agent: str) -> DeskConversation:
        """Take a waiting conversation; of two agents claiming at once, exactly one wins."""
        held = self.conversation(workspace_id, conversation_id)
        if held.assignee == agent and held.status == "open":
            return held
        won = self._store.update(
            workspace_id,
            conversation_id,
            {"status": "open", "assignee": agent},
            expect={"status": "waiting", "assignee": None},
        )
        if not won:
            current = self._store.get(workspace_id, conversation_id)
            holder = (
                f"{display_name(current.assignee)} has it" if current.assignee else f"it is {current.status}"
            )
            raise Conflict(f"conversation {conversation_id} cannot be claimed: {holder}")
        self._notify(workspace_id, conversation_id)
        return self._store.get(workspace_id, conversation_id)

    def assign(self, workspace_id: str, conversation_id: str, agent: str, by: str) -> DeskConversation:
        held = self.conversation(workspace_id, conversation_id)
        if held.status not in WITH_PEOPLE:
            raise Conflict(
                f"conversation {conversation_id} is {held.status}; only queued or open ones are assigned"
            )
        self._store.update(workspace_id, conversation_id, {"status": "open", "assignee": agent})
        self._add(
            workspace_id, conversation_id, "note", display_name(by), f"assigned to {display_name(agent)}"
        )
        return self._store.get(workspace_id, conversation_id)

    def reply(
        self, workspace_id: str, conversation_id: str, agent: str, text: str, name: str | None = None
    ) -> DeskMessage:
        """An agent's reply, shown to the customer under ``name`` (default: from the agent id);
        replying to a waiting conversation claims it."""
        text = _message_text(text)
        held = self.conversation(workspace_id, conversation_id)
        if held.status == "waiting" and held.assignee is None:
            held = self.claim(workspace_id, conversation_id, agent)
        if held.status != "open":
            raise Conflict(
                f"conversation {conversation_id} is {held.status}; "
                + ("reopen it first" if held.status == "resolved" else "it has not been handed to people")
            )
        if held.assignee != agent:
            raise Conflict(
                f"conversation {conversation_id} is assigned to {display_name(held.assignee or '')}; "
                "ask them, or have it assigned to you"
            )
        if held.first_response_at is None:
            self._store.update(workspace_id, conversation_id, {"first_response_at": utc_now()})
        return self._add(workspace_id, conversation_id, "agent", name or display_name(agent), text)

    def note(self, workspace_id: str, conversation_id: str, agent: str, text: str) -> DeskMessage:
        """An internal note: other agents read it, the customer never does."""
        self.conversation(workspace_id, conversation_id)
        return self._add(workspace_id, conversation_id, "note", display_name(agent), _message_text(text))

    def resolve(self, workspace_id: str, conversation_id: str, agent: str) -> DeskConversation:
        held = self.conversation(workspace_id, conversation_id)
        if held.status not in WITH_PEOPLE:
            raise Conflict(f"conversation {conversation_id} is {held.status}, not with people")
        now = utc_now()
        changed = self._store.update(
            workspace_id,
            conversation_id,
            {"status": "resolved", "resolved_at": now, "assignee": held.assignee or agent},
            expect={"status": held.status},
        )
        if not changed:
            raise Conflict(f"conversation {conversation_id} changed meanwhile; reload it")
        self._learn_from_agent(workspace_id, conversation_id, agent)
        self._emit(
            workspace_id, "resolve", {"conversation_id": conversation_id, "agent": held.assignee or agent}
        )
        self._add(workspace_id, conversation_id, "system", "", resolved_notice(held.language))
        return self._store.get(workspace_id, conversation_id)

    def reopen(self, workspace_id: str, conversation_id: str, agent: str) -> DeskConversation:
        held = self.conversation(workspace_id, conversation_id)
        if held.status != "resolved":
            raise Conflict(f"conversation {conversation_id} is {held.status}, not resolved")
        self._store.update(
            workspace_id,
            conversation_id,
            {"status": "open", "resolved_at": None, "assignee": held.assignee or agent},
            expect={"status": "resolved"},
        )
        self._add(workspace_id, conversation_id, "note", display_name(agent), "reopened")
        return self._store.get(workspace_id, conversation_id)

    def set_presence(
        self,
        workspace_id: str,
        agent: str,
        status: str,
        teams: Sequence[str] = (),
        languages: Sequence[str] = (),
    ) -> AgentPresence:
        if status not in ("online", "away", "offline"):
            raise InvalidInput(f"status: {status!r} is not one of online, away, offline")
        presence = AgentPresence(agent, status, tuple(teams), tuple(languages), utc_now())  # type: ignore[arg-type]
        self._store.set_presence(workspace_id, presence)
        return presence

    def agents(self, workspace_id: str) -> list[AgentPresence]:
        now = self._now()
        return [
            a if now - datetime.fromisoformat(a.seen_at) < PRESENCE_TTL else replace(a, status="offline")
            for a in self._store.agents(workspace_id)
        ]

    def stats(self, workspace_id: str, days: int = 30, by: GroupBy = "day") -> list[DeskFigures]:
        """CSAT, handoff rate, containment, first-response and resolution times of the last ``days``
        days' conversations, per day, agent or release."""
        if by not in ("day", "agent", "release"):
            raise InvalidInput(f"by: {by!r} is not one of day, agent, release")
        if not 1 <= days <= 3650:
            raise InvalidInput("days: 1 to 3650")
        since = (self._now() - timedelta(days=days)).isoformat()
        conversations = [
            c
            for c in self._store.conversations(workspace_id, since=since, limit=1_000_000)
            if c.last_message  # started, but the customer never wrote: not a conversation yet
        ]
        releases = self._store.conversation_releases(workspace_id) if by == "release" else {}
        return desk_figures(conversations, self._store.ratings(workspace_id, since), releases, by)

    def last_change(self, workspace_id: str) -> str:
        return self._store.last_change(workspace_id)

    def ratings(self, workspace_id: str, since: str | None = None) -> list[ConversationRating]:
        return self._store.ratings(workspace_id, since)

    # ---- internals ----------------------------------------------------------------------------------

    def _queue(
        self, workspace_id: str, conversation_id: str, reason: str, language: str, urgent: bool = False
    ) -> tuple[str, DeskState]:
        held = self._store.get(workspace_id, conversation_id)
        said = " ".join(
            m.text for m in self._store.messages(workspace_id, conversation_id) if m.author == "customer"
        )
        self._store.update(
            workspace_id,
            conversation_id,
            {
                "team": held.team or self.settings(workspace_id).team_for(said),
                "status": "waiting",
                "reason": reason,
                "priority": 1 if urgent else 0,
                "queued_at": utc_now(),
                "assignee": None,
                "first_response_at": None,
                "resolved_at": None,
            },
        )
        state = self.state(workspace_id, conversation_id)
        held = self._store.get(workspace_id, conversation_id)
        self._emit(
            workspace_id,
            "handoff",
            {
                "conversation_id": conversation_id,
                "reason": reason,
                "language": held.language,
                "contact": held.contact,
                "messages": [
                    {"author": m.author, "text": m.text, "created_at": m.created_at}
                    for m in self._store.messages(workspace_id, conversation_id)
                    if m.author != "note"
                ],
            },
        )
        notice = queued_notice(
            language,
            self.availability(workspace_id, language),
            state.position or 1,
            state.expected_wait_minutes or 1,
        )
        return notice, state

    def _expected_wait(self, workspace_id: str, position: int, agents_online: int) -> int:
        """Minutes: the median first-response wait of the last week's conversations, times the place in
        the queue, shared among the agents online."""
        since = (self._now() - timedelta(days=7)).isoformat()
        waits = [
            (
                datetime.fromisoformat(c.first_response_at) - datetime.fromisoformat(c.queued_at)
            ).total_seconds()
            / 60
            for c in self._store.conversations(workspace_id, ("open", "resolved"), since=since, limit=500)
            if c.first_response_at and c.queued_at and c.first_response_at >= c.queued_at
        ]
        per_place = statistics.median(waits) if waits else DEFAULT_WAIT_MINUTES
        return max(1, math.ceil(per_place * position / max(1, agents_online)))

    def _learn_from_agent(self, workspace_id: str, conversation_id: str, agent: str) -> None:
        """Record the agent's replies on the question the bot could not answer, for the review queue."""
        messages = self._store.messages(workspace_id, conversation_id)
        first_agent = next((i for i, m in enumerate(messages) if m.author == "agent"), None)
        if first_agent is None:
            return
        asked = None
        for message in reversed(messages[:first_agent]):
            if message.author == "bot" and message.answer_id:
                record = self._answers.get_answer(workspace_id, message.answer_id)
                question = str(dict(record["answer"]).get("question", ""))  # type: ignore[call-overload]
                if says_more_than_asking_for_a_person(question):
                    asked = message.answer_id
                    break
        if asked is None:
            return
        if any(f.rating == "agent" for f in self._feedback.list_feedback(workspace_id, asked)):
            return
        reply = "\n".join(m.text for m in messages[first_agent:] if m.author == "agent")
        self._feedback.add_feedback(workspace_id, asked, "agent", "", reply[:MAX_MESSAGE_CHARS], agent)

    def _release_of(self, workspace_id: str, conversation_id: str) -> int | None:
        for message in reversed(self._store.messages(workspace_id, conversation_id)):
            if message.answer_id:
                try:
                    record = self._answers.get_answer(workspace_id, message.answer_id)
                except NotFound:
                    continue
                release = dict(record["answer"]).get("release")  # type: ignore[call-overload]
                return int(release) if release is not None else None
        return None

    def _add(
        self,
        workspace_id: str,
        conversation_id: str,
        author: Any,
        author_name: str,
        text: str,
        answer_id: str | None = None,
        citations: Sequence[Any] = (),
    ) -> DeskMessage:
        stored = self._privacy.stored(workspace_id, text)
        message = self._store.add_message(
            workspace_id, conversation_id, author, author_name, stored, answer_id, citations
        )
        self._notify(workspace_id, conversation_id)
        if author != "note":
            self._emit(
                workspace_id,
                "message",
                {
                    "conversation_id": conversation_id,
                    "id": message.id,
                    "author": author,
                    "author_name": author_name,
                    "text": text,
                    "created_at": message.created_at,
                },
            )
        return message

    def _emit(self, workspace_id: str, event: str, data: dict[str, Any]) -> None:
        if self._webhooks is not None:
            self._webhooks.emit(workspace_id, event, data)

    def _notify(self, workspace_id: str, conversation_id: str) -> None:
        """Wake this process's streams now, and other processes' through the change feed."""
        try:
            self._store.record_change(workspace_id, conversation_id, self.origin, self._stamp())
        except Exception:  # the write it reports is done; other processes' streams recheck anyway
            log.exception("desk change feed: cannot record a change")
        for listener in self.listeners:
            listener(workspace_id, conversation_id)

    def changes_elsewhere(self, after: int | None) -> tuple[int, list[tuple[str, str]]]:
        """(workspace, conversation) of each change other processes recorded after feed id ``after``
        (None: start from now), and the id to pass next time."""
        changes = self._store.changes_after(after)
        if after is None:
            return (changes[-1].id if changes else 0), []
        if not changes:
            return after, []
        changed = [(c.workspace_id, c.conversation_id) for c in changes if c.origin != self.origin]
        return changes[-1].id, changed

    def prune_changes(self) -> int:
        """Forget the change feed's entries older than :data:`CHANGES_KEPT`."""
        return self._store.prune_changes(self._stamp(-CHANGES_KEPT))

    def _stamp(self, shift: timedelta = timedelta()) -> str:
        """The desk's clock (``now``) as the change feed stores it."""
        return (self._now() + shift).isoformat(timespec="milliseconds")


def _message_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput("the message is empty")
    if len(text) > MAX_MESSAGE_CHARS:
        raise InvalidInput(f"the message is {len(text):,} characters; the limit is {MAX_MESSAGE_CHARS:,}")
    return text


def _handoff_reason(answer: Answer) -> str | None:
    """Why a bot turn puts the conversation in the queue: the customer asked for a person, an intent
    hands off (its name is the reason: complaint, order_status…), or the bot could not answer."""
    intent = answer.intent
    if asks_for_human(answer.question) or (answer.handoff and intent is not None and intent.name == "human"):
        return "asked_for_human"
    if answer.handoff and intent is not None and intent.action != "answer":
        return intent.name
    return "bot_handoff" if answer.handoff else None


def _ahead(other: DeskConversation, held: DeskConversation) -> bool:
    """Whether ``other`` is taken before ``held``: urgent first, then who waited longer."""
    return (-other.priority, other.queued_at or "") < (-held.priority, held.queued_at or "")
