"""BM25 keyword search in PostgreSQL, ranked as SQLite's FTS5 ranks, over the same pre-tokenised terms.

PostgreSQL's own full-text search ranks with ``ts_rank`` (no document-length normalisation like BM25's,
no IDF) and its parsers do not segment Chinese. So the index is plain tables: the postings (term, chunk,
term frequency, the chunk's length) and each chunk's length, per workspace, with the statistics BM25
needs kept beside them (chunks and tokens per workspace, document frequency per term); a query sums
FTS5's Okapi BM25 (k1 = 1.2, b = 0.75, IDF floored at 1e-6) over the question's terms in SQL. Tokens
are cut from the stored terms as FTS5's ``unicode61`` tokenizer cuts them (letters and digits; anything
else separates), so both backends see the same documents, lengths and statistics, and the answer
chooser's features, fitted on FTS5's scores, mean the same.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Generator, Sequence

from zhiwen.stores.keyword_search import K1, PROBE_POSTINGS, B, KeywordSearch, Statistics, idf
from zhiwen.stores.postgres.db import PgDatabase
from zhiwen.stores.sql import SqlConnection
from zhiwen.text.tokenize import indexed_terms
from zhiwen.types import Chunk

# Scores that differ only in the last bits (the same text twice, summed in another order) tie, and ties go
# by chunk id, so that the whole and the pruned ranking order them alike.
BEST_FIRST = "ORDER BY ROUND(CAST(score AS NUMERIC), 9) DESC, chunk_id"


class _Bm25:
    """Pieces of SQL that score postings as FTS5's bm25() does, with their parameters in order."""

    def __init__(self, workspace_id: str, stats: Statistics, terms: Sequence[str]) -> None:
        weights = {t: idf(stats.total, stats.frequencies[t]) for t in terms}
        self.workspace_id = workspace_id
        values = ", ".join(["(?, CAST(? AS DOUBLE PRECISION))"] * len(weights))
        self.terms_table = f"WITH q (term, idf) AS (VALUES {values})"
        self.params: list[object] = [v for pair in weights.items() for v in pair]
        self.score = "q.idf * p.tf * ? / (p.tf + ? * (1 - ? + ? * p.length / ?))"
        self.score_params: list[object] = [K1 + 1, K1, B, B, stats.mean_length]

    @staticmethod
    def marks(terms: Sequence[str]) -> str:
        return ", ".join("?" * len(terms))

    def sum_for(self, chunk: str, terms: Sequence[str]) -> str:
        """A subquery: the BM25 of ``terms`` in the chunk named by the column ``chunk``."""
        return (
            f"SELECT SUM({self.score}) FROM keyword_postings p JOIN q ON q.term = p.term"
            f" WHERE p.workspace_id = ? AND p.chunk_id = {chunk} AND p.term IN ({self.marks(terms)})"
        )

    def sum_params(self, terms: Sequence[str]) -> list[object]:
        return [*self.score_params, self.workspace_id, *terms]


_TOKEN = re.compile(r"[^\W_]+")  # unicode61: letters and numbers are token characters


def fts_tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def keyword_rows(
    workspace_id: str, chunk_id: str, terms: str
) -> tuple[tuple[str, str, int], list[tuple[str, str, str, int, int]]]:
    """One chunk's ``keyword_docs`` row and ``keyword_postings`` rows (each with the chunk's length, so
    ranking needs no join), from its space-separated terms (:func:`indexed_terms`, as a SQLite store's
    FTS5 tables also hold them)."""
    tokens = fts_tokens(terms)
    postings = [(workspace_id, term, chunk_id, n, len(tokens)) for term, n in Counter(tokens).items()]
    return (workspace_id, chunk_id, len(tokens)), postings


def recount(conn: SqlConnection, workspace_id: str) -> None:
    """Count a workspace's statistics afresh from its postings (after they were written in bulk)."""
    for table in ("keyword_stats", "keyword_terms"):
        conn.execute(f"DELETE FROM {table} WHERE workspace_id = ?", (workspace_id,))
    conn.execute(
        "INSERT INTO keyword_stats (workspace_id, chunks, tokens)"
        " SELECT ?, COUNT(*), COALESCE(SUM(length), 0) FROM keyword_docs WHERE workspace_id = ?",
        (workspace_id, workspace_id),
    )
    conn.execute(
        "INSERT INTO keyword_terms (workspace_id, term, df) SELECT workspace_id, term, COUNT(*)"
        " FROM keyword_postings WHERE workspace_id = ? GROUP BY workspace_id, term",
        (workspace_id,),
    )


