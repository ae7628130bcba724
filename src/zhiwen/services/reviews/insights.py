"""What the reviews say, per product and period: volume, satisfaction, and the complaint topics."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np

from zhiwen.errors import InvalidInput
from zhiwen.ports import ReviewFilter, ReviewStore
from zhiwen.services.reviews.live_models import Progress, ReviewVectors
from zhiwen.services.reviews.topics import MIN_REVIEWS, TopicModel, build_topics
from zhiwen.types import Review

Period = Literal["day", "week", "month"]
MAX_TOPIC_REVIEWS = 3000  # clustered; the rest of the negatives are assigned to the nearest topic
NO_PRODUCT = "(no product)"


def period_of(timestamp: str, period: Period) -> str:
    """ "2026-11", "2026-W47" (ISO week) or "2026-11-23"."""
    if period == "month":
        return timestamp[:7]
    if period == "day":
        return timestamp[:10]
    year, week, _ = datetime.fromisoformat(timestamp).isocalendar()
    return f"{year}-W{week:02d}"


@dataclass
class Bucket:
    reviews: int = 0
    scored: int = 0
    positive: int = 0
    negative: int = 0
    neutral: int = 0

    def add(self, review: Review) -> None:
        self.reviews += 1
        if review.sentiment is not None:
            self.scored += 1
            if review.sentiment in ("positive", "negative", "neutral"):
                setattr(self, review.sentiment, getattr(self, review.sentiment) + 1)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.__dict__)
        data["satisfaction"] = round(self.positive / self.scored, 4) if self.scored else None
        return data


class ReviewInsights:
    def __init__(self, store: ReviewStore, vectors: ReviewVectors) -> None:
        self._store = store
        self._vectors = vectors

    def build_topics(
        self, workspace_id: str, k: int | None = None, progress: Progress | None = None
    ) -> TopicModel:
        """Cluster up to 3,000 negative reviews (scored negative, or labelled so when not scored yet),
        then assign every negative review to its nearest topic."""
        if k is not None and not 2 <= k <= 30:
            raise InvalidInput("the number of topics must be between 2 and 30")
        negatives = [
            r
            for r in self._store.reviews(workspace_id, ReviewFilter())
            if (r.sentiment or r.label) == "negative"
        ]
        distinct = {r.text for r in negatives}  # copies of one text are one point to cluster
        if len(distinct) < MIN_REVIEWS:
            raise InvalidInput(
                f"{len(distinct)} distinct negative reviews; topics need at least {MIN_REVIEWS}. "
                "Import more reviews, or score them first (`zhiwen reviews score`)"
            )
        sample = random.Random(0).sample(negatives, min(len(negatives), MAX_TOPIC_REVIEWS))
        points = len({r.text for r in sample})
        if k is not None and k >= points:
            raise InvalidInput(f"{points} distinct negative reviews allow at most {points - 1} topics")
        known = self._vectors.ensure(workspace_id, sample, progress)
        model = build_topics([r.text for r in sample], np.stack([known[r.text] for r in sample]), k)
        self._store.save_topics(workspace_id, model.to_dict())
        known = self._vectors.ensure(workspace_id, negatives, progress)
        assigned = model.assign([r.text for r in negatives], np.stack([known[r.text] for r in negatives]))
        self._store.set_topics(
            workspace_id, [(r.id, int(t)) for r, t in zip(negatives, assigned, strict=True)]
        )
        return model

    def topics(self, workspace_id: str) -> TopicModel | None:
        return TopicModel.from_dict(self._store.topics(workspace_id))

    def summary(
        self,
        workspace_id: str,
        product: str | None = None,
        period: Period = "month",
        since: str | None = None,
        until: str | None = None,
        top_topics: int = 3,
    ) -> dict[str, Any]:
        """Per product and per period: volume, scored, positive/negative/neutral counts, satisfaction
        (positive share of scored reviews) and the most frequent complaint topics."""
        if period not in ("day", "week", "month"):
            raise InvalidInput(f"period {period!r}: use day, week or month")
        reviews = self._store.reviews(workspace_id, ReviewFilter(product=product, since=since, until=until))
        topics = self.topics(workspace_id)
        by_product: dict[str, Bucket] = defaultdict(Bucket)
        by_period: dict[str, dict[str, Bucket]] = defaultdict(lambda: defaultdict(Bucket))
        complaints: dict[str, Counter[int]] = defaultdict(Counter)
        for review in reviews:
            name = review.product or NO_PRODUCT
            when = period_of(review.created_at, period)
            by_product[name].add(review)
            by_period[name][when].add(review)
            if review.sentiment == "negative" and review.topic is not None:
                complaints[name][review.topic] += 1
                complaints[""][review.topic] += 1

        def top(counter: Counter[int]) -> list[dict[str, Any]]:
            return [
                {"topic": t, "name": topics.name_of(t) if topics else None, "reviews": n}
                for t, n in counter.most_common(top_topics)
            ]

        overall = Bucket()
        for review in reviews:
            overall.add(review)
        products = sorted(by_product, key=lambda p: -by_product[p].reviews)
        return {
            "period": period,
            "since": since,
            "until": until,
            "overall": {**overall.to_dict(), "top_topics": top(complaints[""])},
            "products": [
                {
                    "product": p,
                    **by_product[p].to_dict(),
                    "top_topics": top(complaints[p]),
                    "periods": [{"period": k, **b.to_dict()} for k, b in sorted(by_period[p].items())],
                }
                for p in products
            ],
            "topics": [] if topics is None else [t.__dict__ for t in topics.topics],
        }
