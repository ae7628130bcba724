"""A learned re-ranker: what a workspace's own question–answer pairs teach retrieval.

Two things are learned. A *memory* of the training questions (their embeddings, and the chunks that answer
them, by content hash so it survives re-ingestion and release snapshots): a new question close to a known
one brings that question's answer into the candidates and carries its similarity as a feature. And a
LightGBM LambdaMART model (Burges, "From RankNet to LambdaRank to LambdaMART", MSR-TR-2010-82) over cheap
per-candidate features: fused, dense and keyword scores and ranks, character-bigram overlap (robust to
Chinese segmentation differences between paraphrases), length, FAQ flag and the memory similarity. It trains
in seconds on 2 cores and is stored as text inside the answer settings, so releases freeze it like any other
setting.
"""

from __future__ import annotations

import base64
import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from zhiwen.errors import InvalidInput
from zhiwen.ports import Vector
from zhiwen.services.knowledge.fusion import Candidate
from zhiwen.text.tokenize import char_bigrams, indexed_text, squeezed
from zhiwen.types import Chunk

FEATURES = (
    "fused",
    "fused_gap",  # below the best fused score of this query
    "cosine",
    "cosine_gap",
    "keyword_share",
    "keyword_hit",
    "keyword_rank",
    "vector_rank",
    "bigram_recall",  # share of the question's character bigrams found in the candidate
    "bigram_precision",  # share of the candidate's bigrams found in the question (short FAQ questions)
    "char_recall",  # the same for single characters: paraphrases reorder words but keep their characters
    "char_precision",
    "common_run",  # longest run of the question found verbatim in the candidate, relative to the question
    "length_ratio",  # |candidate - question| / question length
    "length",
    "is_faq",
    "memory",  # similarity of the closest training question this candidate answers
    "memory_gap",
    "memory_votes",  # how many of the closest training questions it answers
)
DEPTH = 50  # candidates re-ranked per question
MEMORY_NEIGHBOURS = 8
_ABSENT_RANK = math.log1p(1000)
Matrix = npt.NDArray[np.float64]


_RUN_CHARS = 64  # longest-common-run search looks at the question's first 64 characters


def _common_run(question: str, text: str) -> int:
    """Length of the longest substring of ``question`` that occurs in ``text`` (grows only while found)."""
    best = 0
    for start in range(len(question)):
        end = start + best + 1
        while end <= len(question) and question[start:end] in text:
            best = end - start
            end += 1
    return best


@dataclass
class Memory:
    """Training questions as unit vectors, each with the content hashes of the chunks that answer it."""

    questions: list[str]
    vectors: npt.NDArray[np.float32]
    answers: list[list[str]]

    def recall(self, query_vector: Vector, exclude: str | None = None) -> dict[str, list[float]]:
        """Content hash -> similarities of the closest training questions it answers, best first."""
        if not self.questions:
            return {}
        sims = self.vectors @ query_vector.astype(np.float32)
        order = np.argsort(-sims)[: MEMORY_NEIGHBOURS + 1]
        found: dict[str, list[float]] = {}
        taken = 0
        for i in order:
            if exclude is not None and self.questions[i] == exclude:
                continue  # leave-one-out while training: a question must not find itself
            for content_hash in self.answers[i]:
                found.setdefault(content_hash, []).append(float(sims[i]))
            taken += 1
            if taken == MEMORY_NEIGHBOURS:
                break
        return found

    def to_dict(self) -> dict[str, Any]:
        packed = base64.b64encode(self.vectors.astype(np.float16).tobytes()).decode("ascii")
        return {
            "questions": self.questions,
            "answers": self.answers,
            "vectors_f16": packed,
            "dim": int(self.vectors.shape[1]) if self.vectors.size else 0,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Memory:
        raw = np.frombuffer(base64.b64decode(data["vectors_f16"]), dtype=np.float16)
        dim = int(data["dim"]) or 1
        return cls(list(data["questions"]), raw.astype(np.float32).reshape(-1, dim), list(data["answers"]))


def candidate_features(
    query: str,
    pool: Sequence[Candidate],
    chunks: Mapping[str, Chunk],
    fused: Mapping[str, float],
    memory: Mapping[str, Sequence[float]],
) -> Matrix:
    """One row of :data:`FEATURES` per candidate in ``pool`` (all of which must be in ``chunks``)."""
    squeezed_query = squeezed(query)
    query_bigrams, query_chars = char_bigrams(squeezed_query), set(squeezed_query)
    run_query = squeezed_query[:_RUN_CHARS]
    cosines = [c.vector for c in pool if c.vector is not None]
    floor = min(cosines, default=0.0)
    best_cosine = max(cosines, default=0.0)
    best_fused = max((fused[c.chunk_id] for c in pool), default=0.0)
    memories = [memory.get(chunks[c.chunk_id].content_hash, []) for c in pool]
    best_memory = max((m[0] for m in memories if m), default=0.0)
    rows = []
    for candidate, remembered in zip(pool, memories, strict=True):
        chunk = chunks[candidate.chunk_id]
        text = squeezed(indexed_text(chunk))
        text_bigrams, text_chars = char_bigrams(text), set(text)
        shared = len(query_bigrams & text_bigrams)
        shared_chars = len(query_chars & text_chars)
        closest = remembered[0] if remembered else 0.0
        cosine = candidate.vector if candidate.vector is not None else floor
        rows.append(
            [
                fused[candidate.chunk_id],
                fused[candidate.chunk_id] - best_fused,
                cosine,
                cosine - best_cosine,
                min(candidate.keyword_share, 1.0),
                1.0 if candidate.keyword is not None else 0.0,
                math.log1p(candidate.keyword_rank) if candidate.keyword_rank is not None else _ABSENT_RANK,
                math.log1p(candidate.vector_rank) if candidate.vector_rank is not None else _ABSENT_RANK,
                shared / max(len(query_bigrams), 1),
                shared / max(len(text_bigrams), 1),
                shared_chars / max(len(query_chars), 1),
                shared_chars / max(len(text_chars), 1),
                _common_run(run_query, text) / max(len(run_query), 1),
                abs(len(text) - len(squeezed_query)) / max(len(squeezed_query), 1),
                math.log1p(len(text)),
                1.0 if chunk.kind == "faq" else 0.0,
                closest,
                closest - best_memory,
                float(len(remembered)),
            ]
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))


