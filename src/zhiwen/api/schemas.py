"""Request and response bodies, one per purpose."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from annotated_types import Interval
from pydantic import BaseModel, ConfigDict, Field

from zhiwen.services.trust.privacy import MAX_DAYS
from zhiwen.types import AnswerMode

MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_PHOTO_BASE64 = (MAX_PHOTO_BYTES + 2) // 3 * 4
SQL_INT_MAX = (
    2**63 - 1
)  # the largest integer SQLite and PostgreSQL store: a larger one cannot even be looked up
Number = Annotated[int, Interval(ge=1, le=SQL_INT_MAX)]  # versions and release numbers, in paths


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None  # e.g. the fields a 422 names


class ErrorResponse(BaseModel):
    error: ErrorBody


def other_content(description: str, *media_types: str) -> dict[int | str, dict[str, Any]]:
    """How to document a 200 that is not (only) JSON: a file, a page or a choice of formats."""
    content = {media_type: {"schema": {"type": "string"}} for media_type in media_types}
    return {200: {"description": description, "content": content}}


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
    conversation_id: str | None = Field(
        None,
        max_length=64,
        description="Continue this conversation (from an earlier answer): follow-ups such as '那它多少钱？' "
        "are read with its earlier turns. Omit to start a new one.",
    )
    stream: bool = False
    use_llm: bool = True
    document_ids: list[str] | None = Field(None, max_length=1000)
    tags: list[str] | None = Field(None, max_length=100)
    image: str | None = Field(
        None,
        max_length=MAX_PHOTO_BASE64,
        description="A photo (PNG, JPEG, WebP; base64, at most 8 MB): the product in it (with a live "
        "recogniser) and the text in it (a model code, an error on a screen) are asked with the question. "
        "The photo, cleaned of its metadata, is kept with the conversation for the agent who takes over "
        "(unless the workspace redacts stored personal data).",
    )


class VisitorCitationOut(BaseModel):
    """A citation as a website visitor gets it: the title and the words, not the file or its ids."""

    model_config = ConfigDict(extra="forbid")  # so a client tells it from CitationOut
    number: int
    document_title: str
    snippet: str


class CitationOut(VisitorCitationOut):
    document_id: str
    source: str
    chunk_id: str


class RelatedProductOut(BaseModel):
    id: str
    title: str
    category: str
    price: float | None
    because_of: str


class VisitorAnswerOut(BaseModel):
    """An answer as a website visitor gets it (widget keys): the text, its sources and what it was read
    as, not how it was made."""

    model_config = ConfigDict(extra="forbid")  # so a client tells it from AnswerResponse

    answer_id: str
    conversation_id: str | None
    question: str
    text: str
    language: Literal["zh", "en"]
    citations: list[VisitorCitationOut]
    handoff: bool
    related_products: list[RelatedProductOut] = Field(
        default_factory=list,
        description="Catalogue items related to the products the question names (setting "
        "related_products; off by default).",
    )
    understood_as: str | None = Field(
        None,
        description="The question as Zhiwen read it: a follow-up with the conversation's earlier turns, "
        "or in the documents' words (the company's synonyms); null when it was read as asked.",
    )
    read_from_photo: str | None = Field(
        None, description="The text read in the photo sent with the question (null without one)."
    )
    product_in_photo: str | None = Field(
        None,
        description="The product the live recogniser saw in the photo, when it was sure enough to ask"
        " about it (null otherwise); see docs/vision.md.",
    )


class AnswerResponse(VisitorAnswerOut):
    """An answer with how it was made, for the company's own programs and staff."""

    citations: list[CitationOut]  # type: ignore[assignment]  # with the file and ids a program opens

    confidence: float = Field(ge=0, le=1)
    mode: AnswerMode = Field(
        description="Where the text came from: curated, faq, extractive, llm; reply or tool (an intent's"
        " action); handoff (a person takes over)."
    )
    timings_ms: dict[str, float]
    release: int | None = Field(
        None, description="The release that answered; null before the first promotion."
    )
    intent: IntentOut | None = Field(
        None, description="The intent recognised (null without a live intent model); see docs/intents.md."
    )


Term = Annotated[str, Field(min_length=1, max_length=50)]


class SynonymsAdd(Strict):
    written: Term = Field(description="The word your documents use, exactly as they write it.")
    said: list[Term] = Field(min_length=1, max_length=100, description="Words your customers use for it.")


