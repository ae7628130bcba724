"""A customer's rights over their data (PIPL, GDPR): everything Zhiwen holds about them exported as
JSON, or erased everywhere, and old conversations and events expired by the workspace's retention rules.

A customer is named by what the company knows of them: a conversation id, the widget's visitor token
(all that browser's conversations), the contact they left for a callback, or the user id the company
sends with behaviour events and reviews. Erasure then follows their words where the product carried
them: curated answers made from their questions (working knowledge and release snapshots), golden sets
and evaluation results, and finally checks every table for what it erased.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from zhiwen.errors import InvalidInput, NotFound
from zhiwen.ports import CustomerDataStore, VectorIndex
from zhiwen.services.accounts.keys import hash_key
from zhiwen.services.knowledge.curated import CuratedService
from zhiwen.services.trust.privacy import PrivacyPolicy
from zhiwen.text.pii import RELIABLE_KINDS, find_pii
from zhiwen.types import CustomerTraces, utc_now

MIN_IDENTIFIER_CHARS = 6  # a contact or number shorter than this could be anyone's
MAX_IDS = 1000


@dataclass(frozen=True)
class CustomerRef:
    conversation_ids: tuple[str, ...] = ()
    visitor_token: str | None = None
    contact: str | None = None
    user_id: str | None = None

    def __post_init__(self) -> None:
        # Blank is absent: a contact of "  " must not name every conversation that left none.
        for name in ("visitor_token", "contact", "user_id"):
            value = getattr(self, name)
            object.__setattr__(self, name, value.strip() or None if value is not None else None)
        object.__setattr__(
            self, "conversation_ids", tuple(c.strip() for c in self.conversation_ids if c.strip())
        )
        if not (self.conversation_ids or self.visitor_token or self.contact or self.user_id):
            raise InvalidInput(
                "name the customer: conversation ids, the widget's visitor token, the contact they left, "
                "or their user id (events, reviews)"
            )
        if len(self.conversation_ids) > MAX_IDS:
            raise InvalidInput(f"at most {MAX_IDS} conversation ids at a time")

    def described(self) -> dict[str, Any]:
        """What was asked for, without the visitor token (a credential for that browser's chats)."""
        return {
            "conversation_ids": list(self.conversation_ids),
            "visitor_token": "(given)" if self.visitor_token else None,
            "contact": self.contact,
            "user_id": self.user_id,
        }


@dataclass
class Erasure:
    counts: dict[str, int] = field(default_factory=dict)
    remaining: list[str] = field(default_factory=list)  # table.column still holding their words: empty


class CustomerDataService:
    def __init__(
        self, store: CustomerDataStore, curated: CuratedService, vectors: VectorIndex, privacy: PrivacyPolicy
    ) -> None:
        self._store = store
        self._curated = curated
        self._vectors = vectors
        self._privacy = privacy

    def export(self, workspace_id: str, customer: CustomerRef) -> dict[str, Any]:
        """Everything held about the customer, as one JSON document."""
        held = self._held(workspace_id, customer)
        return {"customer": customer.described(), "exported_at": utc_now(), **held}

    def erase(self, workspace_id: str, customer: CustomerRef, verify: bool = True) -> Erasure:
        """Erase the customer everywhere, then (``verify``) search the workspace's tables for what was
        erased. Curated answers go first: if anything fails after them, running it again finishes."""
        held = self._held(workspace_id, customer)
        traces = self._traces(workspace_id, held, customer)
        answer_ids = {a["id"] for c in held["conversations"] for a in c["answers"]}
        curated_questions = set()
        for curated in self._curated.list_curated(workspace_id):  # made from their questions
            quoted = f"{curated.question}\n{curated.answer}"
            if curated.from_answer_id in answer_ids or traces.erased(quoted) != quoted:
                self._curated.delete(workspace_id, curated.id)
                curated_questions.add(curated.question.strip())
        conversation_ids = [c["id"] for c in held["conversations"]]
        counts, removed = self._store.erase(
            workspace_id, conversation_ids, customer.user_id, traces, curated_questions
        )
        for knowledge_id, chunk_ids in removed.items():
            self._vectors.remove(knowledge_id, chunk_ids)
        erasure = Erasure({**counts, "curated_answers": len(curated_questions)})
        if verify:
            erasure.remaining = self._store.traces(workspace_id, traces.needles())
        return erasure

    def expire(self, workspace_id: str, now: datetime | None = None) -> dict[str, int]:
        """Apply the workspace's retention rules; how much went."""
        conversations_before, events_before = self._privacy.settings(workspace_id).cutoffs(
            now or datetime.now(UTC)
        )
        if conversations_before is None and events_before is None:
            return {"conversations": 0, "answers": 0, "events": 0, "predictions": 0}
        return self._store.expire(workspace_id, conversations_before, events_before)

    def _held(self, workspace_id: str, customer: CustomerRef) -> dict[str, Any]:
        contact_items = (
            [m.text for m in find_pii(customer.contact, RELIABLE_KINDS)] if customer.contact else []
        )
        conversation_ids = self._store.conversation_ids(
            workspace_id,
            customer.conversation_ids,
            hash_key(customer.visitor_token) if customer.visitor_token else None,
            customer.contact,
            contact_items,
        )
        held = self._store.export(workspace_id, conversation_ids, customer.user_id)
        if not any(held.values()):
            raise NotFound("nothing is held for this customer in this workspace (check the ids or contact)")
        return held

    def _traces(self, workspace_id: str, held: dict[str, Any], customer: CustomerRef) -> CustomerTraces:
        """Their own words (messages, questions, reviews), and what identifies them: the contacts they
        left and the personal data in their words, less what the company's own documents state (a
        customer quoting the shop's hotline does not make it theirs)."""
        words: set[str] = set()
        for conversation in held["conversations"]:
            words.update(m["text"] for m in conversation["messages"] if m["author"] == "customer")
            words.update(a["question"] for a in conversation["answers"])
        words.update(r["text"] for r in held["reviews"])
        identifiers = {customer.contact or ""} | {c["contact"] or "" for c in held["conversations"]}
        for text in words | identifiers:
            identifiers.update(match.text for match in find_pii(text, RELIABLE_KINDS))
        candidates = sorted(i.strip() for i in identifiers if len(i.strip()) >= MIN_IDENTIFIER_CHARS)
        known = self._store.known_to_the_company(workspace_id, candidates)
        return CustomerTraces(
            frozenset(w.strip() for w in words if w.strip()), tuple(i for i in candidates if i not in known)
        )
