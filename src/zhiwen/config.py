"""Typed settings, read once from ``ZHIWEN_*`` environment variables and passed down.

Nothing reads the environment at import time: ``Settings()`` is built by the CLI or the app factory and
handed to :func:`zhiwen.wiring.build_services`, so tests can run many isolated instances side by side.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZHIWEN_", env_file=None, extra="ignore")

    data_dir: Path = Field(default=Path("zhiwen-data"), description="Where the embedded store lives.")
    host: str = "127.0.0.1"
    port: int = 8000

    # Limits: every input path is bounded.
    max_upload_bytes: int = 50 * 1024 * 1024
    max_question_chars: int = 1000
    rate_limit_per_minute: int = 600
    metrics_public: bool = False  # /metrics without an admin key
    failed_auth_per_minute: int = 30  # per client address: guessing keys is slow, not free
    sync_upload_bytes: int = 256 * 1024  # larger uploads through the API run as a background job
    secure_cookies: bool = False  # mark the session cookie Secure: set it when Zhiwen is served over HTTPS
    visitor_messages_per_minute: int = 20  # per widget visitor (the widget key's own limit is the one above)

    # Chunking.
    chunk_max_chars: int = 600

    # Retrieval and answering.
    candidates: int = 50
    top_k: int = 5
    handoff_below: float = Field(default=0.5, ge=0.0, le=1.0, description="Hand off when P(correct) < this.")
    faq_direct_above: float = Field(default=0.6, ge=0.0, le=1.0)

    # Embeddings: the bundled engine by default, an OpenAI-compatible endpoint when set.
    embed_threads: int = 2
    embed_batch: int = 16
    embed_base_url: str | None = None
    embed_model: str = "multilingual-e5-small"
    embed_api_key: str | None = None

    # Optional LLM answerer: an OpenAI-compatible endpoint or a local GGUF file.
    llm_base_url: str | None = None
    llm_model: str = "default"
    llm_api_key: str | None = None
    llm_gguf: Path | None = None
    llm_timeout_s: float = 60.0
    llm_max_tokens: int = 400

    @property
    def db_path(self) -> Path:
        return self.data_dir / "zhiwen.sqlite3"