class SynonymsReplace(Strict):
    synonyms: dict[Term, Term] = Field(
        max_length=2000, description="Every synonym: the customer's word → the documents' word."
    )
    live_release: Number | None = Field(None, description="Ignored: GET's answer can be sent back as it is.")


class SynonymsOut(BaseModel):
    synonyms: dict[str, str] = Field(description="The customer's word → the documents' word.")
    live_release: int | None = Field(
        description="Customers get these with the next release after this one; null: at once."
    )


class SynonymsChangedOut(SynonymsOut):
    warnings: list[str] = Field(
        description="What may make the changed synonyms hurt answers: a customer's word the documents use "
        "themselves, a documents' word in none of them, a word too common to search."
    )


class HitTestRequest(Strict):
    question: str = Field(min_length=1, max_length=2000)
    target: Literal["working", "live"] = Field(
        "working",
        description="working: the knowledge and settings as they are now (what the next release freezes);"
        " live: the release customers get.",
    )
    use_llm: bool = False


class ExplainedHitOut(SearchHit):
    rank: int
    chosen: bool = Field(description="The passage the answer was taken from.")
    matched_terms: dict[str, float] = Field(
        description="The question's keyword terms found in the passage, with their IDF weight."
    )


class HitTestResponse(BaseModel):
    answer: AnswerResponse = Field(description="What a customer would get (nothing is recorded).")
    draft_text: str = Field(description="The answer before the handoff decision.")
    handoff_below: float = Field(description="Answers below this confidence go to a person.")
    release: int | None = Field(description="The release tested; null: the working knowledge.")
    hits: list[ExplainedHitOut]
    searched_as: str | None = Field(
        None, description="The question in the documents' words, when a synonym changed it; see /v1/synonyms."
    )


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
    waiting_chunks: int = Field(description="Chunks still waiting for their embedding (found by keywords).")
    characters: int
    created_at: str
    updated_at: str


class ChunkOut(BaseModel):
    id: str
    position: int
    kind: Literal["passage", "faq"]
    title_path: str
    question: str | None
    text: str
    terms: list[str] = Field(description="What keyword search matches the chunk on.")


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    total: int


class JobOut(BaseModel):
    id: str
    kind: str
    status: Literal["receiving", "queued", "running", "succeeded", "failed"]
    progress: float
    result: dict[str, object] | None
    error: str | None
    created_at: str
    updated_at: str


class FeedbackRequest(Strict):
    answer_id: str = Field(min_length=1, max_length=64)
    rating: Literal["like", "dislike"]
    comment: str = Field("", max_length=2000)
    correct_answer: str = Field("", max_length=4000, description="What the answer should have said.")


class ApproveRequest(Strict):
    answer: str | None = Field(None, max_length=4000, description="Approved text; default: the correction.")
    question: str | None = Field(None, max_length=1000, description="Question to store; default: as asked.")
    golden: str | None = Field(None, max_length=64, description="Also add the pair to this golden set.")


class DismissRequest(Strict):
    answer_ids: list[str] = Field(min_length=1, max_length=1000)


class CuratedCreate(Strict):
    question: str = Field(min_length=1, max_length=1000)
    answer: str = Field(min_length=1, max_length=4000)


class CuratedUpdate(Strict):
    question: str | None = Field(None, min_length=1, max_length=1000)
    answer: str | None = Field(None, min_length=1, max_length=4000)
    enabled: bool | None = None


class GoldenItemIn(Strict):
    question: str = Field(min_length=1, max_length=1000)
    expected_answer: str | list[str] | None = None
    expected_document: str | list[str] | None = None
    answerable: bool | None = None
    category: str = Field("", max_length=100)
    context: list[Annotated[str, Field(max_length=1000)]] | None = Field(
        None, max_length=50, description="A follow-up's earlier questions in its conversation."
    )
    follow_up: bool | None = None
    conversation: str | None = Field(None, max_length=100)


class GoldenCreate(Strict):
    items: list[GoldenItemIn] = Field(min_length=1, max_length=50_000)
    note: str = Field("", max_length=500)


class EvalRequest(Strict):
    golden: str = Field(min_length=1, max_length=64)
    version: int | None = Field(None, ge=1, le=SQL_INT_MAX)
    split: Literal["held_out", "tune", "all"] = "held_out"
    release: int | None = Field(
        None, ge=1, le=SQL_INT_MAX, description="Default: the working knowledge and settings."
    )
    live: bool = False