def _adjust(
    conn: SqlConnection, workspace_id: str, chunks: int, tokens: int, frequencies: Counter[str]
) -> None:
    """Move a workspace's statistics by what was just indexed or removed: they are kept in small tables,
    so a question reads a few rows instead of counting every chunk and every posting of its terms."""
    conn.execute(
        "INSERT INTO keyword_stats (workspace_id, chunks, tokens) VALUES (?, ?, ?) ON CONFLICT (workspace_id)"
        " DO UPDATE SET chunks = keyword_stats.chunks + excluded.chunks,"
        " tokens = keyword_stats.tokens + excluded.tokens",
        (workspace_id, chunks, tokens),
    )
    changed = [(workspace_id, term, n) for term, n in frequencies.items() if n]
    conn.executemany(
        "INSERT INTO keyword_terms (workspace_id, term, df) VALUES (?, ?, ?) ON CONFLICT (workspace_id, term)"
        " DO UPDATE SET df = keyword_terms.df + excluded.df",
        changed,
    )
    if any(n < 0 for _, _, n in changed):
        conn.execute("DELETE FROM keyword_terms WHERE workspace_id = ? AND df <= 0", (workspace_id,))


class PgKeywordIndex(KeywordSearch):
    def __init__(self, db: PgDatabase, probe_postings: int = PROBE_POSTINGS) -> None:
        self._db = db
        self.probe_postings = probe_postings

    def add(self, chunks: Sequence[Chunk], terms: Sequence[str] | None = None) -> None:
        terms = terms if terms is not None else [indexed_terms(c) for c in chunks]
        rows = [keyword_rows(c.workspace_id, c.id, t) for c, t in zip(chunks, terms, strict=True)]
        with self._db.transaction() as conn:
            for workspace_id in {c.workspace_id for c in chunks}:
                lengths = [length for length, _ in rows if length[0] == workspace_id]
                postings = [p for length, counts in rows if length[0] == workspace_id for p in counts]
                # A chunk indexed again replaces what it had.
                chunks_gone, tokens_gone, terms_gone = self._remove(
                    conn, workspace_id, [r[1] for r in lengths]
                )
                conn.executemany(
                    "INSERT INTO keyword_docs (workspace_id, chunk_id, length) VALUES (?, ?, ?)", lengths
                )
                conn.executemany(
                    "INSERT INTO keyword_postings (workspace_id, term, chunk_id, tf, length)"
                    " VALUES (?, ?, ?, ?, ?)",
                    postings,
                )
                terms_added = Counter(p[1] for p in postings)
                terms_added.subtract(terms_gone)
                _adjust(
                    conn,
                    workspace_id,
                    len(lengths) - chunks_gone,
                    sum(r[2] for r in lengths) - tokens_gone,
                    terms_added,
                )

    def remove(self, workspace_id: str, chunk_ids: Sequence[str]) -> None:
        with self._db.transaction() as conn:
            chunks_gone, tokens_gone, terms_gone = self._remove(conn, workspace_id, chunk_ids)
            _adjust(
                conn,
                workspace_id,
                -chunks_gone,
                -tokens_gone,
                Counter({t: -n for t, n in terms_gone.items()}),
            )

    @staticmethod
    def _remove(
        conn: SqlConnection, workspace_id: str, chunk_ids: Sequence[str]
    ) -> tuple[int, int, Counter[str]]:
        """Delete the chunks' postings and lengths; how many chunks and tokens went, and the chunks that
        held each term."""
        ids = list(chunk_ids)
        held = conn.execute(
            "SELECT term, COUNT(*) FROM keyword_postings WHERE workspace_id = ? AND chunk_id = ANY(?)"
            " GROUP BY term",
            (workspace_id, ids),
        ).fetchall()
        gone = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(length), 0) FROM keyword_docs"
            " WHERE workspace_id = ? AND chunk_id = ANY(?)",
            (workspace_id, ids),
        ).fetchone()
        for table in ("keyword_postings", "keyword_docs"):
            conn.execute(
                f"DELETE FROM {table} WHERE workspace_id = ? AND chunk_id = ANY(?)", (workspace_id, ids)
            )
        chunks_gone, tokens_gone = (int(gone[0]), int(gone[1])) if gone else (0, 0)
        return chunks_gone, tokens_gone, Counter({str(r[0]): int(r[1]) for r in held})

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
                "INSERT INTO keyword_postings (workspace_id, term, chunk_id, tf, length)"
                " SELECT ?, term, chunk_id || ?, tf, length FROM keyword_postings WHERE workspace_id = ?",
                (target, suffix, source),
            )
            for table, columns in (("keyword_stats", "chunks, tokens"), ("keyword_terms", "term, df")):
                conn.execute(
                    f"INSERT INTO {table} (workspace_id, {columns})"
                    f" SELECT ?, {columns} FROM {table} WHERE workspace_id = ?",
                    (target, source),
                )

    def drop_workspace(self, workspace_id: str) -> None:
        with self._db.transaction() as conn:
            for table in ("keyword_postings", "keyword_docs", "keyword_stats", "keyword_terms"):
                conn.execute(f"DELETE FROM {table} WHERE workspace_id = ?", (workspace_id,))

    def compact(self, workspace_id: str) -> None:
        """Nothing to do: a removed posting is a deleted row, which VACUUM (autovacuum) reclaims."""

    def _ranked(
        self, workspace_id: str, terms: Sequence[str], stats: Statistics, limit: int | None
    ) -> Generator[tuple[str, float], None, None]:
        query = _Bm25(workspace_id, stats, terms)
        sql = (
            f"{query.terms_table} SELECT chunk_id, score FROM (SELECT p.chunk_id, SUM({query.score}) AS score"
            f" FROM keyword_postings p JOIN q ON q.term = p.term WHERE p.workspace_id = ?"
            f" AND p.term IN ({query.marks(terms)}) GROUP BY p.chunk_id) scored {BEST_FIRST}"
        )
        params = [*query.params, *query.score_params, workspace_id, *terms]
        if limit is not None:
            sql, params = f"{sql} LIMIT ?", [*params, limit]
        with self._db.reading() as conn:
            rows = conn.execute(sql, params).fetchall()
        yield from ((r[0], float(r[1])) for r in rows)

    def _best_holding(
        self, workspace_id: str, any_of: Sequence[str], others: Sequence[str], stats: Statistics, k: int
    ) -> tuple[list[tuple[str, float]], bool]:
        """The best ``k`` by ``any_of`` alone, then scored on every term: each of the others is a few
        index lookups, where ranking exactly would look them up for every chunk holding ``any_of``."""
        query = _Bm25(workspace_id, stats, [*any_of, *others])
        with self._db.reading() as conn:
            rows = conn.execute(
                f"{query.terms_table}, top AS (SELECT p.chunk_id FROM keyword_postings p"
                f" JOIN q ON q.term = p.term WHERE p.workspace_id = ? AND p.term IN ({query.marks(any_of)})"
                f" GROUP BY p.chunk_id ORDER BY SUM({query.score}) DESC, p.chunk_id LIMIT ?)"
                f" SELECT top.chunk_id, ({query.sum_for('top.chunk_id', [*any_of, *others])}) FROM top",
                [
                    *query.params,
                    workspace_id,
                    *any_of,
                    *query.score_params,
                    k,
                    *query.sum_params([*any_of, *others]),
                ],
            ).fetchall()
        return [(str(r[0]), float(r[1])) for r in rows], False

    def _ranked_holding(
        self,
        workspace_id: str,
        any_of: Sequence[str],
        others: Sequence[str],
        stats: Statistics,
        k: int,
        floor: float = -math.inf,
    ) -> list[tuple[str, float]]:
        query = _Bm25(workspace_id, stats, [*any_of, *others])
        # The other terms' postings are joined to the candidates, not looked up once per candidate:
        # thousands of candidates made that most of the time (at a million chunks, p50 74 → 68 ms).
        with self._db.reading() as conn:
            rows = conn.execute(
                f"{query.terms_table}, c AS (SELECT p.chunk_id, SUM({query.score}) AS s"
                f" FROM keyword_postings p JOIN q ON q.term = p.term WHERE p.workspace_id = ?"
                f" AND p.term IN ({query.marks(any_of)}) GROUP BY p.chunk_id"
                f" HAVING SUM({query.score}) >= ?)"
                " SELECT chunk_id, score FROM (SELECT c.chunk_id, c.s + COALESCE(SUM(o.score), 0) AS score"
                f" FROM c LEFT JOIN (SELECT p.chunk_id, {query.score} AS score FROM keyword_postings p"
                f" JOIN q ON q.term = p.term WHERE p.workspace_id = ? AND p.term IN ({query.marks(others)}))"
                f" o ON o.chunk_id = c.chunk_id GROUP BY c.chunk_id, c.s) scored {BEST_FIRST} LIMIT ?",
                [
                    *query.params,
                    *query.score_params,
                    workspace_id,
                    *any_of,
                    *query.score_params,
                    floor if math.isfinite(floor) else -1.0,  # every score is ≥ 0
                    *query.score_params,
                    workspace_id,
                    *others,
                    k,
                ],
            ).fetchall()
        return [(str(r[0]), float(r[1])) for r in rows]

    def _statistics(self, workspace_id: str, terms: Sequence[str]) -> Statistics:
        """The workspace's indexed chunks, each present term's document frequency, and the chunks' mean
        length in tokens, as :func:`recount` keeps them."""
        if not terms:
            return Statistics(0, {})
        with self._db.reading() as conn:
            counted = conn.execute(
                "SELECT chunks, tokens FROM keyword_stats WHERE workspace_id = ?", (workspace_id,)
            ).fetchone()
            rows = conn.execute(
                "SELECT term, df FROM keyword_terms WHERE workspace_id = ? AND term = ANY(?)",
                (workspace_id, list(terms)),
            ).fetchall()
        total, tokens = (int(counted[0]), int(counted[1])) if counted else (0, 0)
        frequencies = {str(r[0]): int(r[1]) for r in rows}
        return Statistics(
            total, {t: frequencies[t] for t in terms if frequencies.get(t)}, tokens / total if total else 0.0
        )
