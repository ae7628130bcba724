"""Plain data passed between layers. No behaviour beyond trivial derived values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

ChunkKind = Literal["passage", "faq"]
Rating = Literal["like", "dislike", "agent"]  # "agent": what a human agent answered a handed-off question
# admin: everything; client: a program that asks; agent: a person at the desk; widget: a public key embedded
# in a company's web page that only its own visitors' conversations can use.
Role = Literal["admin", "client", "agent", "widget"]
DeskStatus = Literal["bot", "waiting", "open", "resolved"]
Author = Literal["customer", "bot", "agent", "note", "system"]


CURATED_SOURCE = "curated-answers.jsonl"  # the working-knowledge document that holds the curated answers


@dataclass(frozen=True)
class Workspace:
    id: str
    name: str
    created_at: str


@dataclass(frozen=True)
class ApiKey:
    id: str
    workspace_id: str
    name: str
    prefix: str
    role: Role
    created_at: str
    revoked_at: str | None = None
    origins: tuple[str, ...] = ()  # widget keys: the web origins allowed to use it


USER_ID_PREFIX = "usr_"  # tells a signed-in person from an API key where both act


@dataclass(frozen=True)
class User:
    """A person who signs in (admins and agents); programs use API keys instead."""

    id: str
    workspace_id: str
    email: str
    name: str
    role: Literal["admin", "agent"]
    created_at: str
    disabled_at: str | None = None


@dataclass(frozen=True)
class Session:
    id: str
    user_id: str
    csrf_token: str  # sent back in X-CSRF-Token with every change made through the session cookie
    created_at: str
    expires_at: str


@dataclass(frozen=True)
class Document:
    id: str
    workspace_id: str
    source: str
    title: str
    content_hash: str
    tags: tuple[str, ...] = ()
    chunk_count: int = 0
    waiting_chunks: int = 0  # chunks still without their embedding: keyword search finds them already
    characters: int = 0
    created_at: str = ""
    updated_at: str = ""


@dataclass(frozen=True)
class Chunk:
    id: str
    workspace_id: str
    document_id: str
    position: int
    title_path: str
    text: str
    kind: ChunkKind = "passage"
    question: str | None = None  # FAQ entries only: matched on the question, answered with ``text``
    content_hash: str = ""


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with the evidence of why it was retrieved."""

    chunk: Chunk
    score: float
    keyword_score: float | None = None
    vector_score: float | None = None
    document_title: str = ""
    document_source: str = ""


@dataclass(frozen=True)
class Citation:
    number: int
    document_id: str
    document_title: str
    source: str
    chunk_id: str
    snippet: str


@dataclass(frozen=True)
class RelatedProduct:
    """A catalogue item shown with an answer, because the question named ``because_of``."""

    id: str
    title: str
    category: str
    price: float | None
    because_of: str  # the title of the item the question named


@dataclass(frozen=True)
class IntentMatch:
    """What the live intent model made of a message, recorded with the answer."""

    name: str
    probability: float
    action: str  # answer | handoff | reply | tool
    version: int
    awaiting: str | None = None  # the slot the reply asked for; the next message may carry it
    slots: Mapping[str, str] | None = None
    error: str | None = None  # why the action failed (a tool's timeout…), for the agent who takes over
    urgent: bool = False  # a handoff that goes before the queue (the intent is marked urgent)
    language: str = ""  # of the reply; a slot given later ("2024113012345") is answered in it

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "slots": dict(self.slots or {})}

    @classmethod
    def from_dict(cls, data: object) -> IntentMatch | None:
        if not isinstance(data, Mapping) or "name" not in data:
            return None
        return cls(
            str(data["name"]),
            float(data.get("probability", 0.0)),
            str(data.get("action", "answer")),
            int(data.get("version", 0)),
            data.get("awaiting"),
            dict(data.get("slots") or {}),
            data.get("error"),
            bool(data.get("urgent", False)),
            str(data.get("language") or ""),
        )


AnswerMode = Literal["curated", "faq", "extractive", "llm", "handoff", "reply", "tool"]


