"""Search and ask latency, memory and start-up as a knowledge base grows past the 11k chunks of the
development sets (issue 16): 100,000 chunks by default, on the embedded SQLite store.

    python -m benchmarks.scale [--chunks 100000] [--queries 300] [--postgresql] [--json]

The passages are the three retrieval sets' (../shared/data) and, beyond their 12,600, new passages made
by joining sentences of two of them, so keyword statistics stay those of real text. Building the store
(kept in .bench/scale-<chunks>, reused by the next run) with the real embedder would take hours, so the
chunk and sentence vectors come from a cheap deterministic embedder (hashed jieba words, labelled
``hashed-words`` in the output): latency does not depend on the vectors' values. The questions are the
sets' real questions, embedded by the real bundled model, as in service. Quality figures come from the
real embeddings (`zhiwen bench retrieval`), never from this store.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import jieba
import numpy as np
import psycopg
from tests.postgres import postgres_server

from benchmarks.common import machine, percentile, rss_mb
from zhiwen.adapters.embedders import BundledE5Embedder
from zhiwen.config import Settings
from zhiwen.ports import Vector
from zhiwen.services.lifecycle.bench import load_beir
from zhiwen.stores.postgres.db import PgDatabase
from zhiwen.stores.postgres.keyword import recount
from zhiwen.stores.postgres.vectors import create_index
from zhiwen.text.sentences import split_sentences
from zhiwen.wiring import build_services, move_to_postgresql

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "retrieval"
SETS = ("cmrc2018_trial", "stackfaq_dev", "afqmc_train_faq")
RECORDS_PER_DOCUMENT = 100
HNSW_BUILD_MEMORY = "6GB"  # a million 384-value vectors and their graph fit: the build stays in memory


class HashedWordsEmbedder:
    """Passages: the sum of a fixed random vector per jieba word (hashed into 8,192 buckets: 12 MB),
    normalised; deterministic and cheap. Questions: the real bundled model, so that asking costs what it
    costs in service."""

    name = "hashed-words (passages) + multilingual-e5-small (questions)"
    dim = 384
    buckets = 1 << 13

    def __init__(self, real: BundledE5Embedder) -> None:
        self._real = real
        self._table = np.random.default_rng(16).standard_normal((self.buckets, self.dim), dtype=np.float32)

    @property
    def adapts_questions(self) -> bool:
        return self._real.adapts_questions

    @property
    def question_space(self) -> str:
        return self._real.question_space

    def embed_queries(self, texts: Sequence[str]) -> Vector:
        return self._real.embed_queries(texts)

    def embed_questions(self, texts: Sequence[str]) -> Vector:
        return self._real.embed_questions(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vector:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = [hashlib.blake2b(w.encode(), digest_size=4).digest() for w in jieba.lcut(text)]
            buckets = [int.from_bytes(w, "little") % self.buckets for w in words]
            if buckets:
                vectors[row] = self._table[buckets].sum(axis=0)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        result: Vector = vectors / np.maximum(norms, 1e-12)
        return result

    def count_tokens(self, texts: Sequence[str]) -> int:
        return sum(len(t) for t in texts)


def passages() -> list[tuple[str, str]]:
    """(title, text) of every passage of the three sets, in file order."""
    return [entry for name in SETS for entry in load_beir(DATA / name).corpus.values() if entry[1].strip()]


def records(count: int) -> Iterator[dict[str, str]]:
    """The real passages, then joins of the first half of one with the second half of another."""
    real = passages()
    halves = [split_sentences(text) for _, text in real]
    for i in range(count):
        if i < len(real):
            title, text = real[i]
        else:
            (title, whole), other = real[i % len(real)], (i * 7919 + i // len(real)) % len(real)
            first, second = halves[i % len(real)], halves[other]
            text = "".join(first[: max(1, len(first) // 2)] + second[len(second) // 2 :]) or whole
        yield {"title": title, "text": text}


def build(settings: Settings, chunks: int, embedder: HashedWordsEmbedder) -> dict[str, float]:
    """Ingest ``chunks`` records into the store ``settings`` name, then embed them. On PostgreSQL the
    HNSW index is built once at the end, as `zhiwen migrate --to` builds it, rather than kept current
    row by row."""
    services = build_services(settings, embedder=embedder)
    workspace = services.workspaces.create_workspace("scale")
    if settings.database_url:
        with psycopg.connect(settings.database_url.get_secret_value(), autocommit=True) as conn:
            conn.execute(f"DROP INDEX IF EXISTS vectors_hnsw_{embedder.dim}")
    started = time.perf_counter()
    batch: list[str] = []
    for number, record in enumerate(records(chunks), start=1):
        batch.append(json.dumps(record, ensure_ascii=False))
        if len(batch) == RECORDS_PER_DOCUMENT or number == chunks:
            body = "\n".join(batch).encode()
            services.ingest.ingest_bytes(workspace.id, f"part-{number:07d}.jsonl", body, dedup=False)
            batch = []
    keyword_s = time.perf_counter() - started
    started = time.perf_counter()
    services.embedding_worker.run_until_done()
    embed_s = time.perf_counter() - started
    services.close()
    report = {"build_keyword_index_s": round(keyword_s, 1), "build_embed_s": round(embed_s, 1)}
    if settings.database_url:
        report["build_hnsw_index_s"] = build_hnsw_index(
            settings.database_url.get_secret_value(), embedder.dim
        )
    return report


def build_hnsw_index(url: str, dim: int) -> float:
    """Seconds to build the HNSW index over every vector (and to analyse the tables after)."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"SET maintenance_work_mem = '{HNSW_BUILD_MEMORY}'")
        conn.execute("SET max_parallel_maintenance_workers = 1")  # with the leader: both cores
        create_index(conn, dim)
        conn.execute("VACUUM ANALYZE")
    return round(time.perf_counter() - started, 1)


