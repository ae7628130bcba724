"""BM25 keyword search in PostgreSQL, ranked as SQLite's FTS5 ranks, over the same pre-tokenised terms.

PostgreSQL's own full-text search ranks with ``ts_rank`` (no document-length normalisation like BM25's,
no IDF) and its parsers do not segment Chinese. So the index is two plain tables: the postings (term,
chunk, term frequency) and each chunk's length, per workspace, and a query sums FTS5's Okapi BM25
(k1 = 1.2, b = 0.75, IDF floored at 1e-6) over the question's terms in SQL. Tokens are cut from the
stored terms as FTS5's ``unicode61`` tokenizer cuts them (letters and digits; anything else separates),
so both backends see the same documents, lengths and statistics, and the answer chooser's features,
fitted on FTS5's scores, mean the same.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Generator, Sequence

from zhiwen.stores.keyword_search import KeywordSearch, Statistics, idf
from zhiwen.stores.postgres.db import PgDatabase
from zhiwen.text.tokenize import indexed_terms
from zhiwen.types import Chunk

K1, B = 1.2, 0.75
_TOKEN = re.compile(r"[^\W_]+")  # unicode61: letters and numbers are token characters


def fts_tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def keyword_rows(
    workspace_id: str, chunk_id: str, terms: str
) -> tuple[tuple[str, str, int], list[tuple[str, str, str, int]]]:
    """One chunk's ``keyword_docs`` row and ``keyword_postings`` rows, from its space-separated terms
    (:func:`indexed_terms`, as a SQLite store's FTS5 tables also hold them)."""
    tokens = fts_tokens(terms)
    postings = [(workspace_id, term, chunk_id, n) for term, n in Counter(tokens).items()]
    return (workspace_id, chunk_id, len(tokens)), postings


class PgKeywordIndex(KeywordSearch):
    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def add(self, chunks: Sequence[Chunk], terms: Sequence[str] | None = None) -> None:
        terms = terms if terms is not None else [indexed_terms(c) for c in chunks]
        lengths, postings = [], []
        for chunk, chunk_terms in zip(chunks, terms, strict=True):
            length, counts = keyword_rows(chunk.workspace_id, chunk.id, chunk_terms)
            lengths.append(length)
            postings += counts
        with self._db.transaction() as conn:
            conn.executemany(  # a chunk indexed again replaces what it had
                "DELETE FROM keyword_postings WHERE workspace_id = ? AND chunk_id = ?",
                [(workspace_id, chunk_id) for workspace_id, chunk_id, _ in lengths],
            )
            conn.executemany(
                "INSERT INTO keyword_docs (workspace_id, chunk_id, length) VALUES (?, ?, ?)"
                " ON CONFLICT (workspace_id, chunk_id) DO UPDATE SET length = excluded.length",
                lengths,
            )
            conn.executemany(
                "INSERT INTO keyword_postings (workspace_id, term, chunk_id, tf) VALUES (?, ?, ?, ?)",
                postings,
            )

    def remove(self, workspace_id: str, chunk_ids: Sequence[str]) -> None:
        with self._db.transaction() as conn:
            for table in ("keyword_postings", "keyword_docs"):
                conn.executemany(
                    f"DELETE FROM {table} WHERE workspace_id = ? AND chunk_id = ?",
                    [(workspace_id, cid) for cid in chunk_ids],
                )

    def indexed(self, workspace_id: str) -> list[str]:
        with self._db.reading() as conn:
            rows = conn.execute("SELECT chunk_id FROM keyword_docs WHERE workspace_id = ?", (workspace_id,))
            return [r[0] for r in rows]

    def copy_workspace(self, source: str, target: str, suffix: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO keyword_docs (workspace_id, chunk_id, length)"
                " SELECT ?, chunk_id || ?, length FROM keyword_docs WHERE workspace_id = ?",
                (target, suffix, source),
            )
            conn.execute(
                "INSERT INTO keyword_postings (workspace_id, term, chunk_id, tf)"
                " SELECT ?, term, chunk_id || ?, tf FROM keyword_postings WHERE workspace_id = ?",
                (target, suffix, source),
            )

    def drop_workspace(self, workspace_id: str) -> None:
        with self._db.transaction() as conn:
            for table in ("keyword_postings", "keyword_docs"):
                conn.execute(f"DELETE FROM {table} WHERE workspace_id = ?", (workspace_id,))

    def compact(self, workspace_id: str) -> None:
        """Nothing to do: a removed posting is a deleted row, which VACUUM (autovacuum) reclaims."""

    def _ranked(
        self, workspace_id: str, terms: Sequence[str], stats: Statistics, limit: int | None
    ) -> Generator[tuple[str, float], None, None]:
        weights = [(t, idf(stats.total, stats.frequencies[t])) for t in terms]
        bm25 = "q.idf * p.tf * ? / (p.tf + ? * (1 - ? + ? * d.length / ?))"  # FTS5's bm25()
        sql = (
            f"WITH q (term, idf) AS (VALUES {', '.join(['(?, CAST(? AS DOUBLE PRECISION))'] * len(weights))})"
            f" SELECT p.chunk_id, SUM({bm25}) AS score"
            " FROM keyword_postings p JOIN q ON q.term = p.term"
            " JOIN keyword_docs d ON d.workspace_id = p.workspace_id AND d.chunk_id = p.chunk_id"
            f" WHERE p.workspace_id = ? AND p.term IN ({', '.join('?' * len(terms))})"
            " GROUP BY p.chunk_id ORDER BY score DESC, p.chunk_id"
        )
        params = [
            *(v for pair in weights for v in pair),
            K1 + 1,
            K1,
            B,
            B,
            stats.mean_length,
            workspace_id,
            *terms,
        ]
        if limit is not None:
            sql, params = f"{sql} LIMIT ?", [*params, limit]
        with self._db.reading() as conn:
            rows = conn.execute(sql, params).fetchall()
        yield from ((r[0], float(r[1])) for r in rows)

    def _statistics(self, workspace_id: str, terms: Sequence[str]) -> Statistics:
        """The workspace's indexed chunks, each present term's document frequency, and the chunks' mean
        length in tokens (computed once here: inside the ranking query PostgreSQL evaluated it per row)."""
        if not terms:
            return Statistics(0, {})
        with self._db.reading() as conn:
            counted = conn.execute(
                "SELECT COUNT(*), AVG(length) FROM keyword_docs WHERE workspace_id = ?", (workspace_id,)
            ).fetchone()
            rows = conn.execute(
                "SELECT term, COUNT(*) FROM keyword_postings WHERE workspace_id = ?"
                f" AND term IN ({', '.join('?' * len(terms))}) GROUP BY term",
                (workspace_id, *terms),
            ).fetchall()
        total, mean_length = (int(counted[0]), float(counted[1] or 0.0)) if counted else (0, 0.0)
        frequencies = {str(r[0]): int(r[1]) for r in rows}
        return Statistics(total, {t: frequencies[t] for t in terms if frequencies.get(t)}, mean_length)
