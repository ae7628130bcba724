"""Customer reviews: import (files, API, the assistant's own conversations), scoring with the live sentiment
model, and one-off classification with the words that drove each decision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zhiwen.errors import InvalidInput, TooLarge
from zhiwen.ports import AnswerStore, ReviewFilter, ReviewStore, Vector
from zhiwen.services.reviews.importer import MAX_TEXT_CHARS, ReadResult, read_reviews, rows_from_records
from zhiwen.services.reviews.live_models import (
    LiveModels,
    LoadedModel,
    Progress,
    ReviewVectors,
    known_vectors,
)
from zhiwen.services.reviews.topics import TopicModel
from zhiwen.text.normalize import normalize
from zhiwen.types import Review, utc_now

MAX_CLASSIFY = 1000
MAX_API_REVIEWS = 5000
SCORE_BATCH = 512


@dataclass
class ImportReport:
    source: str
    rows: int = 0
    imported: int = 0
    already_stored: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)  # {"row": n, "problem": why}
    scored: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Classification:
    label: str
    probability: float
    probabilities: dict[str, float]
    words: list[tuple[str, float]]
    model: str  # "v3 (blend)" or "zero-shot baseline"


def model_name(loaded: LoadedModel) -> str:
    return "zero-shot baseline" if loaded.kind == "zero-shot" else f"v{loaded.version} ({loaded.kind})"


class ReviewService:
    def __init__(
        self, store: ReviewStore, answers: AnswerStore, vectors: ReviewVectors, models: LiveModels
    ) -> None:
        self._store = store
        self._answers = answers
        self._vectors = vectors
        self._models = models

    # ---- import -------------------------------------------------------------------------------------

    def import_file(
        self,
        workspace_id: str,
        filename: str,
        data: bytes,
        score: bool = True,
        progress: Progress | None = None,
    ) -> ImportReport:
        return self._store_rows(workspace_id, filename, read_reviews(filename, data), score, progress)

    def import_records(
        self, workspace_id: str, records: Sequence[Mapping[str, object]], score: bool = True
    ) -> ImportReport:
        """Reviews sent as JSON objects (``POST /v1/reviews``); rows are numbered from 1."""
        if len(records) > MAX_API_REVIEWS:
            raise TooLarge(f"{len(records):,} reviews in one request; send at most {MAX_API_REVIEWS:,}")
        result = rows_from_records("request", list(enumerate(records, start=1)))
        return self._store_rows(workspace_id, "request", result, score, None)

    def import_conversations(
        self, workspace_id: str, since: str | None = None, score: bool = True
    ) -> ImportReport:
        """Customers' messages to the assistant, as reviews of channel "assistant" (ids are answer ids)."""
        questions = self._answers.list_questions(workspace_id, since)
        reviews = [
            Review(
                id=answer_id,
                workspace_id=workspace_id,
                text=normalize(question)[:MAX_TEXT_CHARS],
                rating=None,
                product="",
                channel="assistant",
                created_at=asked_at,
                label=None,
                source="assistant",
            )
            for answer_id, question, asked_at in questions
            if normalize(question)
        ]
        report = ImportReport("assistant conversations", rows=len(questions))
        added = self._store.add_reviews(reviews)
        report.imported, report.already_stored = len(added), len(reviews) - len(added)
        if score and added:
            report.scored = self.score(workspace_id, ids=added)
        return report

    def _store_rows(
        self, workspace_id: str, source: str, result: ReadResult, score: bool, progress: Progress | None
    ) -> ImportReport:
        now = utc_now()
        reviews = [
            Review(
                id=row.key,
                workspace_id=workspace_id,
                text=row.text,
                rating=row.rating,
                product=row.product,
                channel=row.channel,
                created_at=row.created_at or now,
                label=row.label,
                source=source,
                customer=row.customer,
            )
            for _, row in result.rows
        ]
        added = self._store.add_reviews(reviews)
        report = ImportReport(
            source=source,
            rows=len(result.rows) + len(result.problems),
            imported=len(added),
            already_stored=len(reviews) - len(added),
            problems=[{"row": n, "problem": p} for n, p in sorted(result.problems)],
        )
        if score and added:
            report.scored = self.score(workspace_id, ids=added, progress=progress)
        return report

    # ---- scoring ------------------------------------------------------------------------------------

    def score(
        self,
        workspace_id: str,
        ids: Sequence[str] | None = None,
        rescore: bool = False,
        progress: Progress | None = None,
    ) -> int:
        """Score reviews with the live model: the given ids, or all not yet scored by it (all with
        ``rescore``). Negative reviews are assigned to complaint topics when topics were built."""
        loaded = self._models.live(workspace_id)
        query = ReviewFilter(ids=ids, unscored_for=None if rescore else loaded.version)
        reviews = self._store.reviews(workspace_id, query)
        topics = TopicModel.from_dict(self._store.topics(workspace_id))
        for start in range(0, len(reviews), SCORE_BATCH):
            batch = reviews[start : start + SCORE_BATCH]
            known = self._vectors.ensure(workspace_id, batch) if loaded.needs_embeddings else {}
            with known_vectors(known):
                probabilities = loaded.model.predict_proba([(r.text, r.product) for r in batch])
            labels = loaded.model.classes_[probabilities.argmax(axis=1)]
            negatives = [r for r, label in zip(batch, labels, strict=True) if label == "negative"]
            topic_of = self._assign(workspace_id, topics, negatives, known)
            self._store.set_scores(
                workspace_id,
                loaded.version,
                [
                    (r.id, str(label), round(float(p.max()), 4), topic_of.get(r.id))
                    for r, label, p in zip(batch, labels, probabilities, strict=True)
                ],
            )
            if progress:
                progress(f"scoring with {model_name(loaded)}", (start + len(batch)) / len(reviews))
        return len(reviews)

    def _assign(
        self,
        workspace_id: str,
        topics: TopicModel | None,
        reviews: Sequence[Review],
        known: dict[str, Vector],
    ) -> dict[str, int]:
        """Topics of negative reviews, from the batch's vectors when the model already fetched them."""
        if topics is None or not reviews:
            return {}
        if any(r.text not in known for r in reviews):
            known = self._vectors.ensure(workspace_id, reviews)
        assigned = topics.assign([r.text for r in reviews], np.stack([known[r.text] for r in reviews]))
        return {r.id: int(t) for r, t in zip(reviews, assigned, strict=True)}

    def classify(
        self, workspace_id: str, samples: Sequence[tuple[str, str]], explain: bool = True
    ) -> list[Classification]:
        """Label texts without storing them; the live model, or the zero-shot baseline before any."""
        if not samples:
            raise InvalidInput("no texts to classify; send at least one")
        if len(samples) > MAX_CLASSIFY:
            raise TooLarge(f"{len(samples):,} texts in one request; send at most {MAX_CLASSIFY:,}")
        cleaned = []
        for number, (text, product) in enumerate(samples, start=1):
            text = normalize(text)
            if not text:
                raise InvalidInput(f"text {number} is empty")
            if len(text) > MAX_TEXT_CHARS:
                raise InvalidInput(
                    f"text {number} is {len(text):,} characters, over the {MAX_TEXT_CHARS:,} limit"
                )
            cleaned.append((text, normalize(product)))
        loaded = self._models.live(workspace_id)
        probabilities = loaded.model.predict_proba(cleaned)
        explainer = getattr(loaded.model, "explain", None)
        words = explainer(cleaned) if explain and explainer else [[] for _ in cleaned]
        classes = [str(c) for c in loaded.model.classes_]
        return [
            Classification(
                label=classes[int(p.argmax())],
                probability=round(float(p.max()), 4),
                probabilities={c: round(float(v), 4) for c, v in zip(classes, p, strict=True)},
                words=w,
                model=model_name(loaded),
            )
            for p, w in zip(probabilities, words, strict=True)
        ]

    def list_reviews(self, workspace_id: str, query: ReviewFilter) -> list[Review]:
        return self._store.reviews(workspace_id, query)
