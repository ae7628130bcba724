"""Prometheus metrics, JSON logs and per-key rate limiting for the HTTP service."""

from __future__ import annotations

import json
import logging
import math
import threading
import time

from prometheus_client import CollectorRegistry, Counter, Histogram

from zhiwen.errors import RateLimited


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
    """Token bucket per name (an API key, a client address): ``per_minute`` requests, bursting up to the
    same number."""

    def __init__(self, per_minute: int, what: str = "requests for this key") -> None:
        self._what = what
        self._rate = per_minute / 60.0
        self._capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self._capacity, now))
            tokens = min(self._capacity, tokens + (now - last) * self._rate)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / self._rate)
                raise RateLimited(f"too many {self._what}; retry in {wait} s")
            self._buckets[key_id] = (tokens - 1.0, now)