# Each table of the workspace's knowledge, its columns, and which of them name a row (suffixed in a copy).
COPIED_TABLES = (
    (
        "documents",
        "id, workspace_id, source, title, content_hash, tags, created_at, updated_at",
        ("id", "source"),
    ),
    (
        "chunks",
        "id, workspace_id, document_id, position, title_path, text, kind, question, content_hash, embedded",
        ("id", "document_id"),
    ),
    ("keyword_docs", "workspace_id, chunk_id, length", ("chunk_id",)),
    ("keyword_postings", "workspace_id, term, chunk_id, tf, length", ("chunk_id",)),
    ("sentence_vectors", "chunk_id, workspace_id, vectors", ("chunk_id",)),
)


def grow_by_copies(url: str, copies: int, dim: int) -> dict[str, float]:
    """The ``scale`` workspace ``copies`` times over, inside PostgreSQL: every document, chunk, posting and
    vector again under ids suffixed ``~n``, each chunk vector moved by a little noise so that the HNSW
    graph holds no exact duplicates. Keyword statistics are counted afresh (a term's document frequency
    grows with the chunks, so its IDF stays what it was). Minutes where ingesting a million chunks takes
    hours; the price is a knowledge base that says everything ``copies`` times."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT id FROM workspaces WHERE name = 'scale'").fetchone()
        assert row is not None, "no workspace named scale: build the smaller store first"
        workspace = str(row[0])
        conn.execute(f"DROP INDEX IF EXISTS vectors_hnsw_{dim}")
        for n in range(1, copies):
            suffix = f"~{n}"
            with conn.transaction():
                for table, columns, named in COPIED_TABLES:
                    selected = ", ".join(
                        f"{c} || %(suffix)s" if c in named else c for c in columns.split(", ")
                    )
                    key = "id" if table in ("documents", "chunks") else "chunk_id"
                    conn.execute(
                        f"INSERT INTO {table} ({columns}) SELECT {selected} FROM {table}"
                        f" WHERE workspace_id = %(workspace)s AND position('~' in {key}) = 0",
                        {"suffix": suffix, "workspace": workspace},
                    )
                conn.execute(
                    "INSERT INTO vectors (chunk_id, workspace_id, vector, embedding)"
                    " SELECT chunk_id || %(suffix)s, workspace_id, vector, embedding + (SELECT"
                    " array_agg((random() - 0.5) * 0.02)::vector"  # correlated: new noise per row
                    f" FROM generate_series(1, {dim} + 0 * length(chunk_id)))"
                    " FROM vectors WHERE workspace_id = %(workspace)s AND position('~' in chunk_id) = 0",
                    {"suffix": suffix, "workspace": workspace},
                )
            print(f"copy {n} of {copies - 1}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    database = PgDatabase(url)
    with database.transaction() as counting:
        recount(counting, workspace)
    database.close()
    return {"grow_by_copies_s": round(time.perf_counter() - started, 1)}


def questions(limit: int) -> list[str]:
    """The three sets' questions taken in turn (Chinese reading comprehension, English FAQ, Chinese
    paraphrase), distinct, ``limit`` of them."""
    sets = [list(load_beir(DATA / name).queries.values()) for name in SETS]
    taken = dict.fromkeys(q for row in itertools.zip_longest(*sets) for q in row if q)
    return list(taken)[:limit]


def measure(settings: Settings, embedder: HashedWordsEmbedder, queries: int) -> dict[str, object]:
    """Start-up, then search and ask latency on the store ``settings`` name."""
    started = time.perf_counter()
    services = build_services(settings, embedder=embedder)
    workspace = services.workspaces.get_workspace("scale")
    services.vectors.count(workspace.id)  # load the vectors, as the first question would
    report: dict[str, object] = {"startup_s": round(time.perf_counter() - started, 2)}
    report["chunks"] = services.documents.count_chunks(workspace.id)
    # Different questions for search and ask: a question searched first would be asked with its vector
    # already in the query cache.
    asked = questions(2 * queries + 20)
    for question in asked[-20:]:  # warm-up: jieba, caches
        services.answerer.answer(workspace.id, question)
    search_ms, ask_ms = [], []
    for question in asked[:queries]:
        started = time.perf_counter()
        services.retriever.retrieve(workspace.id, question, k=5)
        search_ms.append((time.perf_counter() - started) * 1000)
    stages: dict[str, list[float]] = {}  # where an ask's time goes, from its own timings
    for question in asked[queries : 2 * queries]:
        started = time.perf_counter()
        answer = services.answerer.answer(workspace.id, question)
        ask_ms.append((time.perf_counter() - started) * 1000)
        # What the answer's timings do not cover: recording it (the answer is timed before it is saved).
        after = {"after_timings": ask_ms[-1] - answer.timings_ms["total"]}
        for stage, ms in (answer.timings_ms | after).items():
            stages.setdefault(stage, []).append(ms)
    services.close()
    return report | {
        "questions_searched": queries,
        "questions_asked": queries,
        "search_ms_p50_p95": [round(percentile(search_ms, 50), 1), round(percentile(search_ms, 95), 1)],
        "ask_ms_p50_p95": [round(percentile(ask_ms, 50), 1), round(percentile(ask_ms, 95), 1)],
        "ask_stages_ms_p50": {stage: round(percentile(ms, 50), 1) for stage, ms in stages.items()},
        "rss_mb": round(rss_mb(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=100_000, help="chunks in the store (default 100,000)")
    parser.add_argument("--queries", type=int, default=300, help="questions to time (default 300)")
    parser.add_argument(
        "--postgresql",
        action="store_true",
        help="also move the store into a fresh PostgreSQL (timed, as `zhiwen migrate --to` does it) and "
        "measure it there, after SQLite, in the same process (its memory figure includes SQLite's run)",
    )
    parser.add_argument(
        "--postgresql-only",
        action="store_true",
        help="build the store straight into a PostgreSQL kept in .bench/scale-<chunks>-postgresql (no "
        "SQLite store; slow beyond ~100k chunks: see --copies-of) and measure only there",
    )
    parser.add_argument(
        "--copies-of",
        type=int,
        metavar="N",
        help="with --postgresql-only: build by copying the N-chunk PostgreSQL store (made before with "
        "--chunks N --postgresql-only) and repeating its knowledge inside PostgreSQL (see grow_by_copies)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.copies_of and (not args.postgresql_only or args.chunks % args.copies_of):
        parser.error("--copies-of N needs --postgresql-only and a --chunks that is a multiple of N")
    embedder = HashedWordsEmbedder(BundledE5Embedder(num_threads=2))
    report: dict[str, object] = {"machine": machine(), "vectors": embedder.name}
    with contextlib.ExitStack() as stack:
        if args.postgresql_only:
            folder = ROOT / ".bench" / f"scale-{args.chunks}-postgresql"
            if args.copies_of and not (folder / "built.json").exists():
                shutil.rmtree(folder, ignore_errors=True)
                shutil.copytree(ROOT / ".bench" / f"scale-{args.copies_of}-postgresql", folder, symlinks=True)
                (folder / "server" / "data" / "postmaster.pid").unlink(missing_ok=True)
                with postgres_server(folder / "server", durable=True) as url:
                    grown = grow_by_copies(url, args.chunks // args.copies_of, embedder.dim)
                    grown["build_hnsw_index_s"] = build_hnsw_index(url, embedder.dim)
                (folder / "built.json").write_text(json.dumps(grown))
            url = stack.enter_context(postgres_server(folder / "server", durable=True))
            stores = {"postgresql": Settings(data_dir=folder / "data", database_url=url)}
            if not (folder / "built.json").exists():
                (folder / "built.json").write_text(
                    json.dumps(build(stores["postgresql"], args.chunks, embedder))
                )
            report.update(json.loads((folder / "built.json").read_text()))
        else:
            stores = {"sqlite": Settings(data_dir=ROOT / ".bench" / f"scale-{args.chunks}")}
            if not stores["sqlite"].db_path.exists():
                report.update(build(stores["sqlite"], args.chunks, embedder))
        if args.postgresql and not args.postgresql_only:
            folder = Path(tempfile.mkdtemp(prefix="zhiwen-pg-"))
            stack.callback(shutil.rmtree, folder, ignore_errors=True)
            url = stack.enter_context(postgres_server(folder, durable=True))
            started = time.perf_counter()
            move_to_postgresql(stores["sqlite"], url, lambda table, done, total: None)
            report["move_to_postgresql_s"] = round(time.perf_counter() - started, 1)
            stores["postgresql"] = Settings(data_dir=stores["sqlite"].data_dir, database_url=url)
        for name, settings in stores.items():
            report[name] = measure(settings, embedder, args.queries)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    for key, value in report.items():
        print(f"{key:24} {value}")


if __name__ == "__main__":
    main()
