from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, cast

import pytest

from zhiwen.ports import KeywordIndex, Vector, VectorIndex
from zhiwen.services.knowledge.retrieve import Retriever
from zhiwen.types import Workspace
from zhiwen.wiring import Services

POLICY = "# Returns\n\n## Refunds\n\nRefunds arrive within 3 working days.\n\n## Exchanges\n\nWithin 15 days."


def test_every_embedded_candidate_is_ranked_with_its_closest_sentence(
    services: Services, workspace: Workspace
) -> None:
    services.ingest.ingest_bytes(workspace.id, "returns.md", POLICY.encode())
    services.embedding_worker.run_until_done()
    for mode in ("hybrid", "vector"):
        retrieval = services.retriever.retrieve(workspace.id, "How fast do refunds arrive?", k=2, mode=mode)
        assert {c.chunk_id for c in retrieval.candidates} == {h.chunk.id for h in retrieval.hits}
        assert all(c.sentence is not None and c.dense is not None for c in retrieval.candidates)
        assert retrieval.sentence_scores == {c.chunk_id: c.sentence for c in retrieval.candidates}
        assert retrieval.hits[0].chunk.text.startswith("Refunds arrive")
        if mode == "vector":  # ranked by the mean of the passage's and its closest sentence's cosines
            assert [h.score for h in retrieval.hits] == sorted(
                (c.dense for c in retrieval.candidates if c.dense is not None), reverse=True
            )


def test_the_question_is_embedded_and_its_vectors_searched_while_its_keyword_search_runs(
    services: Services, workspace: Workspace
) -> None:
    """The vector search and the keyword search each wait for the other to have started: run one after
    the other, the first would give up waiting and the test fail."""
    services.ingest.ingest_bytes(workspace.id, "returns.md", POLICY.encode())
    services.embedding_worker.run_until_done()
    searching_vectors, searching_keywords = threading.Event(), threading.Event()

    class MeetingVectors:
        def __getattr__(self, name: str) -> Any:
            return getattr(services.vectors, name)

        def search(self, *args: Any) -> list[tuple[str, float]]:
            searching_vectors.set()
            assert searching_keywords.wait(timeout=30), "the keyword search did not run beside the vectors'"
            return services.vectors.search(*args)

    class MeetingKeywords:
        def __getattr__(self, name: str) -> Any:
            return getattr(services.keywords, name)

        def search_weighted(self, *args: Any) -> tuple[list[tuple[str, float]], dict[str, float]]:
            searching_keywords.set()
            assert searching_vectors.wait(timeout=30), "the vectors were not searched beside the keywords"
            return services.keywords.search_weighted(*args)

    retriever = Retriever(
        services.documents,
        cast(KeywordIndex, MeetingKeywords()),
        cast(VectorIndex, MeetingVectors()),
        services.embedder,
        searches_beside=True,
    )
    try:
        retrieval = retriever.retrieve(workspace.id, "How fast do refunds arrive?", k=2)
    finally:
        retriever.close()
    assert retrieval.hits[0].chunk.text.startswith("Refunds arrive")
    assert retrieval.query_vector is not None and all(c.vector is not None for c in retrieval.candidates)
    assert {"keyword", "embed", "vector", "dense_wait"} <= retrieval.timings_ms.keys()


def test_without_searches_beside_the_question_is_still_embedded_while_its_keyword_search_runs(
    services: Services, workspace: Workspace
) -> None:
    """SQLite's way: only the embedding runs beside the keyword search (the vector search reads the
    database, whose one connection the keyword search holds)."""
    services.ingest.ingest_bytes(workspace.id, "returns.md", POLICY.encode())
    services.embedding_worker.run_until_done()
    embedding, searching = threading.Event(), threading.Event()

    class MeetingEmbedder:
        name, dim = services.embedder.name, services.embedder.dim
        adapts_questions = services.embedder.adapts_questions
        question_space = services.embedder.question_space

        def embed_queries(self, texts: Sequence[str]) -> Vector:
            return services.embedder.embed_queries(texts)

        def embed_questions(self, texts: Sequence[str]) -> Vector:
            embedding.set()
            assert searching.wait(timeout=30), "the keyword search did not run beside the embedding"
            return services.embedder.embed_questions(texts)

        def embed_passages(self, texts: Sequence[str]) -> Vector:
            return services.embedder.embed_passages(texts)

        def count_tokens(self, texts: Sequence[str]) -> int:
            return services.embedder.count_tokens(texts)

    class MeetingKeywords:
        def __getattr__(self, name: str) -> Any:
            return getattr(services.keywords, name)

        def search_weighted(self, *args: Any) -> tuple[list[tuple[str, float]], dict[str, float]]:
            searching.set()
            assert embedding.wait(timeout=30), "the question was not embedded beside the keyword search"
            return services.keywords.search_weighted(*args)

    retriever = Retriever(
        services.documents, cast(KeywordIndex, MeetingKeywords()), services.vectors, MeetingEmbedder()
    )
    try:
        retrieval = retriever.retrieve(workspace.id, "How fast do refunds arrive?", k=2)
    finally:
        retriever.close()
    assert retrieval.hits[0].chunk.text.startswith("Refunds arrive")
    assert all(c.vector is not None and c.sentence is not None for c in retrieval.candidates)


def test_a_failed_keyword_search_fails_the_retrieval_with_its_own_error(
    services: Services, workspace: Workspace
) -> None:
    class Broken:
        def __getattr__(self, name: str) -> Any:
            return getattr(services.keywords, name)

        def search_weighted(self, *args: Any) -> tuple[list[tuple[str, float]], dict[str, float]]:
            raise RuntimeError("the keyword index is gone")

    retriever = Retriever(
        services.documents,
        cast(KeywordIndex, Broken()),
        services.vectors,
        services.embedder,
        searches_beside=True,
    )
    try:
        with pytest.raises(RuntimeError, match="keyword index is gone"):
            retriever.retrieve(workspace.id, "How fast do refunds arrive?", k=2)
    finally:
        retriever.close()


def test_a_knowledge_base_in_one_language_has_no_other_to_ask(
    services: Services, workspace: Workspace
) -> None:
    sections = "\n\n".join(f"## Product {n}\n\nProduct {n} ships in {n} working days." for n in range(30))
    services.ingest.ingest_bytes(workspace.id, "products.md", f"# Products\n\n{sections}".encode())
    services.embedding_worker.run_until_done()
    assert set(services.retriever.language_means(workspace.id).means) == {"en"}
    assert services.retriever.other_language(workspace.id, "en") is None
    assert services.retriever.other_language(workspace.id, "zh") is None
