"""Hybrid retrieval: keyword and dense candidates gathered, scored on both signals, fused, filtered."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from zhiwen.errors import InvalidInput
from zhiwen.ports import DocumentStore, Embedder, KeywordIndex, Vector, VectorIndex
from zhiwen.services.knowledge.embedding import embedding_text, embeds_as_query
from zhiwen.services.knowledge.fusion import Candidate, spread_weighted_fusion
from zhiwen.services.knowledge.languages import LanguageMeans, knowledge_language_means, passage_language
from zhiwen.services.knowledge.rerank import DEPTH, Matrix, Memory, Reranker, candidate_features
from zhiwen.text.normalize import detect_language
from zhiwen.text.sensitive import redact_secrets
from zhiwen.types import Chunk, Hit

# BM25's per-term score tends to IDF · (k1 + 1) as term frequency grows; k1 = 1.2 in FTS5 and most engines.
KEYWORD_SATURATION = 2.2

Mode = Literal["keyword", "vector", "hybrid"]
Fusion = Callable[[Sequence[Candidate]], dict[str, float]]


@dataclass
class Retrieval:
    hits: list[Hit]
    candidates: list[Candidate]
    query_vector: Vector | None
    timings_ms: dict[str, float] = field(default_factory=dict)
    term_weights: dict[str, float] = field(default_factory=dict)  # IDF of the query's keyword terms
    sentence_scores: dict[str, float] = field(default_factory=dict)  # hit's chunk id -> its closest sentence


@dataclass
class Pool:
    """Everything retrieval knows about one query's candidates before the final cut."""

    started: float
    by_id: dict[str, Candidate] = field(default_factory=dict)
    fused: dict[str, float] = field(default_factory=dict)
    query_vector: Vector | None = None
    term_weights: dict[str, float] = field(default_factory=dict)
    remembered: dict[str, list[float]] = field(default_factory=dict)  # content hash -> memory similarities
    timings: dict[str, float] = field(default_factory=dict)


TITLE_PAGE = 500
# Questions whose dense search runs at once beside their keyword searches; more wait for a free thread
# (the embedding engine uses every core for one question anyway).
QUERY_EMBEDDERS = 4
Nearest = list[tuple[str, float]]
# The question's vector, its nearest chunks and their sentences' scores (None and {}: not searched yet).
Dense = tuple[Vector, Nearest | None, dict[str, float]]
# While some of the sampled passages wait for their vectors, the language means are read again this often.
LANGUAGE_MEANS_REFRESH_S = 30.0


@dataclass(frozen=True)
class SubjectTitles:
    """What names a knowledge base's products and topics: its documents' titles, and the titles of a
    JSONL file's rows (a catalogue's products, a price list's plans)."""

    documents: list[str]
    rows: list[str]


