"""Sentiment model versions: train, evaluate held out, and promote through the same kind of gate as answer
releases (workspace minimums, no regression beyond a tolerance against the live model), or roll back. The
versions, the live one, the history and the two moves are one :class:`ModelFamily` ("sentiment") in the
model registry; the training and the gate's side-by-side comparison are sentiment's own."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from zhiwen.errors import InvalidInput
from zhiwen.ports import ModelRegistry, ReviewFilter, ReviewStore, WorkspaceStore
from zhiwen.services.lifecycle.model_family import ModelFamily
from zhiwen.services.reviews.live_models import (
    FAMILY,
    LiveModels,
    Progress,
    ReviewVectors,
    known_vectors,
    serialise,
)
from zhiwen.services.reviews.sentiment_train import (
    SearchSettings,
    embedding_rows,
    held_out_metrics,
    is_held_out,
    search,
)
from zhiwen.types import ModelVersion, Review

GATED = ("accuracy", "macro_f1")
ZERO_SHOT_SAMPLE = 2000  # held-out reviews the zero-shot baseline is measured on (it embeds every one)


def rating_label(rating: float, scale: float) -> str:
    """Stars to a label: on a 5-point scale 1-2 negative, 3 neutral, 4-5 positive; on a 10-point scale
    1-4, 5-6, 7-10."""
    fraction = rating / scale
    if fraction <= 0.4 + 1e-9:
        return "negative"
    if fraction <= 0.6 + 1e-9:
        return "neutral"
    return "positive"


def training_labels(reviews: Sequence[Review], from_ratings: bool) -> list[tuple[Review, str]]:
    """Reviews with the label to learn: their own label, else (with ``from_ratings``) their rating's."""
    scale = 10.0 if any((r.rating or 0) > 5 for r in reviews) else 5.0
    labelled = []
    for review in reviews:
        if review.label:
            labelled.append((review, review.label))
        elif from_ratings and review.rating is not None and review.rating > 0:
            labelled.append((review, rating_label(review.rating, scale)))
    return labelled