@dataclass(frozen=True)
class Answer:
    id: str
    question: str
    text: str
    language: Literal["zh", "en"]
    citations: tuple[Citation, ...]
    confidence: float
    handoff: bool
    mode: AnswerMode
    conversation_id: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    release: int | None = None  # the release number that answered; None before the first promotion
    related_products: tuple[RelatedProduct, ...] = ()  # when the question names catalogue products
    understood_as: str | None = None  # a follow-up with its earlier turns, or in the documents' words
    intent: IntentMatch | None = None  # None: no live intent model
    preface: str = ""  # said before the desk's handoff notice (an intent's own words, or a tool's apology)


@dataclass(frozen=True)
class DeskConversation:
    """A conversation as the service desk sees it: who holds it (the bot, the queue, an agent) and when."""

    id: str
    workspace_id: str
    status: DeskStatus
    language: str
    team: str = ""
    assignee: str | None = None
    reason: str | None = None  # why it went to people: bot_handoff, asked_for_human, repeated_failures
    contact: str = ""  # what the customer left for a reply when nobody was online
    failed_answers: int = 0
    created_at: str = ""
    queued_at: str | None = None
    first_response_at: str | None = None
    resolved_at: str | None = None
    updated_at: str = ""
    last_message: str = ""
    visitor_hash: str | None = None  # widget conversations: only the visitor holding its token may use it
    priority: int = 0  # 1: urgent (a complaint): taken before conversations that waited longer


@dataclass(frozen=True)
class ConversationFilter:
    """Which conversations an administrator is looking for; None: either way."""

    handed_off: bool | None = None
    disliked: bool | None = None
    confidence_below: float | None = None  # some answer in it was less confident than this
    language: str | None = None
    since: str | None = None  # ISO dates or times, on when the conversation started
    until: str | None = None


@dataclass(frozen=True)
class ConversationSummary:
    """A conversation with what its answers were like: for reading conversations back, not for the queue."""

    conversation: DeskConversation
    turns: int  # the bot's answers in it
    lowest_confidence: float | None
    dislikes: int
    rating: int | None  # the customer's 1-5 rating of the conversation


@dataclass(frozen=True)
class DeskChange:
    """One entry of the desk's change feed: a conversation changed, written by process ``origin``."""

    id: int
    workspace_id: str
    conversation_id: str
    origin: str


@dataclass(frozen=True)
class DeskMessage:
    """One message of a conversation; ``id`` grows with every message, so it is also the event id."""

    id: int
    conversation_id: str
    author: Author
    author_name: str
    text: str
    created_at: str
    answer_id: str | None = None
    citations: tuple[Citation, ...] = ()
    photo: bool = False  # the customer sent a photo with it (GET …/messages/{id}/photo)


@dataclass(frozen=True)
class AgentPresence:
    agent: str
    status: Literal["online", "away", "offline"]
    teams: tuple[str, ...]
    languages: tuple[str, ...]
    seen_at: str


@dataclass(frozen=True)
class ConversationRating:
    conversation_id: str
    score: int
    comment: str
    agent: str | None
    release: int | None
    created_at: str


@dataclass(frozen=True)
class Webhook:
    id: str
    workspace_id: str
    url: str
    events: tuple[str, ...]
    created_at: str


@dataclass(frozen=True)
class WebhookDelivery:
    id: str
    webhook_id: str
    event: str
    payload: dict[str, Any]
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: str
    response_status: int | None
    error: str
    created_at: str
    delivered_at: str | None


@dataclass(frozen=True)
class Job:
    id: str
    workspace_id: str
    kind: str
    status: Literal["receiving", "queued", "running", "succeeded", "failed"]
    progress: float
    result: dict[str, object] | None
    error: str | None
    created_at: str
    updated_at: str
    runner: str | None = None  # the process holding it, or a queue (zhiwen.processes)
    params: dict[str, object] | None = None  # what its task needs (zhiwen.tasks)
    takeovers: int = 0  # times a worker taken for dead was replaced on it


@dataclass(frozen=True)
class Feedback:
    id: str
    workspace_id: str
    answer_id: str
    rating: Rating
    comment: str
    correction: str
    created_by: str
    created_at: str


@dataclass(frozen=True)
class CuratedAnswer:
    """A question and the answer a person approved for it; matched before anything else."""

    id: str
    workspace_id: str
    question: str
    answer: str
    enabled: bool
    created_by: str
    created_at: str
    updated_by: str
    updated_at: str
    from_answer_id: str | None = None