class Retriever:
    def __init__(
        self,
        store: DocumentStore,
        keywords: KeywordIndex,
        vectors: VectorIndex,
        embedder: Embedder,
        candidates: int = 50,
        fusion: Fusion = spread_weighted_fusion,
        searches_beside: bool = False,
    ) -> None:
        """In hybrid mode the question is embedded while its keyword search runs. ``searches_beside``:
        its nearest vectors are searched there too, which needs reads that do not wait for the keyword
        search's (PostgreSQL's readers). SQLite's one connection would make them wait, and deadlock
        when the caller holds a transaction."""
        self._store = store
        self._keywords = keywords
        self._vectors = vectors
        self._embedder = embedder
        self._candidates = candidates
        self._fusion = fusion
        self._subject_titles: dict[str, tuple[str, SubjectTitles]] = {}
        self._language_means: dict[str, tuple[str, float, LanguageMeans]] = {}
        self._reading_language_means = threading.Lock()  # one scan at a time, not one per request
        self._searches_beside = searches_beside
        self._query_embedders = ThreadPoolExecutor(QUERY_EMBEDDERS, thread_name_prefix="zhiwen-query")

    def retrieve(
        self,
        workspace_id: str,
        query: str,
        k: int = 5,
        mode: Mode = "hybrid",
        document_ids: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        candidates: int | None = None,
        fusion: Fusion | None = None,
        reranker: Reranker | None = None,
        language: str | None = None,
    ) -> Retrieval:
        """The best ``k`` chunks. ``candidates``, ``fusion`` and ``reranker`` override the defaults (a
        release's settings); the re-ranker needs the dense signal, so keyword mode ignores it.
        ``language``: passages in that language only, the question moved to them when it is in the other
        (:meth:`other_language`)."""
        pool = self.pool(
            workspace_id,
            query,
            k,
            mode,
            document_ids,
            tags,
            candidates,
            fusion,
            memory=reranker.memory if reranker else None,
            language=language,
        )
        t = time.perf_counter()
        if reranker is not None and pool.query_vector is not None and pool.fused:
            shortlist, features = self.shortlist(workspace_id, query, pool)
            scores = reranker.predict(features)
            # Re-ranked candidates go above the rest, in the model's order (its scores can be negative).
            lift = max(pool.fused.values()) + 1.0 - float(scores.min(initial=0.0))
            for chunk, score in zip(shortlist, scores, strict=True):
                pool.fused[chunk.id] = lift + float(score)
            pool.timings["rerank"] = (time.perf_counter() - t) * 1000
        best = sorted(pool.fused, key=lambda cid: pool.fused[cid], reverse=True)[:k]
        if pool.query_vector is not None:
            self._score_unembedded(workspace_id, pool.query_vector, [pool.by_id[cid] for cid in best])
        hits = self._hits(workspace_id, best, pool.fused, pool.by_id)
        sentences = {
            h.chunk.id: sentence for h in hits if (sentence := pool.by_id[h.chunk.id].sentence) is not None
        }
        pool.timings["total"] = (time.perf_counter() - pool.started) * 1000
        return Retrieval(
            hits, list(pool.by_id.values()), pool.query_vector, pool.timings, pool.term_weights, sentences
        )

    def question_similarities(
        self, workspace_id: str, question: str, chunk_ids: list[str]
    ) -> dict[str, float]:
        """Cosines of ``question`` to the vectors of chunks that are questions (FAQ entries), with the
        question embedded without the question adapter: that is tuned to find answers, not to tell two
        questions alike, and moves a question away from its own wording. A chunk still waiting for its
        vector (a curated answer just approved) is embedded now."""
        if not chunk_ids:
            return {}
        vector = self._embedder.embed_queries([question])[0]
        scores = self._vectors.scores(workspace_id, vector, chunk_ids)
        waiting = self._embedded_now(workspace_id, [c for c in chunk_ids if c not in scores])
        return scores | {chunk_id: float(stored @ vector) for chunk_id, stored in waiting.items()}

    def subject_titles(self, workspace_id: str) -> SubjectTitles:
        """The titles that name what the knowledge is about, cached until a document is added, replaced or
        deleted (one check per call)."""
        version = self._store.documents_version(workspace_id)
        cached = self._subject_titles.get(workspace_id)
        if cached is None or cached[0] != version:
            titles = SubjectTitles(self._document_titles(workspace_id), self._store.row_titles(workspace_id))
            cached = self._subject_titles[workspace_id] = (version, titles)
        return cached[1]

    def other_language(self, workspace_id: str, language: str) -> str | None:
        """The knowledge's other language than ``language``, where it has passages in both."""
        return self.language_means(workspace_id).other_than(language)

    def language_means(self, workspace_id: str) -> LanguageMeans:
        """The knowledge's mean passage vector of each language, cached until a document changes (read
        again every :data:`LANGUAGE_MEANS_REFRESH_S` while some passages still wait for their vectors)."""
        version = self._store.documents_version(workspace_id)
        with self._reading_language_means:
            cached = self._language_means.get(workspace_id)
            now = time.monotonic()
            if (
                cached is None
                or cached[0] != version
                or (not cached[2].complete and now - cached[1] > LANGUAGE_MEANS_REFRESH_S)
            ):
                cached = (version, now, knowledge_language_means(self._store, self._vectors, workspace_id))
                self._language_means[workspace_id] = cached
            return cached[2]

    def _document_titles(self, workspace_id: str) -> list[str]:
        count = self._store.count_documents(workspace_id)
        titles = []
        for offset in range(0, count, TITLE_PAGE):
            titles += [d.title for d in self._store.list_documents(workspace_id, TITLE_PAGE, offset)]
        return titles

    def shortlist(self, workspace_id: str, query: str, pool: Pool) -> tuple[list[Chunk], Matrix]:
        """The best :data:`DEPTH` fused candidates' chunks and their re-ranking features."""
        ranked = sorted(pool.fused, key=lambda cid: pool.fused[cid], reverse=True)[:DEPTH]
        chunks = self._store.get_chunks(workspace_id, ranked)
        shortlist = [pool.by_id[cid] for cid in ranked if cid in chunks]
        features = candidate_features(query, shortlist, chunks, pool.fused, pool.remembered)
        return [chunks[c.chunk_id] for c in shortlist], features

    def pool(
        self,
        workspace_id: str,
        query: str,
        k: int = 5,
        mode: Mode = "hybrid",
        document_ids: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        candidates: int | None = None,
        fusion: Fusion | None = None,
        memory: Memory | None = None,
        exclude_from_memory: str | None = None,
        language: str | None = None,
    ) -> Pool:
        """Keyword and dense candidates (plus those a re-ranker's memory recalls), scored and fused;
        ``language`` as in :meth:`retrieve`."""
        if not query.strip():
            raise InvalidInput("the query is empty")
        if not 1 <= k <= 100:
            raise InvalidInput("k must be between 1 and 100")
        result = Pool(started=time.perf_counter())
        timings = result.timings
        restrict: set[str] | None = None
        if document_ids:
            restrict = self._store.chunk_ids_for_documents(workspace_id, document_ids)
        if tags:
            tagged = self._store.chunk_ids_with_tags(workspace_id, tags)
            restrict = tagged if restrict is None else restrict & tagged
        if restrict is not None and not restrict:
            return result
        n = max(candidates or self._candidates, k)

        found = result.by_id
        # At a million chunks on PostgreSQL the keyword search takes ~60 ms, the embedding ~15, the
        # nearest vectors ~10: beside each other, the dense half costs nothing.
        dense: Future[Dense] | None = None
        nearest: Nearest | None = None
        sentences: dict[str, float] = {}
        if mode == "hybrid":
            dense = self._query_embedders.submit(
                self._dense, workspace_id, query, n, restrict, timings, self._searches_beside, language
            )
        if mode in ("keyword", "hybrid"):
            t = time.perf_counter()
            try:
                keyword_hits, result.term_weights = self._keywords.search_weighted(
                    workspace_id, query, n, restrict
                )
            except BaseException:
                if dense is not None:
                    dense.cancel()  # if it has started, it finishes and its result is dropped
                raise
            ceiling = KEYWORD_SATURATION * sum(result.term_weights.values())
            for rank, (cid, score) in enumerate(keyword_hits):
                share = score / ceiling if ceiling > 0 else 0.0
                found[cid] = Candidate(cid, keyword=score, keyword_rank=rank, keyword_share=share)
            timings["keyword"] = (time.perf_counter() - t) * 1000

        if mode in ("vector", "hybrid"):
            t = time.perf_counter()
            result.query_vector, nearest, sentences = (
                dense.result()
                if dense is not None
                else self._dense(workspace_id, query, n, restrict, timings, True, language)
            )
            timings["dense_wait"] = (time.perf_counter() - t) * 1000  # what the keyword search did not hide
            if nearest is None:
                result.query_vector = self._moved_to(workspace_id, query, result.query_vector, language)
                nearest, sentences = self._nearest(workspace_id, result.query_vector, n, restrict, timings)
            t = time.perf_counter()
            for rank, (cid, score) in enumerate(nearest):
                candidate = found.setdefault(cid, Candidate(cid))
                candidate.vector, candidate.vector_rank = score, rank
            if memory is not None:
                result.remembered = memory.recall(result.query_vector, exclude_from_memory)
                recalled = self._store.chunk_ids_by_hash(workspace_id, set(result.remembered))
                for cid in recalled.values():
                    if restrict is None or cid in restrict:
                        found.setdefault(cid, Candidate(cid))
            missing = [cid for cid, c in found.items() if c.vector is None]
            for cid, score in self._vectors.scores(workspace_id, result.query_vector, missing).items():
                found[cid].vector = score
            timings["vector_scores"] = (time.perf_counter() - t) * 1000

        if language is not None:
            chunks = self._store.get_chunks(workspace_id, list(found))
            for cid in [
                cid for cid in found if cid not in chunks or passage_language(chunks[cid]) != language
            ]:
                del found[cid]
                sentences.pop(cid, None)

        if result.query_vector is not None:
            t = time.perf_counter()
            read = {cid for cid, _ in nearest or ()}
            embedded = [cid for cid, c in found.items() if c.vector is not None and cid not in read]
            sentences |= self._vectors.sentence_scores(workspace_id, result.query_vector, embedded)
            for cid, score in sentences.items():
                found[cid].sentence = score  # ranks by meaning with the passage's cosine: Candidate.dense
            timings["sentences"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        pool = list(found.values())
        if mode == "keyword":
            result.fused = {c.chunk_id: c.keyword or 0.0 for c in pool}
        elif mode == "vector":
            result.fused = {c.chunk_id: c.dense or 0.0 for c in pool if c.vector_rank is not None}
        else:
            result.fused = (fusion or self._fusion)(pool)
        timings["fuse"] = (time.perf_counter() - t) * 1000
        return result

    def _dense(
        self,
        workspace_id: str,
        query: str,
        n: int,
        restrict: set[str] | None,
        timings: dict[str, float],
        search: bool,
        language: str | None,
    ) -> Dense:
        """The question's vector, and when ``search``, that vector moved to ``language``'s passages, its
        ``n`` nearest chunks and their sentences. Moving reads the store, so without ``search`` (SQLite,
        whose reads here would wait on the keyword search) the caller moves it."""
        t = time.perf_counter()
        vector: Vector = self._embedder.embed_questions([query])[0]
        timings["embed"] = (time.perf_counter() - t) * 1000
        if not search:
            return vector, None, {}
        vector = self._moved_to(workspace_id, query, vector, language)
        return vector, *self._nearest(workspace_id, vector, n, restrict, timings)

    def _moved_to(self, workspace_id: str, query: str, vector: Vector, language: str | None) -> Vector:
        """``vector`` moved to ``language``'s passages when the question is in the other one
        (:mod:`zhiwen.services.knowledge.languages`)."""
        asked_in = detect_language(query)
        if language is None or language == asked_in:
            return vector
        moved = self.language_means(workspace_id).moved(vector, asked_in)
        return vector if moved is None else moved

    def _nearest(
        self, workspace_id: str, vector: Vector, n: int, restrict: set[str] | None, timings: dict[str, float]
    ) -> tuple[Nearest, dict[str, float]]:
        """The ``n`` nearest chunks and their closest sentences' scores."""
        t = time.perf_counter()
        nearest = self._vectors.search(workspace_id, vector, n, restrict)
        sentences = self._vectors.sentence_scores(workspace_id, vector, [cid for cid, _ in nearest])
        timings["vector"] = (time.perf_counter() - t) * 1000
        return nearest, sentences

    def close(self) -> None:
        """Stops the threads of the dense searches (one under way is finished first)."""
        self._query_embedders.shutdown(cancel_futures=True)

    def _score_unembedded(self, workspace_id: str, query_vector: Vector, best: list[Candidate]) -> None:
        """Right after an upload, the best hits may still wait for the background embedder. Embed those few
        now (at most k), so their cosines, and the confidence built on them, are real rather than absent."""
        waiting = [c for c in best if c.vector is None]
        if not waiting:
            return
        vectors = self._embedded_now(workspace_id, [c.chunk_id for c in waiting])
        for candidate in waiting:
            if candidate.chunk_id in vectors:
                candidate.vector = float(vectors[candidate.chunk_id] @ query_vector)

    def _embedded_now(self, workspace_id: str, chunk_ids: list[str]) -> dict[str, Vector]:
        """The vectors these chunks will be stored with, computed now (they wait for the embedder)."""
        chunks = list(self._store.get_chunks(workspace_id, chunk_ids).values())
        vectors: dict[str, Vector] = {}
        for as_query in (True, False):
            group = [c for c in chunks if embeds_as_query(c) == as_query]
            if group:
                embed = self._embedder.embed_queries if as_query else self._embedder.embed_passages
                vectors |= zip([c.id for c in group], embed([embedding_text(c) for c in group]), strict=True)
        return vectors

    def _hits(
        self, workspace_id: str, ids: list[str], fused: dict[str, float], candidates: dict[str, Candidate]
    ) -> list[Hit]:
        chunks = self._store.get_chunks(workspace_id, ids)
        titles = self._store.titles_and_sources(workspace_id, {c.document_id for c in chunks.values()})
        hits = []
        for cid in ids:
            chunk = chunks.get(cid)
            if chunk is None or chunk.document_id not in titles:  # deleted between search and fetch
                continue
            title, source = titles[chunk.document_id]
            c = candidates[cid]
            hits.append(
                Hit(
                    _screened(chunk),
                    fused[cid],
                    c.keyword,
                    c.vector,
                    document_title=title,
                    document_source=source,
                )
            )
        return hits


def _screened(chunk: Chunk) -> Chunk:
    """The chunk with secret-like strings redacted. Ingestion redacts them before storing; this covers
    knowledge stored by an older version, so no hit (a search result, an answer, a citation, an LLM's
    passage) ever carries one."""
    text = redact_secrets(chunk.text)
    question = redact_secrets(chunk.question) if chunk.question else None
    if not text.found and not (question and question.found):
        return chunk
    return dataclasses.replace(chunk, text=text.text, question=question.text if question else None)
