"""Fusing keyword (BM25) and dense (cosine) evidence into one ranking.

Measured on three public sets (docs/decisions/0002-fusion.md): reciprocal rank fusion loses 5 points of
nDCG@10 to dense retrieval alone on FAQ-style data, because it trusts a weak keyword ranking as much as a
strong one. Instead BM25 is added *on an absolute scale* (the score divided by what a perfect match for this
query would approach), weighted by how much the best keyword match stands out from the rest. A question
whose rare terms one passage contains lifts that passage; paraphrased FAQ questions, or dozens of short texts
sharing the same common words, leave the dense ranking in charge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

KEYWORD_WEIGHT = 0.1  # chosen on cmrc2018_trial, stackfaq_dev and afqmc_train_faq; see decision 0002
SPREAD_REFERENCE = 5


@dataclass
class Candidate:
    chunk_id: str
    keyword: float | None = None  # BM25, higher is better; None when not among the keyword results
    vector: float | None = None  # cosine similarity; None when the chunk has no vector yet
    keyword_rank: int | None = None
    vector_rank: int | None = None
    keyword_share: float = 0.0  # BM25 / the query's score ceiling, in [0, 1]
    sentence: float | None = None  # cosine of its closest sentence (under its headings); None when unknown

    @property
    def dense(self) -> float | None:
        """What the fusion ranks by meaning: the mean of the passage's cosine and its closest sentence's.

        A passage's vector blurs its one sentence that matches among the rest; its closest sentence alone
        misses what the rest says. On stackfaq_dev, whose entries are a question's title and a long
        answer, the mean lifted hybrid nDCG@10 from 0.892 to 0.909 (docs/benchmarks.md, "Retrieval")."""
        if self.vector is None or self.sentence is None:
            return self.vector
        return (self.vector + self.sentence) / 2


def absolute_bm25_fusion(candidates: Sequence[Candidate], weight: float) -> dict[str, float]:
    """dense + weight · min(BM25 / ceiling, 1) (:attr:`Candidate.dense`); a chunk still awaiting its vector
    gets the lowest dense score."""
    dense = {c.chunk_id: c.dense for c in candidates}
    known = [d for d in dense.values() if d is not None]
    floor = min(known) if known else 0.0
    return {
        c.chunk_id: (d if (d := dense[c.chunk_id]) is not None else floor)
        + weight * min(c.keyword_share, 1.0)
        for c in candidates
    }


def spread_weighted_fusion(
    candidates: Sequence[Candidate], weight: float = KEYWORD_WEIGHT, reference: int = SPREAD_REFERENCE
) -> dict[str, float]:
    """:func:`absolute_bm25_fusion` with the weight scaled by (best share − ``reference``-th share) / best
    share: keyword matches that nearly tie carry no ranking information, a match that stands out does."""
    shares = sorted((min(c.keyword_share, 1.0) for c in candidates if c.keyword is not None), reverse=True)
    if not shares or shares[0] <= 0:
        return absolute_bm25_fusion(candidates, 0.0)
    spread = shares[0] - shares[min(reference, len(shares) - 1)]
    return absolute_bm25_fusion(candidates, weight * spread / shares[0])


def reciprocal_rank_fusion(candidates: Sequence[Candidate], k: int = 60) -> dict[str, float]:
    """RRF (Cormack, Clarke & Büttcher, SIGIR 2009), kept as the baseline the benchmarks compare against."""
    return {
        c.chunk_id: sum(1.0 / (k + rank + 1) for rank in (c.keyword_rank, c.vector_rank) if rank is not None)
        for c in candidates
    }