class Reranker:
    """LambdaMART over :data:`FEATURES` plus a question memory; scikit-learn style (``fit`` returns self)."""

    def __init__(self, memory: Memory, n_estimators: int = 200, num_leaves: int = 15) -> None:
        self.memory = memory
        self.n_estimators = n_estimators
        self.num_leaves = num_leaves
        self.booster_: lgb.Booster | None = None
        self.fingerprint_ = ""

    def fit(self, groups: Sequence[tuple[Matrix, npt.NDArray[np.int_]]]) -> Reranker:
        """``groups``: per training question, its candidates' features and 0/1 relevance."""
        useful = [(x, y) for x, y in groups if len(y) > 1 and 0 < y.sum() < len(y)]
        if len(useful) < 5:
            raise InvalidInput(
                "too few training questions whose answer is among the candidates (need 5); "
                "add golden questions with expected documents or answers"
            )
        data = lgb.Dataset(
            np.vstack([x for x, _ in useful]),
            label=np.concatenate([y for _, y in useful]),
            group=[len(y) for _, y in useful],
            feature_name=list(FEATURES),
        )
        params = {
            "objective": "lambdarank",
            "metric": "ndcg",
            "num_leaves": self.num_leaves,
            "learning_rate": 0.05,
            "min_data_in_leaf": 20,
            "feature_fraction": 0.9,
            "num_threads": 2,
            "verbosity": -1,
            "seed": 7,
            "deterministic": True,
        }
        self.booster_ = lgb.train(params, data, num_boost_round=self.n_estimators)
        self.fingerprint_ = hashlib.sha1(
            self.booster_.model_to_string().encode("utf-8"), usedforsecurity=False
        ).hexdigest()[:16]
        return self

    def predict(self, features: Matrix) -> npt.NDArray[np.float64]:
        if self.booster_ is None:
            raise ValueError("the re-ranker is not fitted")
        return np.asarray(self.booster_.predict(features, num_threads=1), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        if self.booster_ is None:
            raise ValueError("the re-ranker is not fitted")
        return {
            "kind": "lambdamart",
            "features": list(FEATURES),
            "fingerprint": self.fingerprint_,
            "trained_on": len(self.memory.questions),
            "booster": self.booster_.model_to_string(),
            "memory": self.memory.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reranker:
        if data.get("kind") != "lambdamart" or list(data.get("features", [])) != list(FEATURES):
            raise InvalidInput("the stored re-ranker uses other features; run `zhiwen rerank train` again")
        reranker = cls(Memory.from_dict(data["memory"]))
        reranker.booster_ = lgb.Booster(model_str=data["booster"])
        reranker.fingerprint_ = str(data["fingerprint"])
        return reranker


_CACHE: OrderedDict[str, Reranker] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def reranker_of(stored: Mapping[str, Any] | None) -> Reranker | None:
    """The re-ranker a config names, parsed once per fingerprint (releases ask with it on every question)."""
    if not stored:
        return None
    key = str(stored.get("fingerprint", ""))
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            _CACHE.move_to_end(key)
            return cached
    reranker = Reranker.from_dict(stored)
    with _CACHE_LOCK:
        _CACHE[key] = reranker
        while len(_CACHE) > 8:
            _CACHE.popitem(last=False)
    return reranker
