"""Evaluating recommenders the way they are used: trained on the past, judged on what users did next.

A time-based split (the last ``test_fraction`` of the events by time is the test period) avoids the
leakage of random splits, where the model sees a user's later taste while predicting their earlier one.
For each user with new items in the test period: HR@k (at least one of them in the top k) and NDCG@k
(binary relevance), with items the user already had excluded; catalogue coverage is the share of items
that appear in anybody's top k. Cold-start users are those with at most ``cold_items`` items in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator

from zhiwen.services.recommend.models import Interactions, interaction_matrix, top_k
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


def evaluate(
    model: BaseEstimator, split: Split, k: int = 10, rows: Sequence[int] | None = None, batch: int = 1024
) -> dict[str, Any]:
    """HR@k, NDCG@k and coverage over the test users (or ``rows`` of them), and over the cold-start ones."""
    chosen = np.array(sorted(split.truth) if rows is None else rows, dtype=np.int64)
    recommended = [
        top_k(model.score(split.train[chunk]), split.train[chunk], k)
        for chunk in (chosen[start : start + batch] for start in range(0, len(chosen), batch))
    ]
    return ranking_metrics(
        np.concatenate(recommended) if recommended else np.empty((0, k), dtype=np.int64), chosen, split
    )


def ranking_metrics(
    recommended: npt.NDArray[np.int64], rows: npt.NDArray[np.int64], split: Split
) -> dict[str, Any]:
    """The metrics of top-k lists ``recommended`` for the users ``rows`` of ``split``."""
    k = recommended.shape[1]
    history = np.asarray((split.train[rows] > 0).sum(axis=1)).ravel()
    hits = np.zeros(len(rows), dtype=bool)
    gains = np.zeros(len(rows))
    discounts = 1 / np.log2(np.arange(k) + 2)
    for n, (row, items) in enumerate(zip(rows, recommended, strict=True)):
        wanted = split.truth[int(row)]
        relevant = np.fromiter((int(i) in wanted for i in items), dtype=bool, count=k)
        hits[n] = relevant.any()
        gains[n] = discounts[relevant].sum() / discounts[: min(len(wanted), k)].sum()
    cold = history <= COLD_ITEMS
    return {
        "users": len(rows),
        "hr_at_k": _mean(hits),
        "ndcg_at_k": _mean(gains),
        "coverage": round(len(np.unique(recommended)) / split.train.shape[1], 4),
        "cold_users": int(cold.sum()),
        "cold_hr_at_k": _mean(hits[cold]),
        "cold_ndcg_at_k": _mean(gains[cold]),
        "k": k,
    }


def _mean(values: npt.NDArray[Any]) -> float | None:
    return round(float(values.mean()), 4) if len(values) else None
