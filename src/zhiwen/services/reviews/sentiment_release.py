"""Sentiment model versions: train, evaluate held out, and promote through the same kind of gate as answer
releases (workspace minimums, no regression beyond a tolerance against the live model), or roll back."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from zhiwen.errors import Conflict, GateRefused, InvalidInput, NotFound
from zhiwen.ports import ReviewFilter, ReviewStore, WorkspaceStore
from zhiwen.services.lifecycle.gate_policy import GatePolicy
from zhiwen.services.reviews.live_models import LiveModels, Progress, ReviewVectors, known_vectors, serialise
from zhiwen.services.reviews.sentiment_train import (
    SearchSettings,
    embedding_rows,
    held_out_metrics,
    is_held_out,
    search,
)
from zhiwen.types import Review, SentimentModelVersion

SENTIMENT_GATE_SETTING = "sentiment_gate"
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
        self, store: ReviewStore, workspaces: WorkspaceStore, vectors: ReviewVectors, models: LiveModels
    ) -> None:
        self._store = store
        self._workspaces = workspaces
        self._vectors = vectors
        self._models = models

    def train(
        self,
        workspace_id: str,
        actor: str,
        settings: SearchSettings | None = None,
        from_ratings: bool = False,
        progress: Progress | None = None,
    ) -> SentimentModelVersion:
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
        return self._store.save_model(
            workspace_id, result.kind, labels, result.params, report, serialise(result.model), actor
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
        zero_shot = self._models.zero_shot().model
        with known_vectors(known):
            predicted = zero_shot.predict([(r.text, r.product) for r, _ in binary])
        return held_out_metrics(
            [label for _, label in binary], [str(p) for p in predicted], ["negative", "positive"]
        )

    def models(self, workspace_id: str) -> list[SentimentModelVersion]:
        return self._store.list_models(workspace_id)

    def get(self, workspace_id: str, version: int) -> SentimentModelVersion:
        return self._store.get_model(workspace_id, version)[0]

    def live_version(self, workspace_id: str) -> int | None:
        return self._store.live_version(workspace_id)

    def history(self, workspace_id: str) -> list[dict[str, Any]]:
        return self._store.events(workspace_id)

    def gate_policy(self, workspace_id: str) -> GatePolicy:
        return GatePolicy.from_dict(self._workspaces.get_setting(workspace_id, SENTIMENT_GATE_SETTING))

    def set_gate_policy(
        self, workspace_id: str, minimum: Mapping[str, float], tolerance: float | None
    ) -> GatePolicy:
        policy = self.gate_policy(workspace_id).updated(minimum, tolerance, GATED)
        self._workspaces.put_setting(workspace_id, SENTIMENT_GATE_SETTING, policy.to_dict())
        return policy

    def check(self, workspace_id: str, version: int) -> dict[str, Any]:
        """The gate's verdict: metrics against the minimums, and against the live model on the same
        held-out reviews (re-scored by the live model when their held-out sets differ)."""
        candidate = self.get(workspace_id, version)
        held = candidate.report.get("held_out") or {}
        failures = []
        if not held.get("reviews"):
            failures.append("no held-out evaluation: label some reviews and train again")
        policy = self.gate_policy(workspace_id)
        failures += policy.below_minimum(held)
        live_version = self._store.live_version(workspace_id)
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
        self, workspace_id: str, candidate: SentimentModelVersion, live_version: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        ids = list(candidate.report.get("predictions", {}))
        reviews = {r.id: r for r in self._store.reviews(workspace_id, ReviewFilter(ids=ids))}
        truth = {i: r.label for i, r in reviews.items() if r.label}
        common = [i for i in ids if i in truth]
        if not common:
            raise InvalidInput(f"the held-out reviews of v{candidate.version} are gone; train again")
        live = self._models.load(workspace_id, live_version)
        samples = [(reviews[i].text, reviews[i].product) for i in common]
        known = (
            self._vectors.ensure(workspace_id, [reviews[i] for i in common]) if live.needs_embeddings else {}
        )
        with known_vectors(known):
            live_predicted = [str(p) for p in live.model.predict(samples)]
        labels = list(candidate.labels)
        truths = [str(truth[i]) for i in common]
        candidate_predicted = [candidate.report["predictions"][i] for i in common]
        return (
            held_out_metrics(truths, candidate_predicted, labels),
            held_out_metrics(truths, live_predicted, labels),
        )

    def promote(self, workspace_id: str, version: int, actor: str) -> dict[str, Any]:
        verdict = self.check(workspace_id, version)
        if not verdict["passed"]:
            failures = "; ".join(verdict["failures"])
            raise GateRefused(f"sentiment model v{version} fails the gate: {failures}", verdict)
        self._store.set_live(workspace_id, version, "promote", actor, verdict)
        return verdict

    def rollback(self, workspace_id: str, actor: str, version: int | None = None) -> int:
        """Make an earlier live version live again at once, not gated: the emergency exit. Default: the one
        before. A version never live is refused: only promotion, through the gate, makes a version live."""
        if version is None:
            current = self._store.live_version(workspace_id)
            earlier = [
                e["version"] for e in self._store.events(workspace_id, 1000) if e["version"] != current
            ]
            if not earlier:
                raise NotFound("no earlier live sentiment model to roll back to; see `zhiwen reviews models`")
            version = int(earlier[0])
        self.get(workspace_id, version)
        events = self._store.events(workspace_id, 100_000)
        if not any(e["version"] == version and e["action"] in ("promote", "rollback") for e in events):
            raise Conflict(
                f"sentiment model v{version} has never been live: promote it, so the gate judges it"
            )
        self._store.set_live(workspace_id, version, "rollback", actor, {})
        return version


def _sample_for_embedding(train: Sequence[tuple[Review, str]], settings: SearchSettings) -> list[Review]:
    """The reviews the search will embed, embedded up front (with progress) and kept."""
    rows = embedding_rows([label for _, label in train], settings)
    return [train[i][0] for i in rows]