@dataclass(frozen=True)
class GoldenSetVersion:
    id: str
    workspace_id: str
    name: str
    version: int
    note: str
    created_at: str
    size: int


@dataclass(frozen=True)
class EvalRun:
    id: str
    workspace_id: str
    golden_set_id: str
    target: str  # "working" or "release N"
    split: str
    summary: dict[str, Any]
    created_at: str


@dataclass(frozen=True)
class Release:
    """An immutable snapshot of what answers: knowledge (a frozen copy), settings and models."""

    id: str
    workspace_id: str
    number: int
    knowledge_id: str  # the snapshot workspace that holds the frozen documents, chunks and vectors
    config: dict[str, Any]
    manifest: dict[str, Any]
    eval_run_id: str | None
    note: str
    created_by: str
    created_at: str
    pruned_at: str | None = None  # its frozen knowledge was deleted to free space; it can no longer answer

    @property
    def suffix(self) -> str:
        """Appended to the working ids of the documents and chunks frozen in this release."""
        return f"@r{self.number}"


@dataclass(frozen=True)
class Review:
    """A customer review or message, with the live sentiment model's verdict once it has been scored."""

    id: str
    workspace_id: str
    text: str
    rating: float | None
    product: str
    channel: str
    created_at: str
    label: str | None  # the company's own label, for training and evaluation
    source: str
    sentiment: str | None = None
    probability: float | None = None
    model_version: int | None = None
    topic: int | None = None
    customer: str = ""  # who wrote it, when the file said (a customer's data can be exported or erased)


@dataclass(frozen=True)
class ModelVersion:
    """A trained model of one family ("recommender", "intent", "sentiment"): what it is and how it was
    chosen and scored."""

    workspace_id: str
    family: str
    version: int
    kind: str
    params: dict[str, Any]
    report: dict[str, Any]
    created_by: str
    created_at: str


@dataclass(frozen=True)
class CatalogItem:
    id: str
    title: str
    description: str = ""
    category: str = ""
    price: float | None = None
    available: bool = True


@dataclass(frozen=True)
class BehaviourEvent:
    """A customer did something with an item: view, cart, purchase or rating (weight: how much it says)."""

    user_id: str
    item_id: str
    kind: str
    weight: float
    at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class AuditEntry:
    """One change by a person, a key or the command line: who, when, what, from where and how it ended.

    Entries carry no request bodies (those may hold customers' personal data, which an append-only log
    could never erase). ``hash`` covers the entry and ``prev_hash``, so editing or removing one breaks the
    chain from there on."""

    seq: int
    workspace_id: str  # "" for changes outside any workspace (the command line's init, workspace create)
    at: str
    actor: str  # user:<e-mail>, key:<name>, cli:<os user>@<host>
    action: str  # "POST /v1/documents", "cli release promote"
    target: str  # the path called, or the command line's arguments without their values
    outcome: int  # the HTTP status, or the command's exit code
    source: str  # the client's address, or "cli"
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditQuery:
    actor: str | None = None  # exact
    action: str | None = None  # substring of the action ("release", "DELETE")
    since: str | None = None  # ISO 8601, inclusive
    until: str | None = None  # ISO 8601, exclusive
    before_seq: int | None = None  # paging: entries older than this one
    limit: int = 100


ERASED = "[erased]"
DISTINCT_WORDS_CHARS = 12  # a message this long is theirs even inside a longer text; shorter ones only whole


@dataclass(frozen=True)
class CustomerTraces:
    """What identifies a customer's words elsewhere in the store: their ``identifiers`` (the contacts
    they left, the personal data in their messages) and their messages of :data:`DISTINCT_WORDS_CHARS`
    characters or more. A short message ("我要退货") is anybody's and names nobody: it is not looked for
    outside their own rows."""

    words: frozenset[str]
    identifiers: tuple[str, ...]

    def needles(self) -> list[str]:
        return [*self.identifiers, *sorted(w for w in self.words if len(w) >= DISTINCT_WORDS_CHARS)]

    def erased(self, text: str) -> str:
        """``text`` with every needle replaced by :data:`ERASED`."""
        for needle in sorted(self.needles(), key=len, reverse=True):
            text = text.replace(needle, ERASED)
        return text


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
