"""Choosing a recommender honestly: hyperparameters and hybrid weights are picked on a validation period
carved from the training period, so the test period that the report and the gate use is never looked at.

The search fits each base model's few settings on the validation split, keeps the best per model, and
then finds the hybrid's weights by coordinate ascent over the per-user normalised scores it already has
(a weight change costs a top-k, not a fit). A hybrid whose weights leave one model is that model: the
search can choose a single model, popularity included, when blending does not help.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator

from zhiwen.services.recommend.evaluate import Split, ranking_metrics
from zhiwen.services.recommend.models import (
    ALSRecommender,
    ContentRecommender,
    HybridRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    Scores,
    normalise,
    top_k,
)

MODEL_NAMES = ("popularity", "itemknn", "als", "content")
GRID: dict[str, list[dict[str, Any]]] = {
    "popularity": [{}],
    "itemknn": [{"neighbours": n} for n in (20, 100, 300)],
    "als": [{"factors": f, "alpha": a} for f in (16, 32, 64) for a in (2.0, 10.0)],
    "content": [{}],
}
WEIGHT_STEPS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)
SCORE_CELLS = 30_000_000  # validation users × items scored at once per model (120 MB of float32)
K = 10

Progress = Callable[[str, int, int], None]


@dataclass
class Choice:
    weights: dict[str, float]  # the models in the hybrid and their weights (zero-weight models left out)
    params: dict[str, dict[str, Any]]  # each chosen model's hyperparameters
    validation: dict[str, Any]  # what the search saw: each setting's NDCG, each model's and the hybrid's

    @property
    def kind(self) -> str:
        return "hybrid" if len(self.weights) > 1 else next(iter(self.weights))


def build(
    weights: Mapping[str, float],
    params: Mapping[str, Mapping[str, Any]],
    item_vectors: npt.NDArray[np.float32] | None,
) -> HybridRecommender:
    """The unfitted recommender a choice describes."""
    return HybridRecommender(
        {name: base_model(name, params.get(name, {}), item_vectors) for name in weights}, dict(weights)
    )


def base_model(
    name: str, params: Mapping[str, Any], item_vectors: npt.NDArray[np.float32] | None
) -> BaseEstimator:
    if name == "popularity":
        return PopularityRecommender()
    if name == "itemknn":
        return ItemKNNRecommender(**params)
    if name == "als":
        return ALSRecommender(**params)
    if name == "content":
        return ContentRecommender(item_vectors)
    raise ValueError(f"unknown recommender {name!r}; known: {', '.join(MODEL_NAMES)}")


def search(
    validation: Split,
    item_vectors: npt.NDArray[np.float32] | None,
    candidates: tuple[str, ...] = MODEL_NAMES,
    progress: Progress | None = None,
) -> Choice:
    """The best settings and hybrid weights by NDCG@10 on ``validation`` (a split of the training period)."""
    rows = _sample_users(validation)
    seen = validation.train[rows]
    settings = [(name, p) for name in candidates for p in GRID[name]]
    scores: dict[str, Scores] = {}
    params: dict[str, dict[str, Any]] = {}
    table: dict[str, Any] = {"users": len(rows), "settings": []}
    best: dict[str, float] = {}
    for done, (name, setting) in enumerate(settings):
        if progress:
            progress("search", done, len(settings))
        model = base_model(name, setting, item_vectors).fit(validation.train)
        normalised = normalise(model.score(seen))
        ndcg = _ndcg(normalised, seen, rows, validation)
        table["settings"].append({"model": name, "params": setting, "ndcg_at_k": ndcg})
        if ndcg > best.get(name, -1.0):
            best[name], params[name], scores[name] = ndcg, setting, normalised
    weights = _blend(scores, seen, rows, validation)
    table["models"] = best
    table["hybrid"] = _ndcg(_combine(scores, weights), seen, rows, validation)
    return Choice(weights, {name: params[name] for name in weights}, table)


def _blend(
    scores: Mapping[str, Scores], seen: Any, rows: npt.NDArray[np.int64], split: Split
) -> dict[str, float]:
    """Coordinate ascent on the hybrid's weights from the best single model; a change must gain 0.001."""
    first = max(scores, key=lambda name: _ndcg(scores[name], seen, rows, split))
    weights = {first: 1.0}
    current = _ndcg(scores[first], seen, rows, split)
    for _ in range(2):
        for name in scores:
            for step in WEIGHT_STEPS:
                trial = {**weights, name: step}
                trial = {n: w for n, w in trial.items() if w > 0}
                if not trial or trial == weights:
                    continue
                ndcg = _ndcg(_combine(scores, trial), seen, rows, split)
                if ndcg > current + 0.001:
                    weights, current = trial, ndcg
    return weights


def _combine(scores: Mapping[str, Scores], weights: Mapping[str, float]) -> Scores:
    total = sum(weight * scores[name] for name, weight in weights.items())
    return np.asarray(total, dtype=np.float32)


def _ndcg(scores: Scores, seen: Any, rows: npt.NDArray[np.int64], split: Split) -> float:
    value = ranking_metrics(top_k(scores, seen, K), rows, split)["ndcg_at_k"]
    return float(value or 0.0)


def _sample_users(split: Split, seed: int = 0) -> npt.NDArray[np.int64]:
    """The validation users the search scores: all of them when they fit in ``SCORE_CELLS``."""
    rows = np.array(sorted(split.truth), dtype=np.int64)
    cap = max(200, SCORE_CELLS // max(split.train.shape[1], 1))
    if len(rows) > cap:
        rows = np.sort(np.random.default_rng(seed).choice(rows, cap, replace=False))
    return rows
