"""Evaluating recommenders the way they are used: trained on the past, judged on what users did next.

A time-based split (the last ``test_fraction`` of the events by time is the test period) avoids the
leakage of random splits, where the model sees a user's later taste while predicting their earlier one.
For each user with new items in the test period: HR@k (at least one of them in the top k) and NDCG@k
(binary relevance), with items the user already had excluded; catalogue coverage is the share of items
that appear in anybody's top k. Cold-start users are those with at most ``cold_items`` items in training.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from zhiwen.services.recommend_models import Interactions, interaction_matrix, top_k
from zhiwen.types import BehaviourEvent

COLD_ITEMS = 3


@dataclass
class Split:
    train: Interactions
    truth: dict[int, set[int]]  # user row -> items first touched in the test period
    users: dict[str, int]
    items: dict[str, int]
    cutoff: str


def time_split(
    events: Sequence[BehaviourEvent], item_ids: Sequence[str], test_fraction: float = 0.2
) -> Split:
    ordered = sorted(events, key=lambda e: e.at)
    if len(ordered) < 10:
        raise ValueError("too few events to evaluate; import more behaviour first")
    cutoff = ordered[int(len(ordered) * (1 - test_fraction))].at
    items = {item: n for n, item in enumerate(item_ids)}
    users = {user: n for n, user in enumerate(sorted({e.user_id for e in ordered}))}
    past = [(e.user_id, e.item_id, e.weight) for e in ordered if e.at < cutoff]
    train = interaction_matrix(past, users, items)
    truth: dict[int, set[int]] = {}
    for e in ordered:
        if e.at >= cutoff and e.item_id in items:
            row, column = users[e.user_id], items[e.item_id]
            if train[row, column] == 0:
                truth.setdefault(row, set()).add(column)
    return Split(train, truth, users, items, cutoff)


def evaluate(model: BaseEstimator, split: Split, k: int = 10, batch: int = 1024) -> dict[str, Any]:
    """HR@k, NDCG@k and coverage over all test users, and over the cold-start ones."""
    rows = np.array(sorted(split.truth))
    history = np.asarray((split.train[rows] > 0).sum(axis=1)).ravel()
    hits: list[bool] = []
    gains: list[float] = []
    shown: set[int] = set()
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        seen = split.train[chunk]
        recommended = top_k(model.score(seen), seen, k)
        for row, items in zip(chunk, recommended, strict=True):
            wanted = split.truth[int(row)]
            shown.update(int(i) for i in items)
            relevant = [int(i) in wanted for i in items]
            hits.append(any(relevant))
            ideal = sum(1 / math.log2(r + 2) for r in range(min(len(wanted), k)))
            gains.append(sum(1 / math.log2(r + 2) for r, hit in enumerate(relevant) if hit) / ideal)
    cold = history <= COLD_ITEMS
    return {
        "users": len(rows),
        "hr_at_k": round(float(np.mean(hits)), 4),
        "ndcg_at_k": round(float(np.mean(gains)), 4),
        "coverage": round(len(shown) / split.train.shape[1], 4),
        "cold_users": int(cold.sum()),
        "cold_hr_at_k": round(float(np.mean(np.asarray(hits)[cold])), 4) if cold.any() else None,
        "cold_ndcg_at_k": round(float(np.mean(np.asarray(gains)[cold])), 4) if cold.any() else None,
        "k": k,
    }
