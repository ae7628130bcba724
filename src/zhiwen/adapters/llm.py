"""LLMs: any OpenAI-compatible chat endpoint over httpx, or a local GGUF file through xllamacpp."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from zhiwen.errors import BackendUnavailable, InvalidInput


def _delta(payload: object) -> str:
    """The text of one streamed chat-completion chunk ("" for role-only and final chunks)."""
    try:
        content = payload["choices"][0]["delta"].get("content")  # type: ignore[index]
    except (KeyError, IndexError, TypeError, AttributeError):
        return ""
    return content if isinstance(content, str) else ""


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

    def stream(self, messages: Sequence[dict[str, str]], max_tokens: int) -> Iterator[str]:
        """Server-sent chat-completion chunks (``"stream": true``), as OpenAI and llama.cpp servers send."""
        body = {
            "model": self._model,
            "messages": list(messages),
            "max_tokens": max_tokens,
            "temperature": 0,
            "stream": True,
        }
        try:
            with self._client.stream("POST", "/chat/completions", json=body) as response:
                response.raise_for_status()
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        piece = _delta(json.loads(data))
                    except ValueError:
                        raise BackendUnavailable(f"LLM server {self.name} sent invalid JSON") from None
                    if piece:
                        yield piece
        except httpx.HTTPError as error:
            raise BackendUnavailable(f"LLM server {self.name} failed: {error}") from None


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

    def stream(self, messages: Sequence[dict[str, str]], max_tokens: int) -> Iterator[str]:
        """llama.cpp calls back with each chunk on the generating thread; a queue hands them over."""
        chunks: queue.Queue[object] = queue.Queue()
        done = object()
        request = {"messages": list(messages), "max_tokens": max_tokens, "temperature": 0, "stream": True}

        def on_chunk(chunk: object) -> bool:
            chunks.put(chunk)
            return False  # False: keep generating

        def generate() -> None:
            try:
                with self._lock:
                    self._server.handle_chat_completions(request, on_chunk)
            except Exception as error:
                chunks.put(BackendUnavailable(f"local model failed: {error}"))
            finally:
                chunks.put(done)

        threading.Thread(target=generate, daemon=True).start()
        while (chunk := chunks.get()) is not done:
            if isinstance(chunk, BackendUnavailable):
                raise chunk
            if isinstance(chunk, dict) and "error" in chunk:
                raise BackendUnavailable(f"local model failed: {chunk['error']}")
            if piece := _delta(chunk):
                yield piece
