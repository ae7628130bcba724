from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, cast

import pytest

from zhiwen.ports import KeywordIndex, Vector
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


def test_the_question_is_embedded_while_its_keyword_search_runs(
    services: Services, workspace: Workspace
) -> None:
    """The embedder and the keyword search each wait for the other to have started: run one after the
    other, the first would give up waiting and the test fail."""
    services.ingest.ingest_bytes(workspace.id, "returns.md", POLICY.encode())
    services.embedding_worker.run_until_done()
    embedding, searching = threading.Event(), threading.Event()

    class MeetingEmbedder:
        name, dim = services.embedder.name, services.embedder.dim

        def embed_queries(self, texts: Sequence[str]) -> Vector:
            embedding.set()
            assert searching.wait(timeout=30), (
                "the keyword search did not run while the question was embedded"
            )
            return services.embedder.embed_queries(texts)

        def embed_passages(self, texts: Sequence[str]) -> Vector:
            return services.embedder.embed_passages(texts)

        def count_tokens(self, texts: Sequence[str]) -> int:
            return services.embedder.count_tokens(texts)

    class MeetingKeywords:
        def __getattr__(self, name: str) -> Any:
            return getattr(services.keywords, name)

        def search(self, *args: Any) -> list[tuple[str, float]]:
            searching.set()
            assert embedding.wait(timeout=30), "the question was not embedded during the keyword search"
            return services.keywords.search(*args)  # type: ignore[no-any-return]

    retriever = Retriever(
        services.documents, cast(KeywordIndex, MeetingKeywords()), services.vectors, MeetingEmbedder()
    )
    try:
        retrieval = retriever.retrieve(workspace.id, "How fast do refunds arrive?", k=2)
    finally:
        retriever.close()
    assert retrieval.hits[0].chunk.text.startswith("Refunds arrive")
    assert retrieval.query_vector is not None and all(c.vector is not None for c in retrieval.candidates)
    assert {"keyword", "embed", "embed_wait", "vector"} <= retrieval.timings_ms.keys()


def test_a_failed_keyword_search_fails_the_retrieval_with_its_own_error(
    services: Services, workspace: Workspace
) -> None:
    class Broken:
        def __getattr__(self, name: str) -> Any:
            return getattr(services.keywords, name)

        def search(self, *args: Any) -> list[tuple[str, float]]:
            raise RuntimeError("the keyword index is gone")

    retriever = Retriever(
        services.documents, cast(KeywordIndex, Broken()), services.vectors, services.embedder
    )
    try:
        with pytest.raises(RuntimeError, match="keyword index is gone"):
            retriever.retrieve(workspace.id, "How fast do refunds arrive?", k=2)
    finally:
        retriever.close()
