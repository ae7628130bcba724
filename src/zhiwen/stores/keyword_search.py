"""What both backends' keyword indexes share: which of a question's terms are searched, their weights,
the first ``k`` hits a restriction allows, and how the postings of common terms are left out where they
cannot change those hits (MaxScore). Each backend supplies its statistics and its BM25 ranking (SQLite's
FTS5, PostgreSQL's postings), computed the same way."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Collection, Generator, Sequence
from contextlib import closing
from typing import NamedTuple

from zhiwen.text.tokenize import guessed, inner_words, keyword_tokens, read_terms
from zhiwen.types import Chunk

MAX_QUERY_TERMS = 64
K1, B = 1.2, 0.75  # FTS5's bm25() constants, which both backends rank with
PROBE_POSTINGS = 20_000  # postings read to find a floor for the k-th best score (``_top_pruned``)
FLOAT_SLACK = 1e-9  # sums taken in another order differ in the last bits


class Statistics(NamedTuple):
    total: int  # chunks indexed in the workspace
    frequencies: dict[str, int]  # document frequency of each query term present
    mean_length: float = 0.0  # tokens per chunk (what BM25 normalises by), where the backend needs it


class KeywordSearch(ABC):
    probe_postings: int  # each backend's constructor sets it (tests make it small)

    def search(
        self, workspace_id: str, query: str, k: int, restrict_to: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        return self.search_weighted(workspace_id, query, k, restrict_to)[0]

    def search_weighted(
        self, workspace_id: str, query: str, k: int, restrict_to: Collection[str] | None = None
    ) -> tuple[list[tuple[str, float]], dict[str, float]]:
        stats = self._read_statistics(workspace_id, query_terms(query))
        return self._search(workspace_id, stats, k, restrict_to), _weights(stats)

    def _read_statistics(self, workspace_id: str, terms: Sequence[str]) -> Statistics:
        """The statistics of ``terms`` as the index knows them (:func:`read_terms`): the pieces of jieba's
        guessed words are looked up with the terms, in the same round trip."""
        pieces = [p for t in terms if guessed(t) for p in inner_words(t)][: MAX_QUERY_TERMS * 4]
        stats = self._statistics(workspace_id, list(dict.fromkeys([*terms, *pieces])))
        known = stats.frequencies
        read = read_terms(terms, known)[:MAX_QUERY_TERMS]
        return stats._replace(frequencies={t: known[t] for t in read if t in known})

    def _search(
        self, workspace_id: str, stats: Statistics, k: int, restrict_to: Collection[str] | None
    ) -> list[tuple[str, float]]:
        frequencies = stats.frequencies
        # A term in more than half the chunks has BM25 IDF ≤ 0 (floored to 1e-6): it cannot change the
        # ranking, but scoring every chunk it occurs in is slow (FTS5: 13 ms → 3 ms at 11k, same nDCG).
        terms = [t for t, n in frequencies.items() if n <= stats.total / 2]
        terms = terms or sorted(frequencies, key=frequencies.__getitem__)[:1]
        if not terms or k <= 0:
            return []
        if restrict_to is None and (top := self._top_pruned(workspace_id, terms, stats, k)) is not None:
            return top
        hits: list[tuple[str, float]] = []
        ranked = self._ranked(workspace_id, terms, stats, None if restrict_to is not None else k)
        with closing(ranked):  # read lazily, and let go of the connection as soon as k are found
            for chunk_id, score in ranked:
                if restrict_to is None or chunk_id in restrict_to:
                    hits.append((chunk_id, float(score)))
                    if len(hits) == k:
                        break
        return hits

    def _top_pruned(
        self, workspace_id: str, terms: Sequence[str], stats: Statistics, k: int
    ) -> list[tuple[str, float]] | None:
        """The ``k`` best chunks without reading every posting of the question's most common terms, or
        None when they cannot be left out (then the caller reads them all).

        Exact, as MaxScore (Turtle and Flood, 1995): a term adds less than ``idf × (k1 + 1)`` to any
        chunk's score. Chunks that hold one of the rarest terms, scored on every term, give a floor for
        the ``k``-th best score; the most common terms whose ceilings sum below that floor cannot lift a
        chunk that holds none of the others into the top ``k``. So only chunks holding another term are
        ranked, and the common terms are read only where those chunks are. At 100,000 chunks a term in
        40 % of them was 44,000 postings summed for every question that had it."""
        by_frequency = sorted(terms, key=lambda t: (stats.frequencies[t], t))
        probe = by_frequency[:1]
        for term in by_frequency[1:]:
            if sum(stats.frequencies[t] for t in (*probe, term)) > self.probe_postings:
                break
            probe.append(term)
        rest = by_frequency[len(probe) :]
        if not rest:
            return None  # every term is cheap to read whole
        first, exact = self._best_holding(workspace_id, probe, rest, stats, k)
        if len(first) < k:
            return None
        floor = min(score for _, score in first)
        weights = {t: idf(stats.total, stats.frequencies[t]) for t in terms}
        skipped: list[str] = []
        for term in reversed(by_frequency):
            if ceiling(weights, [*skipped, term]) >= floor:
                break
            skipped.append(term)
        if not skipped:
            return None
        if exact and len(skipped) == len(rest):
            return first
        searched = by_frequency[: len(by_frequency) - len(skipped)]
        return self._ranked_holding(
            workspace_id, searched, skipped, stats, k, floor - ceiling(weights, skipped) - FLOAT_SLACK
        )

    def _best_holding(
        self, workspace_id: str, any_of: Sequence[str], others: Sequence[str], stats: Statistics, k: int
    ) -> tuple[list[tuple[str, float]], bool]:
        """``k`` chunks holding a term of ``any_of``, scored on all terms, as a floor for the ``k``-th
        best score; and whether they are the best ``k`` of those chunks."""
        return self._ranked_holding(workspace_id, any_of, others, stats, k), True

    @abstractmethod
    def _ranked_holding(
        self,
        workspace_id: str,
        any_of: Sequence[str],
        others: Sequence[str],
        stats: Statistics,
        k: int,
        floor: float = -math.inf,
    ) -> list[tuple[str, float]]:
        """The best ``k`` chunks holding a term of ``any_of``, scored on ``any_of`` and ``others`` (never
        empty), best first, ties broken as the backend's whole ranking breaks them; chunks whose ``any_of``
        terms alone score below ``floor`` may be left out."""

    @abstractmethod
    def add(self, chunks: Sequence[Chunk], terms: Sequence[str] | None = None) -> None: ...

    @abstractmethod
    def remove(self, workspace_id: str, chunk_ids: Sequence[str]) -> None: ...

    @abstractmethod
    def indexed(self, workspace_id: str) -> list[str]:
        """The chunk ids in the workspace's index, once per entry (`zhiwen check` compares them)."""

    @abstractmethod
    def copy_workspace(self, source: str, target: str, suffix: str) -> None:
        """Index ``target`` (a release snapshot) as ``source`` is, each chunk id with ``suffix`` added."""

    @abstractmethod
    def drop_workspace(self, workspace_id: str) -> None: ...

    @abstractmethod
    def compact(self, workspace_id: str) -> None:
        """Rewrite the workspace's index so that removed terms leave it (after an erasure)."""

    @abstractmethod
    def _statistics(self, workspace_id: str, terms: Sequence[str]) -> Statistics: ...

    @abstractmethod
    def _ranked(
        self, workspace_id: str, terms: Sequence[str], stats: Statistics, limit: int | None
    ) -> Generator[tuple[str, float], None, None]:
        """Chunks holding any of ``terms``, best BM25 first (at most ``limit`` when given)."""


def query_terms(query: str) -> list[str]:
    return list(dict.fromkeys(keyword_tokens(query)))[:MAX_QUERY_TERMS]


def _weights(stats: Statistics) -> dict[str, float]:
    """IDF of each query term in this workspace, as FTS5's bm25() computes it (Robertson–Spärck Jones,
    floored)."""
    return {t: idf(stats.total, n) for t, n in stats.frequencies.items()}


def idf(total: int, frequency: int) -> float:
    return max(math.log((total - frequency + 0.5) / (frequency + 0.5)), 1e-6)


def ceiling(weights: dict[str, float], terms: Sequence[str]) -> float:
    """The most ``terms`` can add to a chunk's BM25 score: each adds idf · tf (k1 + 1) / (tf + k1 · norm),
    and tf / (tf + k1 · norm) < 1."""
    return sum(weights[t] * (K1 + 1) for t in terms)
