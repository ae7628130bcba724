"""The model backends a server runs with (the embedding model, the LLM if any), checked with one small
real call each: the console's "test connection". :func:`zhiwen.wiring.described_backends` says which."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from zhiwen.ports import LLM, Embedder

PROBE_TEXT = "连接测试 connection test"
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_QUERY = re.compile(r"\?[^\s'\"]*")


def redacted(text: str) -> str:
    """``text`` without what a URL may carry of a secret: its user and password, its query string."""
    return _QUERY.sub("", _USERINFO.sub("", text))


@dataclass(frozen=True)
class Backend:
    role: str  # "embedding" or "llm"
    kind: str  # bundled, openai-compatible, gguf, none
    model: str
    url: str | None  # where it is served; None for a model inside this process
    ok: bool | None = None  # None: not checked
    ms: float | None = None
    error: str | None = None


def checked(backends: list[Backend], embedder: Embedder, llm: LLM | None) -> list[Backend]:
    """Each configured backend with the outcome of one short call: an embedding of a probe sentence, and
    a two-token chat. A failure is reported with its message, not raised."""
    results = []
    for backend in backends:
        if backend.kind == "none":
            results.append(backend)
            continue
        started = time.perf_counter()
        try:
            if backend.role == "embedding":
                embedder.embed_passages([PROBE_TEXT])  # queries are cached; passages always reach the model
            elif llm is not None:
                llm.chat([{"role": "user", "content": "Reply with OK."}], max_tokens=2)
            error = None
        except Exception as failure:  # any failure of the backend is the answer to "does it work?"
            error = redacted(f"{type(failure).__name__}: {failure}")
        ms = round((time.perf_counter() - started) * 1000, 1)
        results.append(
            Backend(backend.role, backend.kind, backend.model, backend.url, error is None, ms, error)
        )
    return results
