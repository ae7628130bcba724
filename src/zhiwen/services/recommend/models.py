"""Recommenders on a user × item interaction matrix, with scikit-learn's conventions: ``fit`` returns self,
learned state ends in ``_``, ``get_params``/``clone`` work.

Every model scores all items for a set of users, ``score(users) -> (len(users), n_items)``, from their
interaction rows; :func:`top_k` turns scores into recommendations, excluding what the user already has.
Because scores come from the user's *row*, a user's new events change their recommendations at once
without retraining (fold-in): for ALS the user's factors are re-solved from the row
(``recalculate_user``), the item-kNN and content models read the row directly.

* :class:`PopularityRecommender`: the baseline every other model must beat.
* :class:`ItemKNNRecommender`: cosine similarity between items' interaction columns, top neighbours kept.
* :class:`ALSRecommender`: implicit-feedback matrix factorisation (Hu, Koren and Volinsky 2008) from the
  ``implicit`` library, confidence 1 + alpha·log(1 + weight).
* :class:`ContentRecommender`: the bundled E5 embeddings of each item's title, category and description; a
  user is the weighted mean of what they touched. It can recommend items nobody has touched yet.
* :class:`HybridRecommender`: a weighted sum of the models' per-user normalised scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self, TypeAlias

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.base import BaseEstimator, clone
from threadpoolctl import threadpool_limits

Scores = npt.NDArray[np.float32]
Interactions: TypeAlias = Any  # scipy.sparse.csr_matrix (untyped): users × items, summed event weights


_SIMILARITY_BLOCK = 2048  # items per block of the item-kNN similarity: 2,048 × 20,000 float32 is 160 MB


def top_k(
    scores: Scores, seen: Interactions | None, k: int, allowed: npt.NDArray[np.bool_] | None = None
) -> npt.NDArray[np.int64]:
    """The k best items per row, never one the user already has (``seen``) or one not ``allowed``."""
    scores = np.array(scores, dtype=np.float32, copy=True)
    if seen is not None:
        rows, cols = seen.nonzero()
        scores[rows, cols] = -np.inf
    if allowed is not None:
        scores[:, ~allowed] = -np.inf
    k = min(k, scores.shape[1])
    best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(scores, best, axis=1).argsort(axis=1)[:, ::-1]
    return np.asarray(np.take_along_axis(best, order, axis=1), dtype=np.int64)


def normalise(scores: Scores) -> Scores:
    """Per user, to [0, 1]: models' scores live on different scales."""
    low = scores.min(axis=1, keepdims=True)
    span = scores.max(axis=1, keepdims=True) - low
    return np.asarray((scores - low) / np.where(span > 0, span, 1), dtype=np.float32)


class PopularityRecommender(BaseEstimator):  # type: ignore[misc]
    def fit(self, X: Interactions) -> Self:
        self.popularity_ = np.asarray(X.sum(axis=0)).ravel().astype(np.float32)
        return self

    def score(self, rows: Interactions) -> Scores:
        return np.tile(self.popularity_, (rows.shape[0], 1))


class ItemKNNRecommender(BaseEstimator):  # type: ignore[misc]
    def __init__(self, neighbours: int = 100) -> None:
        self.neighbours = neighbours

    def fit(self, X: Interactions) -> Self:
        """Cosine similarity, computed a block of items at a time and pruned to each item's strongest
        ``neighbours``: a dense item × item matrix of 20,000 items would take 1.6 GB."""
        binary = (X > 0).astype(np.float32)
        norms = np.sqrt(np.asarray(binary.sum(axis=0)).ravel())
        normalised = sparse.csc_matrix(binary.multiply(1 / np.where(norms > 0, norms, 1)))
        n_items = X.shape[1]
        keep = min(self.neighbours, n_items - 1)
        blocks = []
        for start in range(0, n_items, _SIMILARITY_BLOCK):
            block = (normalised[:, start : start + _SIMILARITY_BLOCK].T @ normalised).toarray()
            block[np.arange(block.shape[0]), np.arange(start, start + block.shape[0])] = 0
            if 0 < keep < n_items - 1:  # each row (item) keeps its strongest neighbours only
                cutoff = -np.partition(-block, keep - 1, axis=1)[:, keep - 1 : keep]
                block[block < cutoff] = 0
            blocks.append(sparse.csr_matrix(block))
        # similarity_[i, j]: how much touching item i says about item j
        self.similarity_ = sparse.csr_matrix(sparse.vstack(blocks), dtype=np.float32)
        return self

    def score(self, rows: Interactions) -> Scores:
        touched = sparse.csr_matrix(rows > 0, dtype=np.float32)
        return np.asarray((touched @ self.similarity_).toarray(), dtype=np.float32)


