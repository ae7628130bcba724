"""Trains the question adapter: the question's side of the bundled multilingual-e5-small tuned, through
low-rank additions to its layers' weights (LoRA), to score the passage that answers highest. Also measures
what it changes in retrieval, on every golden set's halves.

    pip install torch==2.13.0                      # not a dependency of Zhiwen; CPU wheel
    ZHIWEN_QUESTION_ADAPTER=none python -m benchmarks.answer_study --refresh   # questions as understood
    python -m benchmarks.question_adapter --train bank,telecom --also shop/golden --distil 10 \
        --out .bench/question-adapter-no-shop.npz       # ~6 minutes on 2 cores
    ZHIWEN_QUESTION_ADAPTER=.bench/question-adapter-no-shop.npz make calibrate-default   # twice
    python -m benchmarks.question_adapter --out src/zhiwen/adapters/e5/question_adapter.npz  # the bundled
                                                       # one: all three knowledge bases; ~8 minutes

The bundled chooser and confidence model are fitted on the demo shop's tuning halves drafted through an
adapter that never saw the shop's customer questions: fitted through the bundled one, which learned from
those very questions, they would trust adapted scores more than a company's new questions deserve.

Passages keep the vectors they have (read from the stores ``python -m benchmarks.answers`` builds), so an
adapter needs no re-embedding; it costs a question ~2 ms more to embed. It learns from the tuning halves of
the ``--train`` knowledge bases' golden sets (and ``--also`` sets'; ``--public``: the public retrieval sets'
tuning halves, which did not help), by the score retrieval ranks with (the mean of the passage's cosine and
its closest sentence's), softmax over all of the knowledge base's passages and a learned "no passage
answers" score that an answerable question's right passages must beat and an unanswerable question's
passages must not (without it, every question's best score rises and the confidence can no longer tell
near-misses). ``--distil`` keeps questions near their unadapted vectors, which suit questions worded like
the knowledge.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.answer_study import load_drafts
from benchmarks.answers import SAMPLES, SETS, knowledge_base
from benchmarks.reader_study import PUBLIC, reader_class
from zhiwen.adapters.e5.bundle import nibbles, scales
from zhiwen.adapters.e5.engine import E5Engine
from zhiwen.services.lifecycle.golden import answer_is_right, load_golden, split_of

QUESTION_TOKENS = 64  # the prefix and the latest words of a longer (follow-up) question
TEMPERATURE = 0.02  # E5's cosines are compressed into ~0.75-0.95
BATCH = 32
NOTHING_SCORE = 0.88  # where "no passage answers" starts, among E5's dense scores
PUBLIC_SETS = ("afqmc_train_faq", "stackfaq_dev", "cmrc2018_trial")
CACHE = Path(__file__).resolve().parents[1] / ".bench" / "question-adapter-public.npz"


@dataclass
class Corpus:
    """What questions are scored against: passage vectors, and each passage's sentence vectors."""

    name: str
    passages: npt.NDArray[np.float32]  # (n, d)
    sentences: npt.NDArray[np.float32]  # (m, d); empty when only passages count
    owners: npt.NDArray[np.int64]  # (m,) the passage of each sentence


@dataclass
class Question:
    corpus: str
    group: str  # "shop/customers", "public/stackfaq_dev", …
    text: str
    relevant: list[int]  # the corpus rows that answer it; empty when unanswerable
    tune: bool