class ReleaseCreate(Strict):
    golden: str | None = Field(
        None, max_length=64, description="Evaluate on this golden set's held-out split."
    )
    settings: dict[str, str] = Field(default_factory=dict, description='Overrides, e.g. {"top_k": "6"}.')
    note: str = Field("", max_length=500)


class RollbackRequest(Strict):
    release: int | None = Field(
        None, ge=1, le=SQL_INT_MAX, description="Default: the release live before the current one."
    )


class PruneRequest(Strict):
    keep: int = Field(5, ge=1, le=10_000, description="Keep the newest N releases (and the live one).")


class RerankTrainRequest(Strict):
    golden: str = Field(min_length=1, max_length=64, description="Trained on this golden set's tuning split.")


class TuneRequest(Strict):
    golden: str = Field(min_length=1, max_length=64)
    trials: int = Field(30, ge=1, le=500)


class GateThresholds(Strict):
    minimum: dict[str, float] = Field(default_factory=dict)
    tolerance: float | None = Field(None, ge=0, le=1)


class ReviewIn(BaseModel):
    """One review; unknown fields are ignored, so exports from other tools can be posted as they are."""

    model_config = ConfigDict(extra="allow")
    text: str = Field(max_length=20_000)
    rating: float | str | None = None
    product: str | None = Field(None, max_length=200)
    channel: str | None = Field(None, max_length=100)
    timestamp: str | None = Field(None, max_length=40)
    label: (
        Annotated[str, Field(max_length=100)]
        | Annotated[int, Interval(ge=-SQL_INT_MAX, le=SQL_INT_MAX)]
        | None
    ) = None


class ReviewsImport(Strict):
    reviews: list[ReviewIn] = Field(min_length=1, max_length=5000)
    score: bool = True


class ClassifyItem(Strict):
    text: str = Field(max_length=20_000)
    product: str = Field("", max_length=200)


class ClassifyRequest(Strict):
    items: list[ClassifyItem] = Field(min_length=1, max_length=1000)
    explain: bool = True


Candidate = Literal["ngram", "embedding", "blend"]


def _all_candidates() -> list[Candidate]:
    return ["ngram", "embedding", "blend"]


class SentimentTrainRequest(Strict):
    candidates: list[Candidate] = Field(default_factory=_all_candidates, min_length=1)
    from_ratings: bool = False
    folds: int = Field(3, ge=2, le=10)
    max_embedded: int = Field(6000, ge=100, le=100_000)


Recommender = Literal["popularity", "itemknn", "als", "content"]


def _all_recommenders() -> list[Recommender]:
    return ["popularity", "itemknn", "als", "content"]


class RecommenderTrainRequest(Strict):
    candidates: list[Recommender] = Field(default_factory=_all_recommenders, min_length=1)
    promote: bool = Field(False, description="Promote the result if it passes the gate.")


class TopicsRequest(Strict):
    k: int | None = Field(None, ge=2, le=30)


class EventIn(BaseModel):
    """One behaviour event; ``timestamp`` defaults to now."""

    model_config = ConfigDict(extra="forbid")
    user_id: str = Field(min_length=1, max_length=200)
    item_id: str = Field(min_length=1, max_length=200)
    event: str = Field("view", max_length=40)
    weight: float | None = Field(None, ge=0, le=1000)
    timestamp: str | None = Field(None, max_length=40)


class EventsIn(Strict):
    events: list[EventIn] = Field(min_length=1, max_length=1000)


# ---- the service desk -----------------------------------------------------------------------------------


class MessageRequest(Strict):
    text: str = Field(min_length=1, max_length=4000)
    use_llm: bool = True
    stream: bool = Field(False, description="Server-sent events: 'delta' ({\"text\"}) pieces, then 'turn'.")
    image: str | None = Field(
        None,
        max_length=MAX_PHOTO_BASE64,
        description="A photo (base64, at most 8 MB): the product and the text in it join the message, as in"
        " /v1/ask; the photo, cleaned of its metadata, is kept with the message for the agent who takes"
        " over.",
    )


class HumanRequest(Strict):
    contact: str = Field("", max_length=200, description="Phone or e-mail for a reply when nobody is online.")
    message: str = Field("", max_length=4000)


class RatingRequest(Strict):
    score: int = Field(ge=1, le=5, description="1 (bad) to 5 (excellent).")
    comment: str = Field("", max_length=2000)


