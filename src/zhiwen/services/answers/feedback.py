"""Feedback and review: customers rate answers; agents review what went wrong, most frequent first, and
turn corrections into curated answers and golden questions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from zhiwen.errors import InvalidInput, NotFound
from zhiwen.ports import AnswerStore, Embedder, FeedbackStore
from zhiwen.services.knowledge.curated import CuratedService
from zhiwen.services.lifecycle.golden import GoldenItem
from zhiwen.services.lifecycle.golden_sets import GoldenSetService
from zhiwen.services.trust.privacy import PrivacyPolicy
from zhiwen.text.normalize import squash
from zhiwen.types import CuratedAnswer, Feedback

# E5 cosine at which two customer questions ask the same thing. Measured on the demo's questions:
# paraphrases 0.958-0.988, different questions 0.805-0.875 (tests/unit/test_feedback.py groups them).
SAME_QUESTION = 0.92
MAX_COMMENT_CHARS = 2000
MAX_CORRECTION_CHARS = 4000
QUEUE_SCAN = 2000  # newest unreviewed answers considered for the queue


class FeedbackService:
    def __init__(
        self,
        store: FeedbackStore,
        answers: AnswerStore,
        curated: CuratedService,
        golden: GoldenSetService,
        embedder: Embedder,
        privacy: PrivacyPolicy | None = None,
    ) -> None:
        """``privacy`` redacts a customer's comment when the workspace stores conversations redacted."""
        self._privacy = privacy
        self._store = store
        self._answers = answers
        self._curated = curated
        self._golden = golden
        self._embedder = embedder

    def give(
        self,
        workspace_id: str,
        answer_id: str,
        rating: str,
        comment: str = "",
        correction: str = "",
        by: str = "",
    ) -> Feedback:
        if rating not in ("like", "dislike"):
            raise InvalidInput(f"rating must be 'like' or 'dislike', not {rating!r}")
        if len(comment) > MAX_COMMENT_CHARS or len(correction) > MAX_CORRECTION_CHARS:
            raise InvalidInput(
                f"comments are limited to {MAX_COMMENT_CHARS} and corrections to "
                f"{MAX_CORRECTION_CHARS} characters"
            )
        comment = comment.strip()
        if self._privacy is not None:
            comment = self._privacy.stored(workspace_id, comment)
        return self._store.add_feedback(
            workspace_id, answer_id, cast(Any, rating), comment, correction.strip(), by or "anonymous"
        )

    def list_feedback(self, workspace_id: str, answer_id: str | None = None) -> list[Feedback]:
        return self._store.list_feedback(workspace_id, answer_id)

    def answer_record(self, workspace_id: str, answer_id: str) -> dict[str, object]:
        """Everything recorded about one answer (question, retrieved chunks with scores, citations,
        confidence, release), with its feedback: what a replay needs."""
        record = dict(self._answers.get_answer(workspace_id, answer_id))
        record["feedback"] = [f.__dict__ for f in self.list_feedback(workspace_id, answer_id)]
        return record

    def queue(self, workspace_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """Disliked and handed-off questions not yet reviewed, similar ones grouped, biggest group first."""
        candidates = self._store.review_candidates(workspace_id, QUEUE_SCAN)
        if not candidates:
            return []
        vectors = self._embedder.embed_queries([c["question"] for c in candidates])
        groups: list[dict[str, Any]] = []
        leaders: list[int] = []
        for i, candidate in enumerate(candidates):
            group = None
            if leaders:
                sims = vectors[leaders] @ vectors[i]
                best = int(np.argmax(sims))
                same_text = squash(candidates[leaders[best]]["question"]) == squash(candidate["question"])
                if same_text or sims[best] >= SAME_QUESTION:
                    group = groups[best]
            if group is None:
                leaders.append(i)
                group = {
                    "question": candidate["question"],
                    "answer_ids": [],
                    "questions": [],
                    "count": 0,
                    "dislikes": 0,
                    "handoffs": 0,
                    "correction": "",
                    "comments": [],
                }
                groups.append(group)
            group["count"] += 1
            group["answer_ids"].append(candidate["answer_id"])
            group["dislikes"] += candidate["dislikes"]
            group["handoffs"] += int(candidate["handoff"])
            if candidate["question"] not in group["questions"] and len(group["questions"]) < 5:
                group["questions"].append(candidate["question"])
            group["correction"] = group["correction"] or candidate["correction"]
            if candidate["comment"] and len(group["comments"]) < 5:
                group["comments"].append(candidate["comment"])
        groups.sort(key=lambda g: (g["count"], g["dislikes"]), reverse=True)
        return groups[:limit]

    def _groups_of(self, workspace_id: str, answer_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The review groups holding ``answer_ids`` (the queue is built once: it embeds every question)."""
        queue = self.queue(workspace_id, limit=QUEUE_SCAN)
        found = []
        for answer_id in answer_ids:
            group = next((g for g in queue if answer_id in g["answer_ids"]), None)
            if group is None:
                raise NotFound(f"answer {answer_id!r} is not in the review queue; see `zhiwen review list`")
            found.append(group)
        return found

    def approve(
        self,
        workspace_id: str,
        answer_id: str,
        by: str,
        answer: str | None = None,
        question: str | None = None,
        golden: str | None = None,
    ) -> CuratedAnswer:
        """Turn a reviewed question into a curated answer (the agent's text, else the customer's
        correction), close its whole group, and optionally add the pair to a golden set."""
        group = self._groups_of(workspace_id, [answer_id])[0]
        text = (answer or group["correction"]).strip()
        if not text:
            raise InvalidInput("no correction was given with the feedback; pass the approved answer text")
        recorded = cast(dict[str, Any], self._answers.get_answer(workspace_id, answer_id)["answer"])
        asked = (question or str(recorded["question"])).strip()
        curated = self._curated.add(workspace_id, asked, text, by, from_answer_id=answer_id)
        if golden:
            item = GoldenItem(asked, expected_answers=(text,), answerable=True, category="feedback")
            self._golden.add(workspace_id, golden, [item], f"approved feedback on {answer_id}")
        self._store.set_review(workspace_id, group["answer_ids"], "approved")
        return curated

    def dismiss(self, workspace_id: str, answer_ids: Sequence[str]) -> int:
        closed = {a for group in self._groups_of(workspace_id, answer_ids) for a in group["answer_ids"]}
        self._store.set_review(workspace_id, sorted(closed), "dismissed")
        return len(closed)
