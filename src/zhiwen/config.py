"""Typed settings, read once from ``ZHIWEN_*`` environment variables and passed down.

Nothing reads the environment at import time: ``Settings()`` is built by the CLI or the app factory and
handed to :func:`zhiwen.wiring.build_services`, so tests can run many isolated instances side by side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZHIWEN_", env_file=None, extra="ignore")

    data_dir: Path = Field(default=Path("zhiwen-data"), description="Where the embedded store lives.")
    # postgresql://user:password@host:port/database puts every store there instead of data_dir's SQLite
    # file (the data dir still holds the master key, spooled uploads and caches).
    database_url: SecretStr | None = Field(default=None, repr=False)
    # On PostgreSQL, how many candidates pgvector's HNSW scan keeps (hnsw.ef_search; at least k): more
    # finds more of the true nearest vectors, slower.
    pgvector_ef_search: int = Field(default=100, ge=10, le=1000)
    # redis://host:port/db sends training, scoring and tuning jobs to `zhiwen worker` processes (on any
    # machine with the same database) instead of threads of the API process that took the request.
    redis_url: SecretStr | None = Field(default=None, repr=False)
    # A job's worker silent this long is taken for dead: its job goes to another worker.
    worker_dead_after_seconds: float = Field(default=60.0, ge=1.0, le=3600.0)
    host: str = "127.0.0.1"
    port: int = 8000
    # API processes `zhiwen serve` runs on its port; each holds its own model and vectors.
    api_processes: int = Field(default=1, ge=1, le=64)

    # Limits: every input path is bounded.
    max_upload_bytes: int = 50 * 1024 * 1024
    max_question_chars: int = 1000
    rate_limit_per_minute: int = 600
    metrics_public: bool = False  # /metrics without an admin key
    failed_auth_per_minute: int = 30  # per client address: guessing keys is slow, not free
    sync_upload_bytes: int = 256 * 1024  # uploads up to this size are waited for; larger get a job id at once
    sync_upload_wait_seconds: float = 60.0  # a small upload still unfinished by then is answered as a job
    secure_cookies: bool = False  # mark the session cookie Secure: set it when Zhiwen is served over HTTPS
    visitor_messages_per_minute: int = 20  # per widget visitor (the widget key's own limit is the one above)

    # Secrets a workspace stores (webhook signing secrets, tools' tokens) are sealed with this Fernet key;
    # several, comma-separated, newest first, while rotating. Unset: a key is made in data_dir/master.key.
    master_key: SecretStr | None = Field(default=None, repr=False)

    # Chunking.
    chunk_max_chars: int = 600

    # Retrieval and answering.
    candidates: int = 50
    top_k: int = 5
    handoff_below: float = Field(default=0.5, ge=0.0, le=1.0, description="Hand off when P(correct) < this.")
    faq_direct_above: float = Field(default=0.6, ge=0.0, le=1.0)

    # Embeddings: the bundled engine by default, an OpenAI-compatible endpoint when set.
    embed_threads: int = 2
    # Uploads are ingested and chunks embedded by a worker process at a lower CPU priority ("process"),
    # so answers keep their latency; "thread" keeps everything in the server's process.
    worker: Literal["process", "thread"] = "process"
    worker_nice: int = 10
    worker_max_rss_mb: int = 768  # restart between units of work above this (~550 MB once embedding; 0 never)
    embed_batch: int = 4  # a queued upload waits one batch: 4 chunks wait 4x less than 16, embed 6 % slower
    embed_base_url: str | None = None
    embed_model: str = "multilingual-e5-small"
    embed_api_key: SecretStr | None = Field(default=None, repr=False)  # never in a log or repr
    # Customers' questions are embedded through low-rank additions to the bundled model's weights, tuned
    # to find the passage that answers (docs/answers.md): "bundled" (the one shipped), "none", or the path
    # of an adapter file. Stored knowledge vectors never pass through it, so it can change without
    # re-embedding; calibrated models and re-rankers' memories were fitted through it: refit them.
    question_adapter: str = "bundled"

    # Optional LLM answerer: an OpenAI-compatible endpoint or a local GGUF file.
    llm_base_url: str | None = None
    llm_model: str = "default"
    llm_api_key: SecretStr | None = Field(default=None, repr=False)
    llm_gguf: Path | None = None
    llm_timeout_s: float = 60.0
    llm_max_tokens: int = 400

    @property
    def db_path(self) -> Path:
        return self.data_dir / "zhiwen.sqlite3"