class AgentMessageRequest(Strict):
    text: str = Field(min_length=1, max_length=4000)


class AssignRequest(Strict):
    agent: str = Field(min_length=1, max_length=200, description="Agent id, e.g. key:alice")


class PresenceRequest(Strict):
    status: Literal["online", "away", "offline"]
    teams: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=20)
    languages: list[Literal["zh", "en"]] = Field(default_factory=list, max_length=2)


class DeskMessageOut(BaseModel):
    id: int = Field(description="Grows with every message: send the last one seen as Last-Event-ID.")
    conversation_id: str
    author: Literal["customer", "bot", "agent", "note", "system"]
    author_name: str
    text: str
    created_at: str
    answer_id: str | None
    citations: list[Annotated[CitationOut | VisitorCitationOut, Field(union_mode="left_to_right")]] = Field(
        description="Widget keys get the visitor's view: title and snippet."
    )
    photo: bool = Field(
        False,
        description="The customer sent a photo with it: GET /v1/desk/conversations/{id}/messages/{id}/photo",
    )


class DeskStateOut(BaseModel):
    status: Literal["bot", "waiting", "open", "resolved"]
    reason: str | None = Field(
        description="Why it was queued (asked_for_human, bot_handoff or an intent's name); null for widget"
        " keys."
    )
    position: int | None = Field(description="Place in the queue while waiting (1 = next).")
    expected_wait_minutes: int | None
    agents_online: int
    open_now: bool
    assignee_name: str | None


class TurnResponse(BaseModel):
    conversation_id: str
    answer: AnswerResponse | VisitorAnswerOut | None = Field(
        description="The bot's answer; null while people hold it. Widget keys get the visitor's view: no"
        " confidence, mode, timings, release or intent.",
        union_mode="left_to_right",
    )
    messages: list[DeskMessageOut]
    state: DeskStateOut
    visitor_token: str | None = Field(None, description="Widget keys: bind later calls with X-Visitor-Token.")


class ConversationOut(BaseModel):
    id: str
    status: Literal["bot", "waiting", "open", "resolved"]
    language: str
    team: str
    assignee: str | None
    reason: str | None
    contact: str
    failed_answers: int
    priority: int = Field(0, description="1: urgent (an urgent intent such as a complaint), taken first.")
    created_at: str
    queued_at: str | None
    first_response_at: str | None
    resolved_at: str | None
    updated_at: str
    last_message: str


class ConversationSummaryOut(ConversationOut):
    turns: int = Field(description="The bot's answers in the conversation.")
    lowest_confidence: float | None
    dislikes: int
    rating: int | None = Field(description="The customer's 1-5 rating of the conversation.")


# ---- people who sign in ---------------------------------------------------------------------------------


class SignInRequest(Strict):
    email: str = Field(min_length=3, max_length=256)
    password: str = Field(min_length=1, max_length=256)


class UserCreate(Strict):
    email: str = Field(min_length=3, max_length=256)
    name: str = Field(min_length=1, max_length=100)
    role: Literal["admin", "agent"] = "agent"
    password: str = Field(min_length=10, max_length=256)


class PasswordReset(Strict):
    password: str = Field(min_length=10, max_length=256)


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    role: Literal["admin", "agent"]
    created_at: str
    disabled_at: str | None


class WorkspaceOut(BaseModel):
    id: str
    name: str
    created_at: str
    documents: int
    chunks: int
    waiting_chunks: int = Field(description="Chunks still waiting for their embedding.")
    releases: int
    live_release: int | None
    users: int
    active_keys: int


class KeyCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    role: Literal["admin", "client", "agent", "widget"] = Field(
        "client",
        description="client: asks and searches; agent: the desk; admin: everything; widget: the chat widget"
        " on the pages of ``origins`` only.",
    )
    origins: list[Annotated[str, Field(max_length=300)]] = Field(default_factory=list, max_length=50)


class KeyOut(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="The start of the key, to recognise it; the secret is never stored.")
    role: Literal["admin", "client", "agent", "widget"]
    created_at: str
    revoked_at: str | None
    origins: list[str]


class IssuedKeyOut(KeyOut):
    secret: str = Field(description="The key itself, shown only in this response.")


class SignedInOut(BaseModel):
    user: UserOut
    csrf_token: str = Field(description="Send it as X-CSRF-Token with every change made with the cookie.")
    expires_at: str


