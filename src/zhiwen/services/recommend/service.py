"""Serving recommendations from the live recommender.

A user's row is read from the stored events on every request, so an event posted a moment ago changes
that user's recommendations at once, without retraining: the models score from the row (item-kNN and
content read it, ALS re-solves the user's factors from it). Users the model never saw work the same way,
and a user with no events gets what is popular. The catalogue (availability, categories, titles) is read
again whenever it changes, so a sold-out item stops being recommended without retraining either.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from zhiwen.errors import NotFound
from zhiwen.ports import CatalogStore
from zhiwen.services.recommend.models import ALSRecommender, ContentRecommender, ItemKNNRecommender, top_k
from zhiwen.services.recommend.release import RecommenderModelService, TrainedRecommender
from zhiwen.text.tokenize import keyword_tokens
from zhiwen.types import BehaviourEvent, CatalogItem, RelatedProduct

VERBS = {"view": "viewed", "cart": "added to cart", "purchase": "bought", "rating": "rated"}
MAX_K = 100


@dataclass(frozen=True)
class Recommendation:
    item: CatalogItem
    score: float
    reason: str  # "because_you_<kind>", "similar_taste", "popular" or "similar_item"
    because: CatalogItem | None = None  # the item of the user's that led here
    text: str = ""  # the reason in words

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item.__dict__,
            "score": round(self.score, 4),
            "reason": self.reason,
            "because": None if self.because is None else {"id": self.because.id, "title": self.because.title},
            "text": self.text,
        }


@dataclass
class _View:
    """The live model with the catalogue laid over its columns."""

    version: int
    trained: TrainedRecommender
    index: dict[str, int]
    items: list[CatalogItem | None]  # None: dropped from the catalogue since training
    available: npt.NDArray[np.bool_]
    categories: npt.NDArray[np.str_]
    title_tokens: dict[str, set[int]] = field(default_factory=dict)  # token -> items whose title has it
    item_tokens: list[set[str]] = field(default_factory=list)


class RecommendationService:
    def __init__(self, catalog: CatalogStore, models: RecommenderModelService) -> None:
        self._catalog = catalog
        self._models = models
        self._lock = threading.Lock()
        self._views: dict[str, tuple[int, str, _View]] = {}  # workspace -> (version, catalogue stamp, view)
        self._loaded: dict[tuple[str, int], TrainedRecommender] = {}

    def recommend(
        self,
        workspace_id: str,
        user_id: str,
        k: int = 10,
        categories: Collection[str] = (),
        available_only: bool = True,
        include_seen: bool = False,
    ) -> list[Recommendation]:
        """The top ``k`` items for a user, never one they bought (nor, unless ``include_seen``, one they
        viewed, carted or rated), each with the reason it is there."""
        view = self._view(workspace_id)
        events = self._catalog.events(workspace_id, user_id=user_id)
        row = _row(events, view)
        excluded = row
        if include_seen:
            bought = [
                view.index[e.item_id] for e in events if e.kind == "purchase" and e.item_id in view.index
            ]
            excluded = sparse.csr_matrix(
                (np.ones(len(bought), dtype=np.float32), ([0] * len(bought), bought)), shape=row.shape
            )
        scores = view.trained.model.score(row)
        chosen = _top(scores, excluded, k, _allowed(view, categories, available_only))
        return _explained(view, chosen, scores[0], events)

    def similar(
        self,
        workspace_id: str,
        item_id: str,
        k: int = 10,
        categories: Collection[str] = (),
        available_only: bool = True,
    ) -> list[Recommendation]:
        """Items that go with ``item_id``: what customers who touched it touched, and what reads alike."""
        view = self._view(workspace_id)
        if item_id not in view.index:
            self._catalog_item(workspace_id, item_id)  # NotFound for an unknown item
            raise NotFound(
                f"item {item_id} is newer than recommender v{view.version}; train again to include it"
            )
        return self._similar_to(view, [view.index[item_id]], k, categories, available_only)

    def related_to_question(self, workspace_id: str, question: str, k: int) -> list[Recommendation]:
        """Related products when ``question`` names catalogue products; none when it names none or no
        recommender is live."""
        try:
            view = self._view(workspace_id)
        except NotFound:
            return []
        mentioned = _mentioned(view, question)
        return self._similar_to(view, mentioned, k, (), True) if mentioned else []

    def related_products(self, workspace_id: str, question: str, k: int) -> list[RelatedProduct]:
        """:meth:`related_to_question` in the shape answers carry (``RelatedProducts``)."""
        return [
            RelatedProduct(
                r.item.id, r.item.title, r.item.category, r.item.price, r.because.title if r.because else ""
            )
            for r in self.related_to_question(workspace_id, question, k)
        ]

    def _similar_to(
        self, view: _View, columns: Sequence[int], k: int, categories: Collection[str], available_only: bool
    ) -> list[Recommendation]:
        row = sparse.csr_matrix(
            (np.ones(len(columns), dtype=np.float32), ([0] * len(columns), list(columns))),
            shape=(1, len(view.items)),
        )
        scores = view.trained.model.score(row)
        chosen = _top(scores, row, k, _allowed(view, categories, available_only))
        sources = [view.items[c] for c in columns]
        return [
            Recommendation(
                item,
                float(scores[0, column]),
                "similar_item",
                sources[0],
                f"goes with {sources[0].title}" if sources[0] else "",
            )
            for column in chosen
            if (item := view.items[column]) is not None
        ]

    def _catalog_item(self, workspace_id: str, item_id: str) -> CatalogItem:
        found = self._catalog.items(workspace_id, [item_id])
        if not found:
            raise NotFound(f"no item {item_id} in the catalogue; see `zhiwen catalog list`")
        return found[0]

    def _view(self, workspace_id: str) -> _View:
        version = self._models.live_version(workspace_id)
        if version is None:
            raise NotFound(
                "no recommender is live in this workspace: train one with `zhiwen recommend train`, then"
                " `zhiwen recommend promote N`"
            )
        stamp = self._catalog.stamp(workspace_id)
        with self._lock:
            cached = self._views.get(workspace_id)
        if cached and cached[:2] == (version, stamp):
            return cached[2]
        key = (workspace_id, version)
        trained = self._loaded.get(key) or self._models.load(workspace_id, version)
        view = _build_view(version, trained, self._catalog.items(workspace_id))
        with self._lock:
            self._loaded = {k: v for k, v in self._loaded.items() if k[0] != workspace_id}
            self._loaded[key] = trained
            self._views[workspace_id] = (version, stamp, view)
        return view


def _build_view(version: int, trained: TrainedRecommender, catalogue: Sequence[CatalogItem]) -> _View:
    by_id = {item.id: item for item in catalogue}
    items = [by_id.get(i) for i in trained.item_ids]
    view = _View(
        version=version,
        trained=trained,
        index={item: n for n, item in enumerate(trained.item_ids)},
        items=items,
        available=np.array([i is not None and i.available for i in items], dtype=bool),
        categories=np.array([i.category if i else "" for i in items]),
    )
    tokens: dict[str, set[int]] = defaultdict(set)
    for column, item in enumerate(items):
        words = set(keyword_tokens(item.title)) if item else set()
        view.item_tokens.append(words)
        for word in words:
            tokens[word].add(column)
    view.title_tokens = dict(tokens)
    return view


def _row(events: Sequence[BehaviourEvent], view: _View) -> Any:
    weights: dict[int, float] = defaultdict(float)
    for event in events:
        if event.item_id in view.index:
            weights[view.index[event.item_id]] += event.weight
    columns = list(weights)
    return sparse.csr_matrix(
        (np.array([weights[c] for c in columns], dtype=np.float32), ([0] * len(columns), columns)),
        shape=(1, len(view.items)),
    )


def _allowed(view: _View, categories: Collection[str], available_only: bool) -> npt.NDArray[np.bool_]:
    allowed = view.available.copy() if available_only else np.array([i is not None for i in view.items])
    if categories:
        allowed &= np.isin(view.categories, list(categories))
    return allowed


def _top(scores: Any, excluded: Any, k: int, allowed: npt.NDArray[np.bool_]) -> list[int]:
    best = top_k(scores, excluded, min(k, MAX_K), allowed)[0]
    blocked = set(excluded.indices.tolist())
    return [int(c) for c in best if allowed[c] and int(c) not in blocked]


def _explained(
    view: _View, columns: Sequence[int], scores: Any, events: Sequence[BehaviourEvent]
) -> list[Recommendation]:
    """Each recommendation with the user's item most similar to it ("because you viewed …"); with no
    history, or nothing similar, it is there for its popularity or for the user's overall taste."""
    touched: dict[int, str] = {}
    strength = {"view": 0, "rating": 1, "cart": 2, "purchase": 3}
    for event in events:
        column = view.index.get(event.item_id)
        if column is not None and strength.get(event.kind, 0) >= strength.get(touched.get(column, "view"), 0):
            touched[column] = event.kind
    sources = list(touched)
    similarity = _similarity(view, sources, columns)
    found = []
    for n, column in enumerate(columns):
        item = view.items[column]
        assert item is not None
        if touched and similarity is not None and similarity[:, n].max() > 0:
            source = sources[int(similarity[:, n].argmax())]
            because = view.items[source]
            kind = touched[source]
            text = f"because you {VERBS.get(kind, kind)} {because.title}" if because else ""
            found.append(Recommendation(item, float(scores[column]), f"because_you_{kind}", because, text))
        elif touched:
            found.append(
                Recommendation(
                    item, float(scores[column]), "similar_taste", None, "customers like you chose it"
                )
            )
        else:
            found.append(
                Recommendation(item, float(scores[column]), "popular", None, "popular with customers")
            )
    return found