class SentimentModelService:
    def __init__(
        self,
        store: ReviewStore,
        models: ModelRegistry,
        workspaces: WorkspaceStore,
        vectors: ReviewVectors,
        live: LiveModels,
    ) -> None:
        self._store = store
        self._vectors = vectors
        self._live = live
        self.family = ModelFamily(models, workspaces, FAMILY, GATED, command="reviews")

    def train(
        self,
        workspace_id: str,
        actor: str,
        settings: SearchSettings | None = None,
        from_ratings: bool = False,
        progress: Progress | None = None,
    ) -> ModelVersion:
        """Search, fit on the training split, evaluate on the held-out split; stored as a new version that
        is not live until promoted."""
        settings = settings or SearchSettings()
        started = time.perf_counter()
        reviews = self._store.reviews(workspace_id, ReviewFilter())
        labelled = training_labels(reviews, from_ratings)
        if not labelled:
            hint = "" if from_ratings else ", or pass --from-ratings to learn from star ratings"
            raise InvalidInput(
                f"no labelled reviews to learn from; import reviews with a 'label' column{hint}"
            )
        train = [(r, label) for r, label in labelled if not is_held_out(r.text)]
        held_out = [(r, label) for r, label in labelled if is_held_out(r.text)]
        embed = self._vectors.shared_embedder() if set(settings.candidates) - {"ngram"} else None
        needs = _sample_for_embedding(train, settings)
        known = self._vectors.ensure(workspace_id, needs, progress) if embed else {}
        with known_vectors(known):
            result = search(
                [(r.text, r.product) for r, _ in train],
                [label for _, label in train],
                embed,
                settings,
                progress,
            )
        trained_seconds = time.perf_counter() - started
        labels = [str(c) for c in result.model.classes_]
        report: dict[str, Any] = {
            "train_reviews": len(train),
            "comparison": result.comparison,
            "grid": result.grid,
            "from_ratings": from_ratings,
            "train_seconds": round(trained_seconds, 1),
            "labels": labels,
        }
        if held_out:
            if result.kind != "ngram":
                known = self._vectors.ensure(workspace_id, [r for r, _ in held_out], progress)
            with known_vectors(known):
                predicted = result.model.predict([(r.text, r.product) for r, _ in held_out])
            truth = [label for _, label in held_out]
            report["held_out"] = held_out_metrics(truth, [str(p) for p in predicted], labels)
            report["predictions"] = {r.id: str(p) for (r, _), p in zip(held_out, predicted, strict=True)}
            # The held-out vectors exist already when the winner embeds: then the whole split is cheap.
            sample = len(held_out) if result.kind != "ngram" else ZERO_SHOT_SAMPLE
            report["zero_shot"] = self._zero_shot_baseline(workspace_id, held_out, sample)
        report["seconds"] = round(time.perf_counter() - started, 1)
        return self.family.save(
            workspace_id, result.kind, result.params, report, serialise(result.model), actor
        )

    def _zero_shot_baseline(
        self, workspace_id: str, held_out: Sequence[tuple[Review, str]], sample: int
    ) -> dict[str, Any]:
        """The zero-shot baseline on (a sample of) the same held-out reviews, for the report. Only binary
        negative/positive labels can be compared."""
        binary = [(r, label) for r, label in held_out if label in ("negative", "positive")][:sample]
        if not binary:
            return {"reviews": 0}
        known = self._vectors.ensure(workspace_id, [r for r, _ in binary])
        zero_shot = self._live.zero_shot().model
        with known_vectors(known):
            predicted = zero_shot.predict([(r.text, r.product) for r, _ in binary])
        return held_out_metrics(
            [label for _, label in binary], [str(p) for p in predicted], ["negative", "positive"]
        )

    def check(self, workspace_id: str, version: int) -> dict[str, Any]:
        """The gate's verdict: metrics against the minimums, and against the live model on the same
        held-out reviews (re-scored by the live model when their held-out sets differ)."""
        candidate = self.family.get(workspace_id, version)
        held = candidate.report.get("held_out") or {}
        failures = []
        if not held.get("reviews"):
            failures.append("no held-out evaluation: label some reviews and train again")
        policy = self.family.gate_policy(workspace_id)
        failures += policy.below_minimum(held)
        live_version = self.family.live_version(workspace_id)
        live_metrics: dict[str, Any] | None = None
        if held.get("reviews") and live_version is not None and live_version != version:
            candidate_metrics, live_metrics = self._side_by_side(workspace_id, candidate, live_version)
            failures += policy.drops(candidate_metrics, live_metrics, GATED, live_version)
        return {
            "version": version,
            "passed": not failures,
            "failures": failures,
            "candidate": {m: held.get(m) for m in (*GATED, "reviews")},
            "live": None if live_metrics is None else {"version": live_version, **live_metrics},
        }

    def _side_by_side(
        self, workspace_id: str, candidate: ModelVersion, live_version: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        ids = list(candidate.report.get("predictions", {}))
        reviews = {r.id: r for r in self._store.reviews(workspace_id, ReviewFilter(ids=ids))}
        truth = {i: r.label for i, r in reviews.items() if r.label}
        common = [i for i in ids if i in truth]
        if not common:
            raise InvalidInput(f"the held-out reviews of v{candidate.version} are gone; train again")
        live = self._live.load(workspace_id, live_version)
        samples = [(reviews[i].text, reviews[i].product) for i in common]
        known = (
            self._vectors.ensure(workspace_id, [reviews[i] for i in common]) if live.needs_embeddings else {}
        )
        with known_vectors(known):
            live_predicted = [str(p) for p in live.model.predict(samples)]
        labels = list(candidate.report["labels"])
        truths = [str(truth[i]) for i in common]
        candidate_predicted = [candidate.report["predictions"][i] for i in common]
        return (
            held_out_metrics(truths, candidate_predicted, labels),
            held_out_metrics(truths, live_predicted, labels),
        )

    def promote(self, workspace_id: str, version: int, actor: str) -> dict[str, Any]:
        return self.family.promote(workspace_id, version, actor, self.check)

    def rollback(self, workspace_id: str, actor: str, version: int | None = None) -> int:
        return self.family.rollback(workspace_id, actor, version)


def _sample_for_embedding(train: Sequence[tuple[Review, str]], settings: SearchSettings) -> list[Review]:
    """The reviews the search will embed, embedded up front (with progress) and kept."""
    rows = embedding_rows([label for _, label in train], settings)
    return [train[i][0] for i in rows]
