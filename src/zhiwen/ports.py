"""The seams of Zhiwen: each is a small Protocol with an embedded default and one contract-test suite.

Services depend on these and nothing else; ``wiring`` picks the implementations. Implementations that live
in the same database as the :class:`DocumentStore` (the embedded FTS5 keyword index, a future pgvector
index) join its ``transaction()``, so a document and its index entries commit or roll back together.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from zhiwen.types import (
    AgentPresence,
    Answer,
    ApiKey,
    AuditEntry,
    AuditQuery,
    Author,
    BehaviourEvent,
    CatalogItem,
    Chunk,
    Citation,
    ConversationFilter,
    ConversationRating,
    ConversationSummary,
    CuratedAnswer,
    CustomerTraces,
    DeskChange,
    DeskConversation,
    DeskMessage,
    Document,
    EvalRun,
    Feedback,
    GoldenSetVersion,
    Job,
    ModelVersion,
    Rating,
    RelatedProduct,
    Release,
    Review,
    Role,
    Session,
    User,
    Webhook,
    WebhookDelivery,
    Workspace,
)

Vector = npt.NDArray[np.float32]


class WorkspaceStore(Protocol):
    def create_workspace(self, name: str) -> Workspace: ...
    def get_workspace(self, name_or_id: str) -> Workspace: ...
    def list_workspaces(self) -> list[Workspace]: ...

    def create_key(
        self,
        workspace_id: str,
        name: str,
        role: Role,
        key_hash: str,
        prefix: str,
        origins: Sequence[str] = (),
    ) -> ApiKey: ...
    def find_key(self, key_hash: str) -> ApiKey | None: ...
    def list_keys(self, workspace_id: str) -> list[ApiKey]: ...
    def revoke_key(self, key_id_or_prefix: str) -> ApiKey: ...

    def get_setting(self, workspace_id: str, key: str) -> Any | None: ...
    def get_settings(self, workspace_id: str, keys: Collection[str]) -> dict[str, Any]:
        """The settings of ``keys`` that are set, in one read."""
        ...

    def put_setting(self, workspace_id: str, key: str, value: Any) -> None: ...


class UserStore(Protocol):
    """People who sign in, their password hashes and their sessions (tokens stored only as hashes)."""

    def create_user(
        self, workspace_id: str, email: str, name: str, role: str, password_hash: str
    ) -> User: ...
    def get_user(self, user_id: str) -> User: ...
    def find_user(self, email: str) -> tuple[User, str] | None:
        """The user with this e-mail address and their password hash."""
        ...

    def list_users(self, workspace_id: str) -> list[User]: ...
    def update_user(self, user_id: str, changes: dict[str, Any]) -> User:
        """Change ``name``, ``role``, ``password_hash`` or ``disabled_at``."""
        ...

    def create_session(self, session: Session, token_hash: str) -> None: ...
    def find_session(self, token_hash: str, now: str) -> Session | None:
        """The unexpired session with this token hash."""
        ...

    def delete_sessions(self, user_id: str, session_id: str | None = None) -> None:
        """End one session of the user, or all of them."""
        ...


class DocumentStore(Protocol):
    def transaction(self) -> AbstractContextManager[object]: ...

    def find_document(self, workspace_id: str, source: str) -> Document | None: ...
    def get_document(self, workspace_id: str, document_id: str) -> Document: ...
    def titles_and_sources(
        self, workspace_id: str, document_ids: Collection[str]
    ) -> dict[str, tuple[str, str]]:
        """Each found document's title and source, in one read (what a search hit shows of its document;
        :meth:`get_document` also counts the document's chunks)."""
        ...

    def list_documents(self, workspace_id: str, limit: int = 100, offset: int = 0) -> list[Document]: ...
    def count_documents(self, workspace_id: str) -> int: ...
    def row_titles(self, workspace_id: str) -> list[str]:
        """The distinct titles of chunks that do not start with their document's title: the rows of a
        JSONL document that titles them (a catalogue's products, a price list's plans), not a document's
        sections nor a table's FAQ entries."""
        ...

    def documents_version(self, workspace_id: str) -> str:
        """Changes whenever a document is added, replaced or deleted (what caches of titles key on)."""
        ...

    def replace_document(self, document: Document, chunks: Sequence[Chunk]) -> list[str]:
        """Insert or replace ``document`` with exactly ``chunks``; returns the ids of chunks removed. A
        chunk the document already holds with the same id and content keeps its row, so its vectors
        (ingestion names chunks by their content), and takes its new position; one whose content
        changed under the same id is written anew and waits to be embedded."""
        ...

    def delete_document(self, workspace_id: str, document_id: str) -> list[str]: ...

    def get_chunks(self, workspace_id: str, chunk_ids: Sequence[str]) -> dict[str, Chunk]: ...
    def chunk_ids_by_hash(self, workspace_id: str, hashes: Collection[str]) -> dict[str, str]: ...
    def chunk_ids_for_documents(self, workspace_id: str, document_ids: Collection[str]) -> set[str]: ...
    def chunk_ids_with_tags(self, workspace_id: str, tags: Collection[str]) -> set[str]: ...
    def document_chunks(self, workspace_id: str, document_id: str) -> list[Chunk]: ...
    def iter_chunks(self, workspace_id: str) -> Iterator[Chunk]: ...
    def count_chunks(self, workspace_id: str) -> int: ...

    def claim_chunks_needing_vectors(
        self, limit: int, holder: str, stale_before: float, document_id: str | None = None
    ) -> list[Chunk]:
        """Up to ``limit`` chunks waiting for vectors, in upload order (only ``document_id``'s when
        given), now held by ``holder``: none held by another embedder unless its claim is older than
        ``stale_before`` (it was taken for dead), so several embedders on one database share the work
        instead of repeating it."""
        ...

    def vector_claim_holders(self) -> set[str]:
        """Who holds chunks still waiting for vectors."""
        ...

    def release_vector_claims(self, holder: str) -> int:
        """Hand ``holder``'s waiting chunks back (its process is gone); returns how many."""
        ...

    def mark_embedded(self, chunk_ids: Sequence[str], holder: str) -> int:
        """Mark the chunks ``holder`` still holds as embedded; returns how many. A chunk replaced by a new
        upload meanwhile (a new row, held by nobody) or taken over by another embedder stays waiting:
        the vectors just written may be of its old text."""
        ...

    def count_chunks_needing_vectors(self, workspace_id: str | None = None) -> int: ...

    def save_signatures(self, signatures: dict[str, bytes]) -> None:
        """Store each chunk's MinHash signature (:mod:`zhiwen.text.fingerprints`) and its LSH buckets."""
        ...

    def near_duplicate_of(
        self, workspace_id: str, signature: bytes, ignore: Collection[str] = ()
    ) -> str | None:
        """A chunk of the workspace sharing an LSH bucket with ``signature`` (probably near-identical
        text), other than those in ``ignore``; None when there is none."""
        ...