def _similarity(view: _View, sources: Sequence[int], targets: Sequence[int]) -> Any:
    """sources × targets similarity from the model's own parts: item-kNN, else content, else ALS."""
    if not sources or not targets:
        return None
    parts = view.trained.model.models_
    knn = parts.get("itemknn")
    if isinstance(knn, ItemKNNRecommender):
        return knn.similarity_[sources][:, targets].toarray()
    content = parts.get("content")
    if isinstance(content, ContentRecommender):
        return content.vectors_[sources] @ content.vectors_[targets].T
    als = parts.get("als")
    if isinstance(als, ALSRecommender):
        factors = np.asarray(als.model_.item_factors)
        chosen = factors / np.maximum(np.linalg.norm(factors, axis=1, keepdims=True), 1e-12)
        return chosen[sources] @ chosen[targets].T
    return None


def _mentioned(view: _View, question: str) -> list[int]:
    """Catalogue items the question names: those sharing the most title words with it, weighted by how
    rare each word is among titles, provided a shared word is a model code (it has a digit: "R7", "X1")
    or the whole title is in the question. At most two."""
    words = set(keyword_tokens(question))
    n_items = len(view.items)
    scores: dict[int, float] = defaultdict(float)
    coded: set[int] = set()
    for word in words:
        holders = view.title_tokens.get(word, set())
        for column in holders:
            scores[column] += math.log(1 + n_items / len(holders))
            if any(ch.isdigit() for ch in word):
                coded.add(column)
    for column in scores:
        if view.item_tokens[column] and view.item_tokens[column] <= words:
            coded.add(column)
    candidates = {c: s for c, s in scores.items() if c in coded}
    if not candidates:
        return []
    best = max(candidates.values())
    return sorted(c for c, s in candidates.items() if s >= best - 1e-9)[:2]