def sample_corpora() -> tuple[dict[str, Corpus], list[Question]]:
    drafts = load_drafts()
    corpora: dict[str, Corpus] = {}
    questions: list[Question] = []
    position = 0
    for knowledge, (folder, files) in SETS.items():
        db = sqlite3.connect(knowledge_base(knowledge) / "zhiwen.sqlite3")
        rows = db.execute(
            "SELECT c.id, c.text, v.vector, s.vectors FROM chunks c JOIN vectors v ON v.chunk_id = c.id"
            " JOIN sentence_vectors s ON s.chunk_id = c.id ORDER BY c.id"
        ).fetchall()
        db.close()
        texts = [r[1] for r in rows]
        passages = np.stack([np.frombuffer(r[2], dtype=np.float32) for r in rows])
        per = [np.frombuffer(r[3], dtype=np.float16).reshape(-1, passages.shape[1]) for r in rows]
        corpora[knowledge] = Corpus(
            knowledge,
            passages,
            np.concatenate(per).astype(np.float32),
            np.repeat(np.arange(len(per)), [len(p) for p in per]),
        )
        for golden in files:
            for item in load_golden(SAMPLES / folder / f"{golden}.jsonl"):
                draft = drafts[position]
                position += 1
                assert (draft.knowledge, draft.golden) == (knowledge, golden), "drafts out of date"
                relevant = (
                    [i for i, t in enumerate(texts) if answer_is_right(t, item.expected_answers)]
                    if item.answerable
                    else []
                )
                if item.answerable and not relevant:
                    continue  # its answer is in no single chunk: nothing to learn or measure
                questions.append(
                    Question(
                        knowledge,
                        f"{knowledge}/{golden}",
                        draft.understood or item.question,
                        relevant,
                        split_of(item.split_key) == "tune",
                    )
                )
    return corpora, questions


def public_corpora() -> tuple[dict[str, Corpus], list[Question]]:
    """The public retrieval sets, their passages embedded once by the engine (cached in .bench)."""
    cached = dict(np.load(CACHE)) if CACHE.exists() else {}
    engine = E5Engine() if len(cached) < len(PUBLIC_SETS) else None
    corpora: dict[str, Corpus] = {}
    questions: list[Question] = []
    for name in PUBLIC_SETS:
        folder = PUBLIC / name
        rows = [json.loads(line) for line in (folder / "corpus.jsonl").read_text().splitlines()]
        if name not in cached:
            assert engine is not None
            # As benchmarks.retrieval ingests them: AFQMC's entries are short questions, embedded as such.
            texts = [f"{r['title']} {r['text']}".strip() for r in rows]
            cached[name] = engine.encode(texts, is_query=name.startswith("afqmc"))
            print(f"embedded {name}: {len(rows)} passages", file=sys.stderr)
        ids = {r["_id"]: n for n, r in enumerate(rows)}
        corpora[name] = Corpus(
            name, cached[name], np.zeros((0, cached[name].shape[1]), np.float32), np.zeros(0, np.int64)
        )
        relevant: dict[str, list[int]] = {}
        for line in (folder / "qrels" / "test.tsv").read_text().splitlines()[1:]:
            query, document, _ = line.split("\t")
            relevant.setdefault(query, []).append(ids[document])
        for line in (folder / "queries.jsonl").read_text().splitlines():
            query = json.loads(line)
            if query["_id"] in relevant:
                questions.append(
                    Question(
                        name,
                        f"public/{name}",
                        query["text"],
                        relevant[query["_id"]],
                        split_of(query["text"]) == "tune",
                    )
                )
    np.savez(CACHE, **cached)
    return corpora, questions


def encoder(rank: int) -> Any:
    """The bundled E5 in torch, frozen, with trainable low-rank additions to every layer's weights."""
    import torch
    from torch import nn

    class LowRank(nn.Module):  # type: ignore[misc, unused-ignore]
        def __init__(self, base: Any) -> None:
            super().__init__()
            self.base = base
            self.down = nn.Parameter(torch.randn(rank, base.in_features) / base.in_features**0.5)
            self.up = nn.Parameter(torch.zeros(base.out_features, rank))

        def forward(self, x: Any) -> Any:
            return self.base(x) + (x @ self.down.T) @ self.up.T

    model = reader_class()()
    for parameter in model.parameters():
        parameter.requires_grad = False
    for layer in model.layers:
        for name in ("qkv", "ao", "fi", "fo"):
            setattr(layer, name, LowRank(getattr(layer, name)))

    def encode(texts: list[str]) -> Any:
        sequences = []
        for text in texts:
            content = model.tokenizer.content_ids("query: " + text)
            if len(content) > QUESTION_TOKENS:
                content = content[:4] + content[4 - QUESTION_TOKENS :]
            sequences.append([model.bos, *content, model.eos])
        length = max(map(len, sequences))
        ids = np.full((len(sequences), length), model.pad, dtype=np.int64)
        for row, sequence in enumerate(sequences):
            ids[row, : len(sequence)] = sequence
        mask = torch.from_numpy(ids != model.pad)
        blocks = model.word_blocks[ids.ravel()]
        words = (nibbles(blocks).astype(np.float32) - 8.0) * scales(blocks)[:, :, None]
        x = model.norm(torch.from_numpy(words.reshape(*ids.shape, -1)) + model.positions[:length])
        padding = torch.zeros(len(sequences), 1, 1, length).masked_fill(~mask[:, None, None, :], -1e4)
        for layer in model.layers:
            x = layer(x, padding)
        weights = mask.float()[:, :, None]
        pooled = (x * weights).sum(1) / weights.sum(1)
        return nn.functional.normalize(pooled.float(), dim=-1)

    return model, encode


