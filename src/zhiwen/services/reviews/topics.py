"""Complaint topics: negative reviews clustered on their embeddings, each cluster named by its keywords.

Multilingual embeddings cluster by language before topic ("battery dies" lands nearer "物流太慢" than
"电池不耐用"), so each language's mean vector is subtracted first (language-mean centering, Libovický et al.
2020, "On the language neutrality of pre-trained multilingual representations"); the means are kept to
place new reviews the same way.

k is chosen by silhouette over 2..``max_k`` (k-means on the re-normalised vectors, i.e. cosine). A cluster is
named by class-based TF-IDF (BERTopic's c-TF-IDF, Grootendorst 2022): words frequent in this cluster and rare
in the others, with jieba segmenting Chinese and stop words removed. New reviews join the nearest centroid.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jieba
import numpy as np
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from sklearn.metrics import silhouette_score

from zhiwen.ports import Vector
from zhiwen.text.normalize import detect_language

MIN_REVIEWS = 20
MAX_K = 12
MIN_CLUSTER_SHARE = 20  # at least this many reviews per cluster on average
KEYWORDS = 6
EXAMPLES = 3
_WORD = re.compile(r"^(?:[\u4e00-\u9fff]{2,}|[a-z][a-z'-]{2,})$")
# Function words and sentiment words that say how, not what, customers complain about.
_CHINESE_STOP_WORDS_TEXT = (
    "的 了 是 我 也 很 都 就 不 没 没有 在 和 有 这 那 还 又 吧 啊 呢 吗 呀 哦 就是 还是 一个 什么 这个 "
    "那个 我们 你们 他们 自己 因为 所以 但是 不过 而且 然后 如果 已经 真的 非常 比较 太 很多 一下 一点 "
    "觉得 感觉 可以 知道 以后 现在 时候 东西 这样 那么 怎么 为什么 不是 不会 不能 没什么 一般 差评 好评 "
    "失望 不好 不错 满意 不满意 垃圾 太差 很差 特别 实在 真是 一直 一次 第一次 再也 下次 还有 就是说 "
    "其实 还要 只是 可能 应该 一样 推荐 不推荐 不满 很失望 "
)
CHINESE_STOP_WORDS = frozenset(_CHINESE_STOP_WORDS_TEXT.split())


def keywords_of(text: str) -> list[str]:
    words = (w.strip().lower() for w in jieba.lcut(text))
    return [
        w for w in words if _WORD.match(w) and w not in CHINESE_STOP_WORDS and w not in ENGLISH_STOP_WORDS
    ]


@dataclass
class Topic:
    id: int
    name: str
    keywords: list[str]
    examples: list[str]
    size: int


def language_means(texts: Sequence[str], vectors: Vector) -> dict[str, Vector]:
    languages = np.asarray([detect_language(t) for t in texts])
    return {lang: vectors[languages == lang].mean(axis=0) for lang in sorted(set(languages))}


def centred(texts: Sequence[str], vectors: Vector, means: dict[str, Vector]) -> Vector:
    """Vectors with their language's mean removed, re-normalised (a language not seen keeps its vector)."""
    shifted = np.stack(
        [v - means.get(detect_language(t), np.zeros_like(v)) for t, v in zip(texts, vectors, strict=True)]
    )
    norms = np.linalg.norm(shifted, axis=1, keepdims=True)
    result: Vector = (shifted / np.maximum(norms, 1e-12)).astype(np.float32)
    return result


@dataclass
class TopicModel:
    topics: list[Topic]
    centroids: Vector
    silhouette: float
    reviews: int
    means: dict[str, Vector]

    def assign(self, texts: Sequence[str], vectors: Vector) -> np.ndarray[Any, np.dtype[np.int64]]:
        scores = centred(texts, vectors, self.means) @ self.centroids.T
        return np.asarray(scores.argmax(axis=1), dtype=np.int64)

    def name_of(self, topic: int | None) -> str | None:
        return None if topic is None or topic >= len(self.topics) else self.topics[topic].name

    def to_dict(self) -> dict[str, Any]:
        return {
            "topics": [t.__dict__ for t in self.topics],
            "centroids": np.round(self.centroids, 5).tolist(),
            "silhouette": self.silhouette,
            "reviews": self.reviews,
            "means": {lang: np.round(m, 5).tolist() for lang, m in self.means.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TopicModel | None:
        if not data:
            return None
        return cls(
            topics=[Topic(**t) for t in data["topics"]],
            centroids=np.asarray(data["centroids"], dtype=np.float32),
            silhouette=float(data["silhouette"]),
            reviews=int(data["reviews"]),
            means={lang: np.asarray(m, dtype=np.float32) for lang, m in data["means"].items()},
        )


def choose_k(vectors: Vector, max_k: int = MAX_K, seed: int = 0) -> tuple[int, float, np.ndarray[Any, Any]]:
    """The k with the best silhouette (cosine), its score and its labels."""
    best: tuple[int, float, np.ndarray[Any, Any]] | None = None
    upper = max(2, min(max_k, len(vectors) // MIN_CLUSTER_SHARE))
    for k in range(2, upper + 1):
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(vectors)
        score = float(
            silhouette_score(
                vectors, labels, metric="cosine", sample_size=min(len(vectors), 3000), random_state=seed
            )
        )
        if best is None or score > best[1]:
            best = (k, score, labels)
    assert best is not None
    return best


def build_topics(texts: Sequence[str], vectors: Vector, k: int | None = None, seed: int = 0) -> TopicModel:
    """Cluster ``texts`` (negative reviews) and name the clusters; ``k`` fixed or chosen by silhouette."""
    if len(texts) < MIN_REVIEWS:
        raise ValueError(f"{len(texts)} negative reviews; topics need at least {MIN_REVIEWS}")
    means = language_means(texts, vectors)
    vectors = centred(texts, vectors, means)
    if k is None:
        k, silhouette, labels = choose_k(vectors, seed=seed)
    else:
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(vectors)
        silhouette = float(
            silhouette_score(
                vectors, labels, metric="cosine", sample_size=min(len(vectors), 3000), random_state=seed
            )
        )
    words = [keywords_of(t) for t in texts]
    per_cluster = [Counter(w for i in np.flatnonzero(labels == c) for w in set(words[i])) for c in range(k)]
    total = Counter[str]()
    for counts in per_cluster:
        total.update(counts)
    average = sum(total.values()) / k
    topics = []
    centroids = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        centroid = vectors[members].mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        centroids.append(centroid)
        scores = {w: n * math.log(1 + average / total[w]) for w, n in per_cluster[c].items() if n >= 2}
        top = sorted(scores, key=lambda w: (-scores[w], w))[:KEYWORDS]
        by_closeness = members[np.argsort(-(vectors[members] @ centroid))]
        examples = list(dict.fromkeys(texts[i] for i in by_closeness))[:EXAMPLES]  # distinct texts
        topics.append(Topic(c, " / ".join(top[:3]) or f"topic {c + 1}", top, examples, len(members)))
    order = sorted(range(k), key=lambda c: -topics[c].size)  # biggest complaint first, renumbered
    return TopicModel(
        topics=[
            Topic(new, topics[old].name, topics[old].keywords, topics[old].examples, topics[old].size)
            for new, old in enumerate(order)
        ],
        centroids=np.stack([centroids[old] for old in order]).astype(np.float32),
        silhouette=round(silhouette, 4),
        reviews=len(texts),
        means=means,
    )
