"""What both backends' keyword indexes share: which of a question's terms are searched, their weights,
and the first ``k`` hits a restriction allows. Each backend supplies its statistics and its BM25 ranking
(SQLite's FTS5, PostgreSQL's postings), computed the same way."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Collection, Generator, Sequence
from contextlib import closing
from typing import NamedTuple

from zhiwen.text.tokenize import keyword_tokens
from zhiwen.types import Chunk

MAX_QUERY_TERMS = 64


class Statistics(NamedTuple):
    total: int  # chunks indexed in the workspace
    frequencies: dict[str, int]  # document frequency of each query term present
    mean_length: float = 0.0  # tokens per chunk (what BM25 normalises by), where the backend needs it


class KeywordSearch(ABC):
    def search(
        self, workspace_id: str, query: str, k: int, restrict_to: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        stats = self._statistics(workspace_id, query_terms(query))
        frequencies = stats.frequencies
        # A term in more than half the chunks has BM25 IDF ≤ 0 (floored to 1e-6): it cannot change the
        # ranking, but scoring every chunk it occurs in is slow (FTS5: 13 ms → 3 ms at 11k, same nDCG).
        terms = [t for t, n in frequencies.items() if n <= stats.total / 2]
        terms = terms or sorted(frequencies, key=frequencies.__getitem__)[:1]
        if not terms or k <= 0:
            return []
        hits: list[tuple[str, float]] = []
        ranked = self._ranked(workspace_id, terms, stats, None if restrict_to is not None else k)
        with closing(ranked):  # read lazily, and let go of the connection as soon as k are found
            for chunk_id, score in ranked:
                if restrict_to is None or chunk_id in restrict_to:
                    hits.append((chunk_id, float(score)))
                    if len(hits) == k:
                        break
        return hits

    def term_weights(self, workspace_id: str, query: str) -> dict[str, float]:
        """IDF of each query term in this workspace, as FTS5's bm25() computes it (Robertson–Spärck Jones,
        floored)."""
        stats = self._statistics(workspace_id, query_terms(query))
        return {t: idf(stats.total, n) for t, n in stats.frequencies.items()}

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


def idf(total: int, frequency: int) -> float:
    return max(math.log((total - frequency + 0.5) / (frequency + 0.5)), 1e-6)
