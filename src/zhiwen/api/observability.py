"""Prometheus metrics, JSON logs and per-key rate limiting for the HTTP service."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

from zhiwen.errors import RateLimited
from zhiwen.ports import RateBuckets


class Metrics:
    """One registry per app (not the global default), so several apps can live in one process or test."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "zhiwen_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "zhiwen_request_seconds",
            "HTTP request latency",
            ["route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.stages = Histogram(
            "zhiwen_stage_seconds",
            "Latency of one stage of search or ask",
            ["stage"],
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
        )
        self.answers = Counter("zhiwen_answers", "Answers given, by mode", ["mode"], registry=self.registry)

    def exposition(self) -> bytes:
        """What /metrics serves. Under `zhiwen serve --processes N` each API process writes its figures
        to ``PROMETHEUS_MULTIPROC_DIR`` and any of them sums them all (a scrape reaches only one)."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)

    def observe_stages(self, timings_ms: dict[str, float]) -> None:
        for stage, ms in timings_ms.items():
            self.stages.labels(stage=stage).observe(ms / 1000)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_json_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class RateLimiter:
    """A token bucket per name (an API key, a client address): ``per_minute`` requests, bursting up to the
    same number. The buckets are kept outside the process (:class:`RateBuckets`), so the limit holds
    across every API process of a data dir; they are named by a hash, so no address or e-mail is kept."""

    def __init__(
        self, buckets: RateBuckets, kind: str, per_minute: int, what: str = "requests for this key"
    ) -> None:
        self._buckets = buckets
        self._kind = kind
        self._what = what
        self._rate = per_minute / 60.0
        self._capacity = float(per_minute)

    def check(self, name: str) -> None:
        """Take a token, or refuse (429) while the bucket is empty."""
        self._refuse(self._buckets.take(self._bucket(name), self._capacity, self._rate, time.time()))

    def check_open(self, name: str) -> None:
        """Refuse while the bucket is empty, without taking: guesses are refused before they are tried."""
        self._refuse(self._buckets.wait(self._bucket(name), self._capacity, self._rate, time.time()))

    def _bucket(self, name: str) -> str:
        return f"{self._kind}:{hashlib.sha256(name.encode()).hexdigest()[:32]}"

    def _refuse(self, wait: float) -> None:
        if wait > 0:
            raise RateLimited(f"too many {self._what}; retry in {math.ceil(wait)} s")
