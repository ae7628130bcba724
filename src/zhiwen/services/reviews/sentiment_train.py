"""Choosing a sentiment model: cross-validated candidates with a small hyperparameter search, then held-out
metrics for the winner.

Embedding a review costs ~26 ms on 2 cores, the n-gram model well under 1 ms, so the search is shaped by
cost:

* the n-gram grid is cross-validated on a stratified sample of at most ``search_size`` labelled reviews;
* the embedding model is cross-validated on a smaller sample (``max_embedded``) inside it, the only reviews
  that are embedded for training;
* the blend weight is chosen on that sample from the two models' out-of-fold probabilities;
* all candidates are compared on the same embedded sample, by macro-F1, and the best wins. Models that
  embed score ~25× slower than the n-gram model: pass ``candidates=("ngram",)`` where speed matters more.

The winner is refitted on every training review. Held-out reviews (sha1(text) mod 5 = 0, the split of the
public review sets in ``../shared/data/sentiment``) are never seen by the search or the fit.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from zhiwen.errors import InvalidInput
from zhiwen.services.reviews.sentiment_models import (
    BlendSentimentClassifier,
    EmbeddingSentimentClassifier,
    NgramSentimentClassifier,
    Sample,
    SharedEmbedder,
    blend,
    stratified_rows,
)

CANDIDATES = ("ngram", "embedding", "blend")
NGRAM_GRID: tuple[dict[str, Any], ...] = (
    {"char_ngrams": 3, "words": False, "C": 4.0},
    {"char_ngrams": 3, "words": False, "C": 8.0},
    {"char_ngrams": 3, "words": True, "C": 4.0},
)
EMBEDDING_GRID: tuple[dict[str, Any], ...] = ({"C": 3.0}, {"C": 10.0}, {"C": 30.0})
BLEND_WEIGHTS = (0.5, 0.6, 0.7, 0.8)
MIN_PER_LABEL = 10
RARE_LABEL = 100  # a label with fewer training reviews joins the search whole, so every fold has it
Progress = Callable[[str, float], None]


def is_held_out(text: str) -> bool:
    """The fixed 20 % evaluation split: by content, so it never changes as reviews are added."""
    return int(hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest(), 16) % 5 == 0


@dataclass
class SearchSettings:
    candidates: tuple[str, ...] = CANDIDATES
    folds: int = 3
    search_size: int = 12_000
    max_embedded: int = 6_000
    random_state: int = 0


@dataclass
class SearchResult:
    kind: str
    model: BaseEstimator
    params: dict[str, Any]
    comparison: list[dict[str, Any]] = field(default_factory=list)  # best of each kind, on the same sample
    grid: list[dict[str, Any]] = field(default_factory=list)  # every setting tried, cross-validated
    seconds: float = 0.0


def check_labels(labels: Sequence[str]) -> None:
    counts = {label: labels.count(label) for label in set(labels)}
    if len(counts) < 2:
        raise InvalidInput(
            f"training needs at least two labels; the labelled reviews only have {sorted(counts)}. "
            "Import labelled reviews (a 'label' column) or use --from-ratings"
        )
    scarce = {label: n for label, n in counts.items() if n < MIN_PER_LABEL}
    if scarce:
        raise InvalidInput(f"too few training reviews for {scarce}; label at least {MIN_PER_LABEL} of each")


def embedding_rows(y: Sequence[str], settings: SearchSettings) -> npt.NDArray[np.int64]:
    """The training rows the search embeds: the same rows the final embedding model is fitted on."""
    if not set(settings.candidates) - {"ngram"}:
        return np.zeros(0, dtype=np.int64)
    return stratified_rows(np.asarray(y), settings.max_embedded, settings.random_state)


def _search_pool(
    labels: npt.NDArray[Any], embedded: npt.NDArray[np.int64], settings: SearchSettings
) -> npt.NDArray[np.int64]:
    """The embedded rows, every review of a rare label, and a stratified sample of the rest:
    ``search_size`` in all, give or take the rare ones."""
    values, counts = np.unique(labels, return_counts=True)
    rare = np.flatnonzero(np.isin(labels, values[counts < RARE_LABEL]))
    embedded = np.union1d(embedded, rare)
    rest = np.setdiff1d(np.arange(len(labels)), embedded)
    room = max(0, settings.search_size - len(embedded))
    extra = (
        rest[stratified_rows(labels[rest], room, settings.random_state)] if room and len(rest) else rest[:0]
    )
    return np.sort(np.concatenate([embedded, extra]))


def _out_of_fold(
    estimator: BaseEstimator, X: Sequence[Sample], y: npt.NDArray[Any], folds: list[tuple[Any, Any]]
) -> npt.NDArray[np.float64]:
    classes = np.unique(y)
    probabilities = np.zeros((len(X), len(classes)))
    for train, test in folds:
        model = clone(estimator).fit([X[i] for i in train], y[train])
        columns = np.searchsorted(classes, model.classes_)  # a rare label may be missing from a fold
        probabilities[np.ix_(test, columns)] = model.predict_proba([X[i] for i in test])
    return probabilities


def _macro_f1(
    y: npt.NDArray[Any], probabilities: npt.NDArray[np.float64], classes: npt.NDArray[Any]
) -> float:
    return float(f1_score(y, classes[probabilities.argmax(axis=1)], average="macro"))


def search(
    X: Sequence[Sample],
    y: Sequence[str],
    embedder: SharedEmbedder | None,
    settings: SearchSettings,
    progress: Progress | None = None,
) -> SearchResult:
    """Cross-validate the candidates, pick the best, refit it on all of ``X``."""
    started = time.perf_counter()
    report = progress or (lambda _step, _fraction: None)
    labels = np.asarray(y)
    check_labels(list(y))
    classes = np.unique(labels)
    wanted = [c for c in settings.candidates if c in CANDIDATES]
    if not wanted:
        raise InvalidInput(
            f"no known candidate in {settings.candidates}; choose from {', '.join(CANDIDATES)}"
        )
    if embedder is None:
        wanted = [c for c in wanted if c == "ngram"]
    if not wanted:
        raise InvalidInput("embedding candidates need the embedder; add 'ngram' to the candidates")

    embedded_rows = embedding_rows(list(y), settings) if embedder is not None else np.zeros(0, dtype=np.int64)
    pool = _search_pool(labels, embedded_rows, settings)
    X_pool, y_pool = [X[i] for i in pool], labels[pool]
    splitter = StratifiedKFold(settings.folds, shuffle=True, random_state=settings.random_state)
    folds = list(splitter.split(np.zeros(len(pool)), y_pool))
    embedded = np.flatnonzero(np.isin(pool, embedded_rows)) if len(embedded_rows) else np.arange(len(pool))
    position = np.full(len(pool), -1)
    position[embedded] = np.arange(len(embedded))
    embedded_folds = [(position[tr][position[tr] >= 0], position[te][position[te] >= 0]) for tr, te in folds]
    y_embedded = y_pool[embedded]
    results: list[dict[str, Any]] = []
    oof: dict[str, tuple[dict[str, Any], npt.NDArray[np.float64]]] = {}
    steps = len(NGRAM_GRID) * ("ngram" in wanted or "blend" in wanted) + len(EMBEDDING_GRID) * (
        "embedding" in wanted or "blend" in wanted
    )
    done = 0

    if "ngram" in wanted or "blend" in wanted:
        best_f1 = -1.0
        for params in NGRAM_GRID:
            report(f"n-gram {params}", done / max(steps, 1))
            probabilities = _out_of_fold(NgramSentimentClassifier(**params), X_pool, y_pool, folds)
            done += 1
            score = _macro_f1(y_pool, probabilities, classes)
            results.append({"candidate": "ngram", "params": params, "cv_macro_f1": round(score, 4)})
            if score > best_f1:
                best_f1, oof["ngram"] = score, (params, probabilities[embedded])
    if ("embedding" in wanted or "blend" in wanted) and embedder is not None:
        X_embedded = [X_pool[i] for i in embedded]
        report(f"embedding {len(X_embedded):,} reviews", done / max(steps, 1))
        best_f1 = -1.0
        for params in EMBEDDING_GRID:
            estimator = EmbeddingSentimentClassifier(embedder, **params)
            probabilities = _out_of_fold(estimator, X_embedded, y_embedded, embedded_folds)
            done += 1
            report(f"embedding {params}", done / max(steps, 1))
            score = _macro_f1(y_embedded, probabilities, classes)
            results.append({"candidate": "embedding", "params": params, "cv_macro_f1": round(score, 4)})
            if score > best_f1:
                best_f1, oof["embedding"] = score, (params, probabilities)

    # The comparison: every candidate on the same embedded sample.
    scores: dict[str, tuple[float, dict[str, Any]]] = {}
    if "ngram" in oof and "ngram" in wanted:
        params, probabilities = oof["ngram"]
        scores["ngram"] = (_macro_f1(y_embedded, probabilities, classes), params)
    if "embedding" in oof and "embedding" in wanted:
        params, probabilities = oof["embedding"]
        scores["embedding"] = (_macro_f1(y_embedded, probabilities, classes), params)
    if "blend" in wanted and "ngram" in oof and "embedding" in oof:
        for weight in BLEND_WEIGHTS:
            mixed = blend(oof["ngram"][1], oof["embedding"][1], weight)
            score = _macro_f1(y_embedded, mixed, classes)
            results.append(
                {"candidate": "blend", "params": {"ngram_weight": weight}, "cv_macro_f1": round(score, 4)}
            )
            if score > scores.get("blend", (-1.0, {}))[0]:
                scores["blend"] = (score, {"ngram_weight": weight})
    kind = max(scores, key=lambda name: scores[name][0])  # a tie keeps the first: ngram, the fastest
    report(f"fitting {kind} on {len(X):,} reviews", 0.95)
    model, params = _final_model(kind, scores, oof, embedder, settings)
    model.fit(X, labels)
    comparison = [
        {"candidate": name, "params": p, "sample_macro_f1": round(s, 4), "chosen": name == kind}
        for name, (s, p) in scores.items()
    ]
    report("done", 1.0)
    return SearchResult(
        kind=kind,
        model=model,
        params=params,
        comparison=comparison,
        grid=results,
        seconds=round(time.perf_counter() - started, 1),
    )


def _final_model(
    kind: str,
    scores: dict[str, tuple[float, dict[str, Any]]],
    oof: dict[str, tuple[dict[str, Any], npt.NDArray[np.float64]]],
    embedder: SharedEmbedder | None,
    settings: SearchSettings,
) -> tuple[BaseEstimator, dict[str, Any]]:
    def embedding(params: dict[str, Any]) -> EmbeddingSentimentClassifier:
        return EmbeddingSentimentClassifier(
            embedder, max_samples=settings.max_embedded, random_state=settings.random_state, **params
        )

    if kind == "ngram":
        params = oof["ngram"][0]
        return NgramSentimentClassifier(**params), params
    if kind == "embedding":
        params = oof["embedding"][0]
        return embedding(params), {**params, "max_samples": settings.max_embedded}
    ngram_params, embedding_params = oof["ngram"][0], oof["embedding"][0]
    weight = scores["blend"][1]["ngram_weight"]
    model = BlendSentimentClassifier(
        NgramSentimentClassifier(**ngram_params), embedding(embedding_params), weight
    )
    return model, {
        "ngram": ngram_params,
        "embedding": {**embedding_params, "max_samples": settings.max_embedded},
        "ngram_weight": weight,
    }


def held_out_metrics(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-label precision/recall/F1 and the confusion matrix (rows: truth)."""
    if not truth:
        return {"reviews": 0}
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=list(labels), zero_division=0
    )
    return {
        "reviews": len(truth),
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "macro_f1": round(float(f1_score(truth, predicted, labels=list(labels), average="macro")), 4),
        "per_label": {
            label: {
                "precision": round(float(precision[i]), 4),
                "recall": round(float(recall[i]), 4),
                "f1": round(float(f1[i]), 4),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
        "labels": list(labels),
        "confusion": confusion_matrix(truth, predicted, labels=list(labels)).tolist(),
    }
