"""LLMs: any OpenAI-compatible chat endpoint over httpx, or a local GGUF file through xllamacpp."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from zhiwen.errors import BackendUnavailable, InvalidInput


def _content(payload: dict[str, Any], source: str) -> str:
    try:
        content = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise BackendUnavailable(f"{source} returned no message: {str(payload)[:200]}") from None
    return str(content or "")


class OpenAICompatibleLLM:
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        )
        self._model = model
        self.name = f"{model} @ {base_url}"

    def chat(self, messages: Sequence[dict[str, str]], max_tokens: int) -> str:
        body = {"model": self._model, "messages": list(messages), "max_tokens": max_tokens, "temperature": 0}
        try:
            response = self._client.post("/chat/completions", json=body)
            response.raise_for_status()
            return _content(response.json(), self.name)
        except httpx.HTTPError as error:
            raise BackendUnavailable(f"LLM server {self.name} failed: {error}") from None
        except ValueError:
            raise BackendUnavailable(f"LLM server {self.name} returned invalid JSON") from None


class LocalGGUFLLM:
    """llama.cpp in-process via xllamacpp; one request at a time (one slot) bounds memory on small hosts."""

    def __init__(self, path: Path, threads: int = 2, context: int = 4096) -> None:
        if not path.is_file():
            raise InvalidInput(f"ZHIWEN_LLM_GGUF={path} does not exist; point it at a .gguf model file")
        try:
            import xllamacpp
        except ImportError:
            raise InvalidInput("local GGUF models need the 'llm' extra: pip install 'zhiwen[llm]'") from None
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = context
        params.cpuparams.n_threads = threads
        params.n_parallel = 1
        self._server = xllamacpp.Server(params)
        self._lock = threading.Lock()
        self.name = f"{path.name} (local)"

    def chat(self, messages: Sequence[dict[str, str]], max_tokens: int) -> str:
        with self._lock:
            payload = self._server.handle_chat_completions(
                {"messages": list(messages), "max_tokens": max_tokens, "temperature": 0}
            )
        if isinstance(payload, dict) and "error" in payload:
            raise BackendUnavailable(f"local model failed: {payload['error']}")
        return _content(payload, self.name)
