"""Recommenders on the synthetic shop: real sparse matrices, the real ``implicit`` ALS, the real E5 model."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone

from zhiwen.adapters.embedders import BundledE5Embedder
from zhiwen.sample_shop import ShopSettings, generate
from zhiwen.services.recommend.evaluate import Split, evaluate, time_split
from zhiwen.services.recommend.models import (
    ALSRecommender,
    ContentRecommender,
    HybridRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    top_k,
)
from zhiwen.types import BehaviourEvent


@pytest.fixture(scope="module")
def shop(embedder: BundledE5Embedder) -> tuple[Split, np.ndarray]:
    items, rows = generate(ShopSettings(users=600, items=160, seed=5))
    weights = {"view": 1.0, "cart": 3.0, "purchase": 5.0}
    events = [
        BehaviourEvent(
            r["user_id"],
            r["item_id"],
            r["event"],
            float(r["weight"] or weights.get(r["event"], 1)),
            r["timestamp"],
        )
        for r in rows
    ]
    split = time_split(events, [i["item_id"] for i in items])
    vectors = embedder.embed_passages([f"{i['category']} {i['title']}" for i in items])
    return split, vectors


def test_top_k_never_recommends_what_the_user_has_or_what_is_not_allowed() -> None:
    scores = np.array([[0.9, 0.8, 0.7, 0.1]], dtype=np.float32)
    seen = sparse.csr_matrix(np.array([[1, 0, 0, 0]], dtype=np.float32))
    assert top_k(scores, seen, 2).tolist() == [[1, 2]]
    assert top_k(scores, seen, 2, allowed=np.array([True, False, True, True])).tolist() == [[2, 3]]


def test_the_hybrid_beats_popularity_and_helps_cold_start_users_more_than_als(
    shop: tuple[Split, np.ndarray],
) -> None:
    split, vectors = shop
    models = {
        "popularity": PopularityRecommender(),
        "itemknn": ItemKNNRecommender(),
        "als": ALSRecommender(),
        "content": ContentRecommender(vectors),
    }
    popularity = evaluate(PopularityRecommender().fit(split.train), split)
    als = evaluate(ALSRecommender().fit(split.train), split)
    hybrid = evaluate(
        HybridRecommender(models, {"itemknn": 1.0, "als": 0.5, "popularity": 0.3, "content": 0.2}).fit(
            split.train
        ),
        split,
    )
    assert hybrid["ndcg_at_k"] > popularity["ndcg_at_k"]
    assert hybrid["cold_ndcg_at_k"] > als["cold_ndcg_at_k"]
    assert hybrid["coverage"] > popularity["coverage"]
    assert hybrid["users"] > 0 and hybrid["cold_users"] > 0


def test_new_events_change_a_users_recommendations_without_retraining(shop: tuple[Split, np.ndarray]) -> None:
    split, vectors = shop
    for model in (ALSRecommender(), ItemKNNRecommender(), ContentRecommender(vectors)):
        model.fit(split.train)
        row = split.train[:1].copy()
        before = top_k(model.score(row), row, 10)
        liked = int(np.argsort(-np.asarray(split.train.sum(axis=0)).ravel())[-1])  # an unpopular item
        row = row + sparse.csr_matrix(([5.0], ([0], [liked])), shape=row.shape)
        after = top_k(model.score(row), row, 10)
        assert before.tolist() != after.tolist(), type(model).__name__


def test_content_recommends_items_nobody_has_touched(shop: tuple[Split, np.ndarray]) -> None:
    split, vectors = shop
    new_items = np.arange(0, 160, 8)  # twenty items as if they had just been added to the catalogue
    train = split.train.tolil()
    train[:, new_items] = 0
    train = train.tocsr()
    train.eliminate_zeros()
    content = ContentRecommender(vectors).fit(train)
    knn = ItemKNNRecommender().fit(train)
    users = train[:200]
    assert np.isin(top_k(content.score(users), users, 10), new_items).any()
    assert knn.score(users)[:, new_items].max() == 0  # a collaborative model has no evidence for them


def test_recommenders_follow_scikit_learn_conventions(shop: tuple[Split, np.ndarray]) -> None:
    split, _ = shop
    model = ALSRecommender(factors=8)
    assert model.fit(split.train) is model and hasattr(model, "model_")
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "model_")