class ALSRecommender(BaseEstimator):  # type: ignore[misc]
    def __init__(
        self,
        factors: int = 16,
        regularization: float = 0.1,
        iterations: int = 15,
        alpha: float = 10.0,
        random_state: int = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.alpha = alpha
        self.random_state = random_state

    def _confidence(self, X: Interactions) -> Interactions:
        confidence = X.copy().astype(np.float32)
        confidence.data = 1 + self.alpha * np.log1p(confidence.data)
        return confidence

    def fit(self, X: Interactions) -> Self:
        from implicit.cpu.als import AlternatingLeastSquares

        with threadpool_limits(1, "blas"):  # implicit's own threads, not BLAS's (DESIGN.md: 5× slower)
            self.model_ = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                iterations=self.iterations,
                random_state=self.random_state,
                num_threads=2,
            )
            self.model_.fit(self._confidence(X), show_progress=False)
        return self

    def score(self, rows: Interactions) -> Scores:
        """Users' factors solved from their rows (fold-in), then their dot products with every item."""
        with threadpool_limits(1, "blas"):
            users = self.model_.recalculate_user(np.arange(rows.shape[0]), self._confidence(rows))
        return np.asarray(np.atleast_2d(users) @ self.model_.item_factors.T, dtype=np.float32)


class ContentRecommender(BaseEstimator):  # type: ignore[misc]
    """``item_vectors`` (n_items × d, L2-normalised E5 embeddings) are given, not learned."""

    def __init__(self, item_vectors: npt.NDArray[np.float32] | None = None) -> None:
        self.item_vectors = item_vectors

    def fit(self, X: Interactions) -> Self:
        assert self.item_vectors is not None
        assert self.item_vectors.shape[0] == X.shape[1]
        self.vectors_ = np.asarray(self.item_vectors, dtype=np.float32)
        return self

    def score(self, rows: Interactions) -> Scores:
        weights = rows.copy().astype(np.float32)
        weights.data = np.log1p(weights.data)
        profiles = np.asarray(weights @ self.vectors_)
        profiles /= np.maximum(np.linalg.norm(profiles, axis=1, keepdims=True), 1e-12)
        return np.asarray(profiles @ self.vectors_.T, dtype=np.float32)


class HybridRecommender(BaseEstimator):  # type: ignore[misc]
    def __init__(
        self, models: dict[str, BaseEstimator] | None = None, weights: dict[str, float] | None = None
    ) -> None:
        self.models = models
        self.weights = weights

    @classmethod
    def of(cls, fitted: Mapping[str, BaseEstimator], weights: Mapping[str, float]) -> HybridRecommender:
        """A hybrid of models already fitted on the same interactions, so evaluating every model and
        their blend costs one fit each."""
        hybrid = cls(dict(fitted), dict(weights))
        hybrid.models_ = {name: fitted[name] for name in weights}
        return hybrid

    def fit(self, X: Interactions) -> Self:
        assert self.models
        assert self.weights
        self.models_ = {
            name: clone(model).fit(X) for name, model in self.models.items() if self.weights.get(name)
        }
        return self

    def score(self, rows: Interactions) -> Scores:
        assert self.weights is not None
        total: Scores | None = None
        for name, model in self.models_.items():
            part = self.weights[name] * normalise(model.score(rows))
            total = part if total is None else total + part
        assert total is not None
        return total


def interaction_matrix(
    events: Sequence[tuple[str, str, float]], users: dict[str, int], items: dict[str, int]
) -> Interactions:
    """Summed weights of (user, item, weight) events; users and items outside the maps are skipped."""
    kept = [(users[u], items[i], w) for u, i, w in events if u in users and i in items]
    if not kept:
        return sparse.csr_matrix((len(users), len(items)), dtype=np.float32)
    rows, cols, weights = zip(*kept, strict=True)
    return sparse.csr_matrix(
        (np.asarray(weights, dtype=np.float32), (rows, cols)), shape=(len(users), len(items))
    )