class WebhookCreate(Strict):
    url: str = Field(min_length=8, max_length=2000)
    events: list[Literal["handoff", "message", "resolve", "rating"]] = Field(min_length=1, max_length=4)


class InboundReply(Strict):
    """A reply from an external desk (Chatwoot, Zendesk…), shown to the customer as the agent's."""

    conversation_id: str = Field(min_length=1, max_length=64)
    agent: str = Field(min_length=1, max_length=100, description="The external agent's name.")
    text: str = Field("", max_length=4000)
    resolve: bool = False


# The OpenAI-compatible face (`/v1/chat/completions`, `/v1/models`): OpenAI's field names, not ours.


class ChatContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = Field(max_length=40)
    text: str | None = Field(None, max_length=20_000)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls…: accepted and ignored
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: (
        Annotated[str, Field(max_length=100_000)]
        | Annotated[list[ChatContentPart], Field(max_length=100)]
        | None
    ) = None


class ChatCompletionRequest(BaseModel):
    """OpenAI's request; sampling parameters (temperature, max_tokens, n…) are accepted and ignored: answers
    come from the knowledge, not from sampling."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False
    conversation_id: str | None = Field(
        None,
        max_length=64,
        description="Zhiwen extension: continue this stored conversation instead of reading the earlier "
        "user messages of the request.",
    )


class ChatAssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatAssistantMessage
    finish_reason: Literal["stop"] = "stop"


class ZhiwenAnswerInfo(BaseModel):
    """Zhiwen extension: what the plain OpenAI fields cannot say."""

    answer_id: str
    conversation_id: str | None
    confidence: float
    handoff: bool = Field(description="A person takes over: the text tells the customer who replies when.")
    mode: AnswerMode
    release: int | None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    citations: list[CitationOut] = Field(description="The passages the [n] markers in the text refer to.")
    zhiwen: ZhiwenAnswerInfo


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "zhiwen"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class IntentOut(BaseModel):
    """The intent the live intent model recognised, and what was done."""

    name: str
    probability: float
    action: Literal["answer", "handoff", "reply", "tool"]
    version: int = Field(description="The intent model version that recognised it.")
    awaiting: str | None = Field(None, description="The slot the reply asked the customer for.")
    slots: dict[str, str] = Field(default_factory=dict)
    error: str | None = Field(None, description="Why the action failed (a tool's timeout…).")
    urgent: bool = Field(False, description="The handoff goes before conversations that waited longer.")


Texts = dict[str, Annotated[str, Field(max_length=2000)]] | Annotated[str, Field(max_length=2000)]


class SlotIn(Strict):
    name: str = Field(max_length=64)
    pattern: str = Field(
        "", max_length=200, description="order_number, phone, date, email, or a regular expression."
    )
    prompt: Texts = Field(description="How to ask for it: {zh, en} or one text.")


class ToolIn(Strict):
    url: str = Field(max_length=2000, description="May use slots ({order_number}) and {secret:NAME}.")
    method: Literal["GET", "POST"] = "GET"
    headers: dict[str, Annotated[str, Field(max_length=2000)]] = Field(default_factory=dict, max_length=20)
    timeout_s: float = Field(5.0, gt=0, le=30)
    reply: Texts = Field(description="Filled from the JSON reply ({status}, {delivery.eta}) and the slots.")


class IntentDefinition(Strict):
    name: str = Field(max_length=64, description="Lower-case letters, digits and _.")
    action: Literal["answer", "handoff", "reply", "tool"] = "answer"
    description: str = Field("", max_length=500)
    reply: Texts | None = None
    slots: list[SlotIn] = Field(default_factory=list, max_length=10)
    tool: ToolIn | None = None
    urgent: bool = Field(False, description="A handoff goes before conversations that waited longer.")
    examples: list[Annotated[str, Field(max_length=500)]] = Field(min_length=1, max_length=5000)


class IntentsIn(Strict):
    intents: list[IntentDefinition] = Field(max_length=200)


class IntentsOut(BaseModel):
    intents: list[IntentDefinition]
    live: int | None = Field(description="The live intent model version; null: intents are not used yet.")


class IntentClassifyRequest(Strict):
    message: str = Field(min_length=1, max_length=1000)


class IntentClassifyResponse(BaseModel):
    match: IntentOut | None = Field(description="null without a live intent model.")
    ranked: list[tuple[str, float]] = Field(description="Every intent with its probability, best first.")
    threshold: float | None = Field(description="Below it a message is out of scope (the knowledge answers).")


class ModelVersionOut(BaseModel):
    family: str
    version: int
    kind: str
    params: dict[str, Any]
    report: dict[str, Any]
    created_by: str
    created_at: str


class ModelVersionsOut(BaseModel):
    live: int | None
    models: list[ModelVersionOut]


class GateVerdictOut(BaseModel):
    version: int
    passed: bool
    failures: list[str]
    candidate: dict[str, Any]
    live: dict[str, Any] | None
    popularity: dict[str, Any] | None = Field(
        None, description="Recommenders: the popularity baseline on the same test period, to beat."
    )


class LiveVersionOut(BaseModel):
    live: int = Field(description="The version live now.")


class ModelEventOut(BaseModel):
    version: int
    action: str
    detail: dict[str, Any]
    actor: str
    at: str


class IntentTrainRequest(Strict):
    promote: bool = Field(False, description="Promote at once if the new version passes the gate.")


class BackendOut(BaseModel):
    role: Literal["embedding", "llm"]
    kind: Literal["bundled", "openai-compatible", "gguf", "none"]
    model: str
    url: str | None
    ok: bool | None = Field(description="Whether the last check worked; null: not checked.")
    ms: float | None
    error: str | None


# ---- evaluation and releases ---------------------------------------------------------------------------


class EvalRunOut(BaseModel):
    id: str
    golden_set_id: str
    target: str = Field(description='"working" or "release N".')
    split: Literal["held_out", "tune", "all"]
    summary: dict[str, Any] = Field(
        description="answer_accuracy, citation_accuracy, handoff_precision, handoff_recall, ndcg_at_k, ece, "
        "latencies, per category, and the settings evaluated."
    )
    created_at: str


class EvalRunDetailOut(EvalRunOut):
    results: list[dict[str, Any]] = Field(description="One row per question: the answer and its scores.")


class CurvePoint(BaseModel):
    threshold: float
    handoff_share: float
    answered_accuracy: float | None
    answer_accuracy: float | None


class HandoffCurveOut(BaseModel):
    run_id: str
    questions: int
    threshold_now: float = Field(description="The handoff threshold the run used.")
    points: list[CurvePoint]


class ChangedQuestion(BaseModel):
    question: str
    before: str
    after: str
    answerable: bool


class EvalComparisonOut(BaseModel):
    before: str
    after: str
    shared_questions: int
    metrics: dict[str, dict[str, float]]
    better: list[ChangedQuestion]
    worse: list[ChangedQuestion]


class ReleaseManifestOut(BaseModel):
    documents: int
    chunks: int


class ReleaseOut(BaseModel):
    id: str
    number: int
    knowledge_id: str
    config: dict[str, Any] = Field(description="The frozen settings, and which models (not their weights).")
    manifest: ReleaseManifestOut
    eval_run_id: str | None
    note: str
    created_by: str
    created_at: str
    pruned_at: str | None
    live: bool


class CreatedReleaseOut(ReleaseOut):
    evaluation: EvalRunOut | None


class ReleaseGateOut(BaseModel):
    release: int
    passed: bool
    failures: list[str]
    candidate: dict[str, float | None]
    live: dict[str, float | None] | None
    worse_questions: list[ChangedQuestion]


class ReleaseEventOut(BaseModel):
    release: int
    action: str
    detail: dict[str, Any]
    actor: str
    at: str


class PrunedOut(BaseModel):
    pruned: list[int]


# ---- feedback, review, curated answers, golden sets ------------------------------------------------------


class FeedbackOut(BaseModel):
    id: str
    answer_id: str
    rating: Literal["like", "dislike"]
    comment: str
    correction: str
    created_by: str
    created_at: str


class ReviewGroupOut(BaseModel):
    question: str = Field(description="The group's first question.")
    answer_ids: list[str] = Field(description="Every answer in the group; approve or dismiss by any of them.")
    questions: list[str] = Field(description="Up to five differently worded questions of the group.")
    count: int
    dislikes: int
    handoffs: int
    correction: str = Field(description="A correction a customer sent with a dislike, if any.")
    comments: list[str]


class DismissedOut(BaseModel):
    closed: int = Field(description="Answers closed, whole groups included.")


class CuratedOut(BaseModel):
    id: str
    question: str
    answer: str
    enabled: bool
    created_by: str
    created_at: str
    updated_by: str
    updated_at: str
    from_answer_id: str | None


class GoldenSetVersionOut(BaseModel):
    id: str
    name: str
    version: int
    note: str
    created_at: str
    size: int


class GoldenItemOut(BaseModel):
    question: str
    expected_answer: list[str]
    expected_document: list[str]
    answerable: bool
    category: str
    context: list[str] | None = None
    follow_up: bool | None = None
    conversation: str | None = None


class GoldenSetOut(GoldenSetVersionOut):
    items: list[GoldenItemOut]


# ---- reviews and sentiment ------------------------------------------------------------------------------


class ImportReportOut(BaseModel):
    source: str
    rows: int
    imported: int
    already_stored: int
    problems: list[dict[str, Any]] = Field(description='Each bad row: {"row": n (from 1), "problem": why}.')
    scored: int


class ClassificationOut(BaseModel):
    label: str
    probability: float
    probabilities: dict[str, float]
    words: list[tuple[str, float]] = Field(
        description="The words that drove the decision, with their weight."
    )
    model: str = Field(description='"v3 (blend)", or "zero-shot baseline" before a model is promoted.')


class ReviewOut(BaseModel):
    id: str
    text: str
    rating: float | None
    product: str
    channel: str
    created_at: str
    label: str | None = Field(description="The company's own label, for training and evaluation.")
    source: str
    sentiment: str | None
    probability: float | None
    model_version: int | None
    topic: int | None


class TopicOut(BaseModel):
    id: int
    name: str
    keywords: list[str]
    examples: list[str]
    size: int


class TopicsOut(BaseModel):
    silhouette: float | None = None
    reviews: int | None = Field(None, description="Negative reviews clustered.")
    topics: list[TopicOut]


# ---- the desk, the widget and the catalogue -------------------------------------------------------------


class AnswerContextOut(BaseModel):
    confidence: float | None
    mode: str | None
    release: int | None
    withheld: dict[str, Any] | None = Field(description="The answer the bot drafted but did not send.")
    passages: list[dict[str, Any]] = Field(description="What it cited: title and snippet, at most three.")


class ConversationContextOut(BaseModel):
    conversation: ConversationOut
    messages: list[DeskMessageOut]
    answers: dict[str, AnswerContextOut] = Field(description="Each bot reply's answer, by answer_id.")
    state: DeskStateOut


class AgentOut(BaseModel):
    agent: str
    status: Literal["online", "away", "offline"]
    teams: list[str]
    languages: list[str]
    seen_at: str


class RatingOut(BaseModel):
    conversation_id: str
    score: int
    comment: str
    agent: str | None
    release: int | None
    created_at: str


class DeskFiguresOut(BaseModel):
    group: str
    conversations: int
    handed_off: int
    handoff_rate: float | None
    containment: float | None
    ratings: int
    csat: float | None
    mean_score: float | None
    first_response_minutes: float | None = Field(description="Median.")
    resolution_minutes: float | None = Field(description="Median.")


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    created_at: str


class CreatedWebhookOut(WebhookOut):
    secret: str = Field(description="Signs X-Zhiwen-Signature; shown only in this response.")


class WebhookDeliveryOut(BaseModel):
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


class DeskSettingsOut(BaseModel):
    hours: dict[str, Any] | None
    welcome: dict[str, str]
    suggestions: dict[str, list[str]]
    failed_answers: int
    teams: list[str]
    routing: list[dict[str, Any]]
    look: dict[str, Any]


class WidgetConfigOut(BaseModel):
    look: dict[str, Any]
    welcome: dict[str, str]
    suggestions: dict[str, list[str]]
    staffed: bool
    open_now: bool
    hours: dict[str, str] = Field(description="The desk's hours in words, per language.")


class CatalogItemOut(BaseModel):
    id: str
    title: str
    description: str
    category: str
    price: float | None
    available: bool


class CatalogImportOut(BaseModel):
    source: str
    rows: int
    added: int
    updated: int
    already_stored: int
    out_of_order: int
    problems: list[dict[str, Any]]


class RecommendedOut(BaseModel):
    item: CatalogItemOut
    score: float
    reason: str
    because: dict[str, str] | None
    text: str


class RecommendationsOut(BaseModel):
    user: str
    recommender: int | None
    items: list[RecommendedOut]


class SimilarItemsOut(BaseModel):
    item: str
    items: list[RecommendedOut]


class AuditEntryOut(BaseModel):
    seq: int
    workspace_id: str
    at: str
    actor: str
    action: str
    target: str
    outcome: int
    source: str
    prev_hash: str
    hash: str


class AuditPageOut(BaseModel):
    entries: list[AuditEntryOut]
    next_before: int | None = Field(description="Pass as `before` for older entries; null at the start")


class AuditVerificationOut(BaseModel):
    ok: bool
    entries: int
    head: str = Field(description="The last entry's hash: keep it elsewhere to prove this history later")
    broken_at: int | None
    problem: str


class SecretPut(Strict):
    value: str = Field(min_length=1, max_length=4096, description="Stored sealed; never shown again")


class SecretOut(BaseModel):
    name: str
    updated_at: str


class PrivacySettingsOut(BaseModel):
    redact_stored: bool = Field(description="Store conversations and answers with personal data redacted")
    redact_ingested: bool = Field(description="Index documents with personal data redacted")
    kinds: list[str] = Field(
        description="phone, id_number, bank_card, email; address and name are best effort"
    )
    keep_conversations_days: int | None = Field(
        description="Delete conversations older than this; null keeps"
    )
    keep_events_days: int | None = Field(description="Delete behaviour events older than this; null keeps")


class PrivacySettingsPatch(Strict):
    redact_stored: bool | None = None
    redact_ingested: bool | None = None
    kinds: list[Literal["phone", "id_number", "bank_card", "email", "address", "name"]] | None = Field(
        None, min_length=1
    )
    keep_conversations_days: int | None = Field(None, ge=1, le=MAX_DAYS)
    keep_events_days: int | None = Field(None, ge=1, le=MAX_DAYS)


class CustomerRequest(Strict):
    conversation_ids: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list, max_length=1000
    )
    visitor_token: str | None = Field(None, max_length=200, description="The widget's X-Visitor-Token")
    contact: str | None = Field(None, max_length=300, description="What they left for a callback")
    user_id: str | None = Field(None, max_length=300, description="Your id for them in events and reviews")


class ErasureOut(BaseModel):
    counts: dict[str, int]
    remaining: list[str] = Field(description="Tables still holding their words: empty when nothing is left")


class ExpiredOut(BaseModel):
    conversations: int
    answers: int
    events: int
    predictions: int  # table models' logged predictions (kept as long as events)


# Table models (custom models on a company's tables) ----------------------------------------------------

TableModelName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="the model's name")]
# Integers bounded like every integer a client sends (a 400-digit one would overflow a float).
CellValue = (
    str
    | Annotated[int, Field(ge=-SQL_INT_MAX, le=SQL_INT_MAX)]
    | Annotated[float, Field(allow_inf_nan=False)]
    | bool
    | None
)


class TableModelOut(BaseModel):
    name: str
    target: str
    task: Literal["classification", "regression"]
    drop: list[str]
    created_by: str
    created_at: str
    live: int | None
    versions: int


class TablePredictRequest(Strict):
    rows: list[dict[str, CellValue]] = Field(
        min_length=1, max_length=10_000, description="one object per row: column name → value"
    )
    version: int | None = Field(None, ge=1, le=SQL_INT_MAX, description="default: the live version")
    explain: bool = Field(True, description="name the columns that drove each prediction")


class TablePredictionOut(BaseModel):
    prediction: str | float
    probability: float | None
    probabilities: dict[str, float] | None
    drivers: list[dict[str, Any]]
    warnings: list[str]


class TablePredictOut(BaseModel):
    model: str
    version: int
    predictions: list[TablePredictionOut]


class TableDriftOut(BaseModel):
    version: int
    rows: int
    verdict: Literal["too_few", "stable", "moderate", "shifted"]
    message: str
    columns: list[dict[str, Any]]


class RecognizeRequest(Strict):
    image: str = Field(
        min_length=1,
        max_length=MAX_PHOTO_BASE64,
        description="A photo (PNG, JPEG, WebP; base64 or a data: URL, at most 8 MB). It is not kept.",
    )
    read_text: bool = Field(True, description="Also read the text in the photo (OCR; about 50-400 ms).")


class ProductGuessOut(BaseModel):
    product: str
    probability: float


class RecognitionOut(BaseModel):
    product: str | None = Field(description="The likeliest product; null without a live recogniser.")
    probability: float
    top: list[ProductGuessOut] = Field(description="The five likeliest products, likeliest first.")
    text: str = Field(description="The text read in the photo ('' when none, or read_text is false).")
    version: int | None = Field(description="The recogniser version that answered.")