class KeywordIndex(Protocol):
    def add(self, chunks: Sequence[Chunk], terms: Sequence[str] | None = None) -> None:
        """Index the chunks. ``terms`` (one :func:`~zhiwen.text.tokenize.indexed_terms` per chunk) let a
        caller tokenise before it opens the write transaction, so other writers never wait on jieba;
        without them they are computed here."""
        ...

    def remove(self, workspace_id: str, chunk_ids: Sequence[str]) -> None: ...
    def search(
        self, workspace_id: str, query: str, k: int, restrict_to: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        """Best ``k`` chunk ids by BM25, highest first; ``restrict_to`` limits the candidates."""
        ...

    def search_weighted(
        self, workspace_id: str, query: str, k: int, restrict_to: Collection[str] | None = None
    ) -> tuple[list[tuple[str, float]], dict[str, float]]:
        """:meth:`search`, and the IDF of each distinct keyword term of ``query`` that occurs in the
        workspace's index (its own statistics: other workspaces never change them), from one reading of
        those statistics."""
        ...


class VectorIndex(Protocol):
    def add(self, workspace_id: str, chunk_ids: Sequence[str], vectors: Vector) -> None: ...
    def remove(self, workspace_id: str, chunk_ids: Sequence[str]) -> None: ...
    def search(
        self, workspace_id: str, query: Vector, k: int, restrict_to: Collection[str] | None = None
    ) -> list[tuple[str, float]]: ...
    def scores(self, workspace_id: str, query: Vector, chunk_ids: Sequence[str]) -> dict[str, float]:
        """Similarity of ``query`` to each listed chunk that has a vector (others are absent)."""
        ...

    def count(self, workspace_id: str) -> int: ...

    def mean(self, workspace_id: str, chunk_ids: Sequence[str]) -> tuple[Vector, int] | None:
        """The mean of the listed chunks' vectors and how many had one (None when none has)."""
        ...

    def add_sentences(self, workspace_id: str, chunk_ids: Sequence[str], vectors: Sequence[Vector]) -> None:
        """Store each chunk's sentence vectors (one row per sentence of
        :func:`zhiwen.services.knowledge.embedding.sentence_texts`), replacing earlier ones."""
        ...

    def sentence_scores(self, workspace_id: str, query: Vector, chunk_ids: Sequence[str]) -> dict[str, float]:
        """Similarity of ``query`` to the best-matching sentence of each listed chunk that has sentence
        vectors (others are absent)."""
        ...


class Embedder(Protocol):
    name: str
    dim: int

    @property
    def adapts_questions(self) -> bool:
        """Does :meth:`embed_questions` move questions away from :meth:`embed_queries`' vectors?"""
        ...

    @property
    def question_space(self) -> str:
        """Names where :meth:`embed_questions` puts a question: the model and its question adapter. Models
        fitted on answers' scores (confidence, chooser, re-ranker) are stamped with it, so `zhiwen check`
        can say which were fitted through another."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> Vector: ...
    def embed_questions(self, texts: Sequence[str]) -> Vector:
        """Customers' questions to the knowledge: :meth:`embed_queries`' space, moved by a question
        adapter where the embedder has one (tuned to find the passage that answers). No knowledge vector is
        embedded this way, so those never depend on the adapter; a learned re-ranker's memory of questions
        is, and must be refitted when the adapter changes."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> Vector: ...
    def count_tokens(self, texts: Sequence[str]) -> int: ...


class Ocr(Protocol):
    def read(self, name: str, image: bytes, shrink: bool = False) -> str:
        """The text in an image file, in reading order ("" when it has none); a clear
        :class:`~zhiwen.errors.InvalidInput` for what is not an image or is too large to read
        (``shrink`` scales a large one down instead, as for a PDF's page scans)."""
        ...


class ImageFeatures(Protocol):
    """Photos as vectors for a product recogniser: one row per ``(name, bytes)``; a clear
    :class:`~zhiwen.errors.InvalidInput` naming a photo that cannot be read."""

    name: str  # changes whenever the vectors would: a model fitted on one is never used with another
    parts: dict[str, tuple[int, int]]  # named column ranges ("shape", "colour"): views a model may read

    def vectors(self, images: Sequence[tuple[str, bytes]]) -> npt.NDArray[np.float32]: ...


class PhotoCleaner(Protocol):
    def clean(self, name: str, image: bytes) -> tuple[str, bytes]:
        """``(media type, bytes)``: the photo upright, re-encoded from its pixels (so no EXIF, location or
        other metadata survives) and scaled down to a size an agent needs; a clear error for what is not a
        readable photo."""
        ...


class LLM(Protocol):
    name: str

    def chat(self, messages: Sequence[dict[str, str]], max_tokens: int) -> str: ...
    def stream(self, messages: Sequence[dict[str, str]], max_tokens: int) -> Iterator[str]:
        """The reply's text in pieces as the model writes them; raises BackendUnavailable on failure."""
        ...


class JobStore(Protocol):
    def create_job(
        self,
        workspace_id: str,
        kind: str,
        status: str = "queued",
        params: Mapping[str, object] | None = None,
        inputs: Mapping[str, bytes] | None = None,
        runner: str | None = None,
    ) -> Job:
        """A job with what its task needs: ``params`` (plain JSON) and ``inputs`` (files, kept until the job
        ends). ``runner`` names who holds it: by default this process."""
        ...

    def add_job_input(self, job_id: str, name: str, data: bytes) -> None: ...
    def job_inputs(self, job_id: str) -> dict[str, bytes]: ...
    def find_job(self, job_id: str) -> Job | None:
        """The job in whichever workspace (a worker is handed only its id)."""
        ...

    def take_job(self, job_id: str, runner: str, expected: Job) -> Job | None:
        """Mark the job running for ``runner`` if its status and holder are still ``expected``'s; None when
        another took it first."""
        ...

    def update_job(
        self,
        job_id: str,
        *,
        status: str | None = None,
        progress: float | None = None,
        result: dict[str, object] | None = None,
        error: str | None = None,
    ) -> None: ...
    def get_job(self, workspace_id: str, job_id: str) -> Job: ...
    def claim_job(self, kind: str) -> Job | None:
        """Mark the oldest queued job of ``kind`` running and return it; None when none waits (jobs a
        queue holds are left to it). Atomic, so several workers never take the same job."""
        ...

    def unfinished_jobs(self) -> list[Job]:
        """Receiving, queued or running jobs of every workspace, oldest first (after a restart, nothing
        runs them)."""
        ...


class AnswerStore(Protocol):
    def save_answer(
        self,
        workspace_id: str,
        answer: Answer,
        retrieved: Sequence[dict[str, object]],
        understood: object = None,
        withheld: object = None,
    ) -> None:
        """Store the answer; ``understood`` is the question as read in its conversation, ``withheld``
        the answer drafted but not given because confidence was too low (both plain JSON)."""
        ...

    def recent_turns(self, workspace_id: str, conversation_id: str, limit: int) -> list[object]:
        """The ``understood`` values of the conversation's last ``limit`` answers, oldest first."""
        ...

    def last_intent(self, workspace_id: str, conversation_id: str) -> object:
        """The intent recorded with the conversation's latest answer (its dict form), or None."""
        ...

    def get_answer(self, workspace_id: str, answer_id: str) -> dict[str, object]: ...
    def list_questions(self, workspace_id: str, since: str | None = None) -> list[tuple[str, str, str]]:
        """(answer id, the customer's question, when) for every answer since ``since``, oldest first."""
        ...

    def ensure_conversation(self, workspace_id: str, conversation_id: str | None) -> str: ...


class DeskStore(Protocol):
    """Conversations as the service desk holds them, their messages in order, agents and ratings.

    Changes of who holds a conversation are compare-and-set (``update`` with ``expect``), so two agents
    claiming one conversation at the same moment cannot both win."""

    def open_conversation(
        self, workspace_id: str, conversation_id: str, language: str, visitor_hash: str | None = None
    ) -> DeskConversation:
        """The desk's record of the conversation, made (held by the bot) on first use."""
        ...

    def get(self, workspace_id: str, conversation_id: str) -> DeskConversation: ...
    def update(
        self,
        workspace_id: str,
        conversation_id: str,
        changes: dict[str, Any],
        expect: dict[str, Any] | None = None,
    ) -> bool:
        """Apply ``changes`` if the record still has the ``expect``-ed values; whether it did."""
        ...

    def conversations(
        self,
        workspace_id: str,
        statuses: Collection[str] = (),
        language: str | None = None,
        team: str | None = None,
        assignee: str | None = None,
        since: str | None = None,
        limit: int = 200,
    ) -> list[DeskConversation]:
        """Oldest in the queue first (then oldest made), each with its last message's text."""
        ...

    def overview(
        self, workspace_id: str, where: ConversationFilter, limit: int = 100, offset: int = 0
    ) -> list[ConversationSummary]:
        """Conversations matching ``where``, the latest change first."""
        ...

    def add_message(
        self,
        workspace_id: str,
        conversation_id: str,
        author: Author,
        author_name: str,
        text: str,
        answer_id: str | None = None,
        citations: Sequence[Citation] = (),
    ) -> DeskMessage: ...
    def messages(
        self, workspace_id: str, conversation_id: str, after: int = 0, limit: int = 500
    ) -> list[DeskMessage]: ...
    def add_photo(self, workspace_id: str, message_id: int, media_type: str, data: bytes) -> None:
        """Keep the photo sent with a message (it goes when the message goes)."""
        ...

    def photo(self, workspace_id: str, conversation_id: str, message_id: int) -> tuple[str, bytes]:
        """``(media type, bytes)`` of the photo sent with a message; :class:`NotFound` without one."""
        ...

    def record_change(self, workspace_id: str, conversation_id: str, origin: str, at: str) -> None:
        """Append to the change feed that other processes' event streams follow."""
        ...

    def changes_after(self, after: int | None, limit: int = 1000) -> list[DeskChange]:
        """The feed's entries after id ``after``, oldest first; with ``after=None`` only the newest one
        (where a follower starts)."""
        ...

    def prune_changes(self, before: str) -> int:
        """Drop the feed's entries written before ``before`` (ISO time); how many."""
        ...

    def last_change(self, workspace_id: str) -> str:
        """Changes whenever a message is added or a conversation changes: what the inbox watches."""
        ...

    def conversation_releases(self, workspace_id: str) -> dict[str, int | None]:
        """Conversation id -> the release that gave its last bot answer (None: the working knowledge)."""
        ...

    def set_presence(self, workspace_id: str, presence: AgentPresence) -> None: ...
    def agents(self, workspace_id: str) -> list[AgentPresence]: ...

    def rate(self, workspace_id: str, rating: ConversationRating) -> None:
        """Store (or replace) the customer's rating of the conversation."""
        ...

    def ratings(self, workspace_id: str, since: str | None = None) -> list[ConversationRating]: ...


class WebhookStore(Protocol):
    """Webhook targets and an outbox of deliveries: an event is stored before it is sent, and sent until
    it is delivered or given up."""

    def add_webhook(self, workspace_id: str, url: str, secret: str, events: Sequence[str]) -> Webhook: ...
    def list_webhooks(self, workspace_id: str) -> list[Webhook]: ...
    def delete_webhook(self, workspace_id: str, webhook_id: str) -> None: ...
    def enqueue(self, workspace_id: str, event: str, payload: dict[str, Any], at: str) -> int:
        """One pending delivery per webhook of the workspace that takes ``event``; how many."""
        ...

    def due(self, now: str, limit: int) -> list[tuple[WebhookDelivery, str, str]]:
        """Pending deliveries whose time has come, oldest first, with their URL and secret."""
        ...

    def record_attempt(self, delivery: WebhookDelivery) -> None:
        """Store the delivery's new status, attempts, next attempt and outcome."""
        ...

    def deliveries(self, workspace_id: str, webhook_id: str, limit: int = 100) -> list[WebhookDelivery]: ...


class SecretBox(Protocol):
    """Seals secrets that must be sent again later (a webhook's signing secret, a tool's token) under a
    master key that is not in the store."""

    def seal(self, plain: str) -> str: ...
    def open(self, sealed: str) -> str: ...
    def reseal(self, sealed: str) -> str:
        """The same secret sealed with the newest key."""
        ...


class SecretStore(Protocol):
    """A workspace's named secrets for its tools, stored sealed; values never leave but to be used."""

    def put_secret(self, workspace_id: str, name: str, sealed: str) -> None: ...
    def secret_names(self, workspace_id: str) -> list[tuple[str, str]]:
        """(name, updated_at), by name."""
        ...

    def sealed_secrets(self, workspace_id: str) -> dict[str, str]: ...
    def delete_secret(self, workspace_id: str, name: str) -> None: ...
    def reseal_all(self, reseal: Callable[[str], str]) -> int:
        """Every stored secret (tools' and webhooks') resealed in one transaction; how many."""
        ...


class CustomerDataStore(Protocol):
    """One customer's data wherever it went, for export, erasure on request and retention by age."""

    def conversation_ids(
        self,
        workspace_id: str,
        ids: Sequence[str],
        visitor_hash: str | None,
        contact: str | None,
        contact_items: Sequence[str] = (),
    ) -> list[str]: ...
    def export(
        self, workspace_id: str, conversation_ids: Sequence[str], user_id: str | None
    ) -> dict[str, Any]: ...
    def erase(
        self,
        workspace_id: str,
        conversation_ids: Sequence[str],
        user_id: str | None,
        traces: CustomerTraces,
        curated_questions: Collection[str],
    ) -> tuple[dict[str, int], dict[str, list[str]]]:
        """Counts of what went, and the chunk ids removed from each release snapshot."""
        ...

    def known_to_the_company(self, workspace_id: str, identifiers: Sequence[str]) -> set[str]:
        """Those of ``identifiers`` that the company's own documents state."""
        ...

    def expire(
        self, workspace_id: str, conversations_before: str | None, events_before: str | None
    ) -> dict[str, int]: ...
    def traces(self, workspace_id: str, needles: Sequence[str]) -> list[str]:
        """``table.column`` of every place that still holds one of ``needles``."""
        ...


class AuditStore(Protocol):
    """An append-only, hash-chained log per workspace. ``append`` reads the chain's last hash and adds the
    entry in one transaction, so two processes never fork the chain."""

    def append(self, fields: dict[str, Any], chain: Callable[[str, dict[str, Any]], str]) -> AuditEntry:
        """Store ``fields`` (every AuditEntry field but seq and the hashes) with ``prev_hash`` = the
        workspace's last hash and ``hash`` = ``chain(prev_hash, fields)``."""
        ...

    def entries(self, workspace_id: str, query: AuditQuery) -> list[AuditEntry]:
        """Newest first."""
        ...

    def chain(self, workspace_id: str) -> Iterator[AuditEntry]:
        """Every entry of the workspace, oldest first (for verification and export)."""
        ...


class FeedbackStore(Protocol):
    def add_feedback(
        self,
        workspace_id: str,
        answer_id: str,
        rating: Rating,
        comment: str,
        correction: str,
        created_by: str,
    ) -> Feedback: ...
    def list_feedback(
        self, workspace_id: str, answer_id: str | None = None, limit: int = 100
    ) -> list[Feedback]: ...
    def review_candidates(self, workspace_id: str, limit: int) -> list[dict[str, Any]]:
        """Unreviewed answers that were handed off, disliked or answered by an agent, newest first."""
        ...

    def set_review(self, workspace_id: str, answer_ids: Sequence[str], outcome: str) -> None: ...


class CuratedStore(Protocol):
    def add_curated(
        self,
        workspace_id: str,
        question: str,
        answer: str,
        created_by: str,
        from_answer_id: str | None = None,
    ) -> CuratedAnswer: ...
    def get_curated(self, workspace_id: str, curated_id: str) -> CuratedAnswer: ...
    def list_curated(self, workspace_id: str) -> list[CuratedAnswer]: ...
    def update_curated(
        self,
        workspace_id: str,
        curated_id: str,
        updated_by: str,
        question: str | None = None,
        answer: str | None = None,
        enabled: bool | None = None,
    ) -> CuratedAnswer: ...
    def delete_curated(self, workspace_id: str, curated_id: str) -> None: ...


class GoldenStore(Protocol):
    def create_version(
        self, workspace_id: str, name: str, records: Sequence[dict[str, Any]], note: str
    ) -> GoldenSetVersion: ...
    def get_version(
        self, workspace_id: str, name: str, version: int | None = None
    ) -> tuple[GoldenSetVersion, list[dict[str, Any]]]: ...
    def get_by_id(self, workspace_id: str, set_id: str) -> tuple[GoldenSetVersion, list[dict[str, Any]]]: ...
    def list_versions(self, workspace_id: str) -> list[GoldenSetVersion]: ...


class EvalStore(Protocol):
    def save_run(self, run: EvalRun, results: Sequence[dict[str, Any]]) -> None: ...
    def get_run(self, workspace_id: str, run_id: str) -> tuple[EvalRun, list[dict[str, Any]]]: ...
    def list_runs(self, workspace_id: str, limit: int = 50) -> list[EvalRun]: ...


class ReleaseStore(Protocol):
    def create_release(
        self, workspace_id: str, config: dict[str, Any], note: str, created_by: str
    ) -> Release:
        """Freeze the working knowledge (documents, chunks, both indexes) with ``config`` as the next
        release; Conflict if any chunk still lacks its vector (checked in the same transaction)."""
        ...

    def prune_release(self, release: Release) -> None:
        """Delete the release's frozen knowledge, keeping its record, settings and evaluations."""
        ...

    def attach_evaluation(self, release_id: str, eval_run_id: str) -> None: ...
    def get_release(self, workspace_id: str, number: int) -> Release: ...
    def list_releases(self, workspace_id: str) -> list[Release]: ...
    def live_release(self, workspace_id: str) -> Release | None: ...
    def set_live(self, release: Release, action: str, actor: str, detail: dict[str, Any]) -> None: ...
    def log_event(self, release: Release, action: str, actor: str, detail: dict[str, Any]) -> None: ...
    def events(self, workspace_id: str, limit: int = 50) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class ReviewFilter:
    """Which reviews to read; every field left as is means "any"."""

    product: str | None = None
    since: str | None = None  # ISO 8601, inclusive
    until: str | None = None  # ISO 8601, exclusive
    labelled: bool = False
    unscored_for: int | None = None  # not yet scored by this model version
    sentiment: str | None = None
    ids: Sequence[str] | None = None
    limit: int | None = None


class ReviewStore(Protocol):
    def add_reviews(self, reviews: Sequence[Review]) -> list[str]:
        """Store the reviews whose ids are new, in one transaction; return those ids."""
        ...

    def reviews(self, workspace_id: str, query: ReviewFilter) -> list[Review]: ...
    def set_scores(
        self, workspace_id: str, version: int, scores: Sequence[tuple[str, str, float, int | None]]
    ) -> None: ...
    def set_topics(self, workspace_id: str, topics: Sequence[tuple[str, int | None]]) -> None: ...
    def vectors(self, workspace_id: str, ids: Sequence[str]) -> dict[str, Vector]: ...
    def save_vectors(self, workspace_id: str, vectors: dict[str, Vector]) -> None: ...
    def save_topics(self, workspace_id: str, model: dict[str, Any]) -> None: ...
    def topics(self, workspace_id: str) -> dict[str, Any] | None: ...


class CatalogStore(Protocol):
    def upsert_items(self, workspace_id: str, items: Sequence[CatalogItem]) -> tuple[int, int]:
        """Insert new items and update changed ones, in one transaction; (added, updated)."""
        ...

    def items(self, workspace_id: str, ids: Sequence[str] | None = None) -> list[CatalogItem]: ...
    def item_ids(self, workspace_id: str) -> set[str]: ...
    def add_events(self, workspace_id: str, events: Sequence[BehaviourEvent]) -> int:
        """Store the events not stored yet (same user, item, kind and time), in one transaction; how many."""
        ...

    def events(
        self, workspace_id: str, user_id: str | None = None, since: str | None = None
    ) -> list[BehaviourEvent]:
        """In time order."""
        ...

    def stamp(self, workspace_id: str) -> str:
        """Changes whenever an item is added or changed: what caches of the catalogue are keyed by."""
        ...

    def item_vectors(self, workspace_id: str) -> dict[str, tuple[str, Vector]]:
        """item id -> (hash of the text it was embedded from, vector)."""
        ...

    def save_item_vectors(self, workspace_id: str, vectors: dict[str, tuple[str, Vector]]) -> None: ...


class RelatedProducts(Protocol):
    """Catalogue items related to the products a question names; empty when it names none."""

    def __call__(self, workspace_id: str, question: str, k: int) -> Sequence[RelatedProduct]: ...


class ModelRegistry(Protocol):
    """Versions of trained models by family, with one live version per workspace and family."""

    def save(
        self,
        workspace_id: str,
        family: str,
        kind: str,
        params: dict[str, Any],
        report: dict[str, Any],
        model: bytes,
        created_by: str,
    ) -> ModelVersion: ...
    def get(self, workspace_id: str, family: str, version: int) -> ModelVersion: ...
    def load(self, workspace_id: str, family: str, version: int) -> bytes: ...
    def versions(self, workspace_id: str, family: str) -> list[ModelVersion]: ...
    def live_version(self, workspace_id: str, family: str) -> int | None: ...
    def set_live(
        self, workspace_id: str, family: str, version: int, action: str, actor: str, detail: dict[str, Any]
    ) -> None: ...
    def history(self, workspace_id: str, family: str, limit: int = 50) -> list[dict[str, Any]]: ...


class PredictionLog(Protocol):
    """What table models were asked and answered, kept for drift reports and audits."""

    def record(
        self,
        workspace_id: str,
        model: str,
        version: int,
        entries: Sequence[tuple[dict[str, Any], dict[str, Any]]],
    ) -> None: ...
    def recent(self, workspace_id: str, model: str, limit: int = 1000) -> list[dict[str, Any]]:
        """The latest ``limit`` entries, newest first: ``version``, ``inputs``, ``output``, ``at``."""
        ...

    def forget(self, workspace_id: str, model: str) -> int: ...


ProgressCallback = Callable[[float], None]


class RateBuckets(Protocol):
    """Token buckets in the database, so that a rate limit holds across every API process on it."""

    def take(self, name: str, capacity: float, per_second: float, now: float) -> float:
        """Take a token from bucket ``name`` (full when new, refilled at ``per_second`` up to
        ``capacity``; ``now`` in seconds since the epoch): 0 when taken, else the seconds until one is
        back."""
        ...

    def wait(self, name: str, capacity: float, per_second: float, now: float) -> float:
        """What :meth:`take` would answer, without taking."""
        ...

    def prune(self, before: float) -> int:
        """Drop buckets untouched since ``before`` (they would be full again anyway); how many."""
        ...

    def close(self) -> None: ...


class Background(Protocol):
    """Runs the background work (queued uploads, then embeddings) beside the API."""

    def start(self) -> None: ...
    def notify(self) -> None:
        """Work is waiting: look now rather than at the next poll."""
        ...

    def stop(self) -> None: ...


class JobRunner(Protocol):
    """Runs queued jobs (:mod:`zhiwen.tasks`): in threads of this process, or in worker processes."""

    holder: str | None  # what a queued job's ``runner`` says: None for this process

    def submit(self, job: Job) -> None: ...
    def shutdown(self) -> None: ...


class OwnerLock(Protocol):
    """Exactly one process per database does the background work (recovering jobs, the worker, webhooks,
    retention); this lock says which. The holder keeps it until it releases it or ends, however it ends."""

    def claim(self, holder: str) -> str | None:
        """Take the lock as ``holder`` (words naming this process): None when taken, else who holds it."""
        ...

    def still_held(self) -> bool:
        """Whether this process still holds the lock it took (a lock kept by a database connection goes
        when the connection does)."""
        ...

    def release(self) -> None: ...
