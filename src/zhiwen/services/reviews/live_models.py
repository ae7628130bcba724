"""What the review services share: review embeddings computed once and kept, and the live sentiment model.

Embedding is the expensive step (~26 ms per review on 2 cores), so a review is embedded at most once: its
vector is stored next to it and reused by training, scoring, and topic clustering.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator

from zhiwen.ports import Embedder, ModelRegistry, ReviewStore, Vector
from zhiwen.services.lifecycle.stored_models import dump_model, load_model
from zhiwen.services.reviews.sentiment_models import SharedEmbedder, ZeroShotSentimentClassifier, set_embedder
from zhiwen.types import Review

EMBED_CHARS = 200  # the opening of a review carries its sentiment; longer texts cost time for little gain
EMBED_BATCH = 32
FAMILY = "sentiment"  # in the model registry
ZERO_SHOT_VERSION = 0  # reviews scored by the zero-shot baseline carry model_version 0
EMBEDDING_KINDS = ("embedding", "blend", "zero-shot")

Progress = Callable[[str, float], None]


class ReviewVectors:
    """Review embeddings, read from the store or computed (and stored) on a miss."""

    def __init__(self, store: ReviewStore, embedder: Embedder) -> None:
        self._store = store
        self._embedder = embedder

    def embed_texts(self, texts: Sequence[str]) -> Vector:
        if not texts:
            return np.zeros((0, self._embedder.dim), dtype=np.float32)
        return self._embedder.embed_passages([t[:EMBED_CHARS] for t in texts])

    def ensure(
        self, workspace_id: str, reviews: Sequence[Review], progress: Progress | None = None
    ) -> dict[str, Vector]:
        """Vectors by review *text* for all ``reviews``; the missing ones are embedded and stored."""
        ids = [r.id for r in reviews]
        stored = self._store.vectors(workspace_id, ids)
        missing = [r for r in reviews if r.id not in stored]
        for start in range(0, len(missing), EMBED_BATCH):
            batch = missing[start : start + EMBED_BATCH]
            vectors = self.embed_texts([r.text for r in batch])
            fresh = {r.id: vectors[i] for i, r in enumerate(batch)}
            self._store.save_vectors(workspace_id, fresh)
            stored.update(fresh)
            if progress:
                progress(f"embedding {len(missing):,} reviews", min(1.0, (start + len(batch)) / len(missing)))
        return {r.text: stored[r.id] for r in reviews}

    def shared_embedder(self) -> SharedEmbedder:
        """The embedder models hold: it answers from the vectors of :func:`known_vectors` first and
        embeds only the rest."""

        def embed(texts: Sequence[str]) -> Vector:
            known = _known.get() or {}
            unknown = [t for t in dict.fromkeys(texts) if t not in known]
            fresh = dict(zip(unknown, self.embed_texts(unknown), strict=True)) if unknown else {}
            if not texts:
                return self.embed_texts([])
            return np.stack([known[t] if t in known else fresh[t] for t in texts])

        return SharedEmbedder(embed)


_known: ContextVar[dict[str, Vector] | None] = ContextVar("known_review_vectors", default=None)


@contextmanager
def known_vectors(vectors: dict[str, Vector]) -> Iterator[None]:
    """Within this block, models take the vectors of these texts instead of embedding them again."""
    token = _known.set(vectors)
    try:
        yield
    finally:
        _known.reset(token)


@dataclass
class LoadedModel:
    version: int
    kind: str
    model: BaseEstimator

    @property
    def needs_embeddings(self) -> bool:
        return self.kind in EMBEDDING_KINDS


def serialise(model: BaseEstimator) -> bytes:
    """Pickled without the embedder (see SharedEmbedder). Only models this process trained are stored, and
    the database is trusted like the code: it is never loaded from a user's upload."""
    return dump_model(model)


class LiveModels:
    """The live sentiment model per workspace (from the model registry), loaded once per version; the
    zero-shot baseline when no trained model is live."""

    def __init__(self, models: ModelRegistry, vectors: ReviewVectors) -> None:
        self._models = models
        self._vectors = vectors
        self._cache: dict[tuple[str, int], LoadedModel] = {}
        self._lock = threading.Lock()
        self._zero_shot: LoadedModel | None = None

    def live(self, workspace_id: str) -> LoadedModel:
        version = self._models.live_version(workspace_id, FAMILY)
        return self.zero_shot() if version is None else self.load(workspace_id, version)

    def load(self, workspace_id: str, version: int) -> LoadedModel:
        with self._lock:
            cached = self._cache.get((workspace_id, version))
        if cached is not None:
            return cached
        info = self._models.get(workspace_id, FAMILY, version)
        model = load_model(self._models.load(workspace_id, FAMILY, version))
        set_embedder(model, self._vectors.shared_embedder())
        loaded = LoadedModel(version, info.kind, model)
        with self._lock:
            self._cache[(workspace_id, version)] = loaded
        return loaded

    def zero_shot(self) -> LoadedModel:
        if self._zero_shot is None:
            model = ZeroShotSentimentClassifier(self._vectors.shared_embedder()).fit()
            self._zero_shot = LoadedModel(ZERO_SHOT_VERSION, "zero-shot", model)
        return self._zero_shot