def dense_scores(corpus: Corpus, vectors: Any) -> Any:
    """Retrieval's dense score of every passage: the mean of its cosine and its closest sentence's."""
    import torch

    passages = vectors @ torch.from_numpy(corpus.passages).T
    if not len(corpus.sentences):
        return passages
    sentences = vectors @ torch.from_numpy(corpus.sentences).T
    owners = torch.from_numpy(corpus.owners).expand(len(vectors), -1)
    closest = torch.full_like(passages, -1.0).scatter_reduce(1, owners, sentences, "amax")
    return (passages + closest) / 2


def measure(
    corpora: dict[str, Corpus], questions: list[Question], encode: Any
) -> dict[str, dict[str, float]]:
    import torch

    figures: dict[str, dict[str, list[float]]] = {}
    with torch.no_grad():
        for start in range(0, len(questions), 64):
            batch = questions[start : start + 64]
            vectors = encode([q.text for q in batch])
            for q, vector in zip(batch, vectors, strict=True):
                scores = dense_scores(corpora[q.corpus], vector[None])[0].numpy()
                key = f"{q.group} {'tune' if q.tune else 'held-out'}"
                row = figures.setdefault(key, {"top1": [], "top5": [], "mrr": [], "best_a": [], "best_u": []})
                (row["best_a"] if q.relevant else row["best_u"]).append(float(scores.max()))
                if q.relevant:
                    order = np.argsort(-scores)
                    first = int(np.nonzero(np.isin(order, q.relevant))[0][0])
                    row["top1"].append(first == 0)
                    row["top5"].append(first < 5)
                    row["mrr"].append(1 / (first + 1))
    from sklearn.metrics import roc_auc_score

    report = {}
    for key, row in sorted(figures.items()):
        auc = (
            roc_auc_score([1] * len(row["best_a"]) + [0] * len(row["best_u"]), row["best_a"] + row["best_u"])
            if row["best_u"]
            else float("nan")
        )
        report[key] = {
            "n": len(row["top1"]),
            "top1": float(np.mean(row["top1"])),
            "top5": float(np.mean(row["top5"])),
            "mrr": float(np.mean(row["mrr"])),
            "answerable_auc": float(auc),
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--train",
        type=lambda s: set(s.split(",")),
        default={"shop", "bank", "telecom"},
        help="knowledge bases whose golden sets' tuning halves it learns from",
    )
    parser.add_argument("--public", action="store_true")
    parser.add_argument(
        "--also",
        type=lambda s: set(s.split(",")),
        default=set(),
        help="golden sets' tuning halves: shop/golden",
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--distil", type=float, default=10.0, help="weight of staying near the plain vectors")
    parser.add_argument("--out", type=Path, default=None, help="save the low-rank weights here (.npz)")
    args = parser.parse_args()
    import torch

    torch.manual_seed(0)
    random.seed(0)
    corpora, questions = sample_corpora()
    if args.public:
        extra_corpora, extra = public_corpora()
        corpora |= extra_corpora
        questions += extra
    model, encode = encoder(args.rank)
    engine = E5Engine()
    probe = [q.text for q in questions[:8]]
    agreement = (encode(probe).detach().numpy() * engine.encode(probe, is_query=True)).sum(1)
    print(f"torch twin vs engine, cosine: min {agreement.min():.5f}")
    before = measure(corpora, questions, encode)
    learners = [
        q
        for q in questions
        if q.tune and (q.corpus in args.train or q.group in args.also or q.group.startswith("public/"))
    ]
    print(f"training on {len(learners)} questions")
    with torch.no_grad():
        plain = {q.text: v for q in learners for v in encode([q.text])} if args.distil else {}
    # "No passage answers": a learned score every passage of an answerable question's right ones must beat,
    # and none of an unanswerable question's may, so that the best score still tells them apart.
    nothing = torch.nn.Parameter(torch.tensor(NOTHING_SCORE))
    trainable = [p for p in model.parameters() if p.requires_grad] + [nothing]
    optimiser = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.0)
    started = time.monotonic()
    for epoch in range(args.epochs):
        by_corpus: dict[str, list[Question]] = {}
        for q in learners:
            by_corpus.setdefault(q.corpus, []).append(q)
        batches = []
        for group in by_corpus.values():
            random.shuffle(group)
            batches += [group[i : i + BATCH] for i in range(0, len(group), BATCH)]
        random.shuffle(batches)
        losses = []
        for batch in batches:
            vectors = encode([q.text for q in batch])
            scores = dense_scores(corpora[batch[0].corpus], vectors)
            scores = torch.cat([scores, nothing.expand(len(batch), 1)], 1) / TEMPERATURE
            right = torch.zeros_like(scores, dtype=torch.bool)
            for row, q in enumerate(batch):
                right[row, q.relevant or [-1]] = True
            loss = (torch.logsumexp(scores, 1) - torch.logsumexp(scores.masked_fill(~right, -1e4), 1)).mean()
            if args.distil:  # stay near the plain encoder's vectors, which the knowledge's own words suit
                loss = (
                    loss
                    + args.distil
                    * (1 - (vectors * torch.stack([plain[q.text] for q in batch])).sum(1)).mean()
                )
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call, unused-ignore]
            optimiser.step()
            losses.append(loss.item())
        print(
            f"epoch {epoch + 1}: loss {np.mean(losses):.3f}, no-answer score {nothing.item():.3f}, "
            f"{time.monotonic() - started:.0f} s"
        )
    after = measure(corpora, questions, encode)
    print("\n| set | questions | top-1 | top-5 | MRR | answerable vs not, AUC of the best score |")
    print("|---|---|---|---|---|---|")
    for key in before:
        b, a = before[key], after[key]
        print(
            f"| {key} | {b['n']} | "
            + " | ".join(f"{b[f]:.3f} → {a[f]:.3f}" for f in ("top1", "top5", "mrr", "answerable_auc"))
            + " |"
        )
    if args.out:
        save_adapter(model, args.out)
        with np.load(args.out) as saved:
            tuned = E5Engine(question_adapter={n: saved[n].astype(np.float32) for n in saved.files})
        with torch.no_grad():
            agreement = (encode(probe).numpy() * tuned.encode(probe, is_query=True, tuned=True)).sum(1)
        print(f"saved {args.out}; the engine with it vs the torch twin, cosine: min {agreement.min():.5f}")


GRAPH_NAMES = {
    "qkv": "qkv",
    "ao": "attended",
    "fi": "inner",
    "fo": "out",
}  # as adapters/e5/graph.py names them


def save_adapter(model: Any, path: Path) -> None:
    """The low-rank weights under adapters/e5/graph.py's names (``l3.inner.down``), as float16."""
    weights = {}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:  # layers.3.fi.down
            _, layer, linear, part = name.split(".")
            weights[f"l{layer}.{GRAPH_NAMES[linear]}.{part}"] = parameter.detach().numpy().astype(np.float16)
    with path.open("wb") as file:  # np.savez would add ".npz" to another name
        np.savez(file, **weights)


if __name__ == "__main__":
    main()
