"""Would a model that reads question and passage together choose and judge answers better? Offline.

    pip install torch==2.13.0                      # not a dependency of Zhiwen; CPU wheel
    python -m benchmarks.answer_study --refresh    # drafts with texts (.bench/answer-options.jsonl)
    python -m benchmarks.reader_study train --train shop,bank --score telecom [--epochs 2] [--device cuda]
    python -m benchmarks.reader_study evaluate --test telecom

The reader is the bundled multilingual-e5-small (its 4-bit weights dequantised) fine-tuned whole as a
cross-encoder: ``<s> query: Q </s></s> passage: P </s>``, mean-pooled, one linear output, trained on whether
an answer composed from passage P is right for question Q (every retrieved passage of the golden questions'
tuning halves of the ``--train`` knowledge bases; an unanswerable question's passages are all wrong). It
then scores the passages of every question of the ``--score`` knowledge bases (both halves) and the
held-out halves of the ``--train`` ones, into .bench/reader-scores.json. ``--public`` adds pairs from the
public retrieval sets in ../shared/data (:func:`public_pairs`).

``evaluate`` compares, on the held-out halves of ``--test``, the chooser and the confidence model without
and with the reader's score: shipped; fitted on the test knowledge base's tuning half (a company that wrote
a golden set); fitted on the other knowledge bases' held-out halves (a company with none: the reader never
saw those halves, so its scores there are out-of-sample as they would be at a new company).
Two epochs on ~6,000 pairs take about 17 minutes on 2 CPU cores (bf16), well under a minute on a GPU.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score

from benchmarks.answer_study import Drafted, fitted, load_drafts, scored
from benchmarks.answers import BENCH
from zhiwen.adapters.e5.bundle import Bundle, bundled_model_path, nibbles, read_bundle, scales
from zhiwen.adapters.e5.engine import E5Engine
from zhiwen.adapters.e5.tokenizer import UnigramTokenizer
from zhiwen.services.answers.choice import CHOICE_FEATURES, default_choice
from zhiwen.services.answers.service import default_confidence
from zhiwen.text.sentences import split_sentences
from zhiwen.text.tokenize import char_bigrams, squeezed

SCORES = BENCH / "reader-scores.json"
PUBLIC = Path(__file__).resolve().parents[2] / "shared" / "data" / "retrieval"
PUBLIC_QUESTIONS = {"afqmc_train_faq": 1500, "stackfaq_dev": 635, "cmrc2018_trial": 1000}
NEGATIVES = 4  # the nearest passages (by E5) that are not labelled relevant
QUESTION_TOKENS = 48  # the prefix and the latest words of a longer (follow-up) question
PAIR_TOKENS = 160
BATCH_TOKENS = 2048


def reader_class() -> Any:
    """The torch module, defined only once torch is imported (it is not a dependency of Zhiwen)."""
    import torch
    from torch import nn
    from torch.nn import functional

    def dequantised(bundle: Bundle, name: str, columns: int) -> Any:
        blocks = bundle.q4_blocks(name, columns)
        weights = (nibbles(blocks).astype(np.float32) - 8.0) * scales(blocks)[:, :, None]
        return torch.from_numpy(weights.reshape(len(blocks), columns).copy())

    def floats(bundle: Bundle, *names: str) -> Any:
        return torch.from_numpy(np.concatenate([bundle.floats(name) for name in names]).copy())

    class Layer(nn.Module):  # type: ignore[misc, unused-ignore]  # torch is untyped where not installed
        """One post-norm transformer layer, as adapters/e5/graph.py builds it."""

        def __init__(self, bundle: Bundle, prefix: str) -> None:
            super().__init__()
            hidden, inner = bundle.hidden, bundle.intermediate
            self.heads = bundle.heads
            self.qkv, self.ao = nn.Linear(hidden, 3 * hidden), nn.Linear(hidden, hidden)
            self.fi, self.fo = nn.Linear(hidden, inner), nn.Linear(inner, hidden)
            self.aln, self.oln = nn.LayerNorm(hidden, eps=bundle.eps), nn.LayerNorm(hidden, eps=bundle.eps)
            self.qkv.weight.data = torch.cat([dequantised(bundle, f"{prefix}.{n}.w", hidden) for n in "qkv"])
            self.qkv.bias.data = floats(bundle, *(f"{prefix}.{n}.b" for n in "qkv"))
            for name, columns in (("ao", hidden), ("fi", hidden), ("fo", inner)):
                getattr(self, name).weight.data = dequantised(bundle, f"{prefix}.{name}.w", columns)
                getattr(self, name).bias.data = floats(bundle, f"{prefix}.{name}.b")
            for name in ("aln", "oln"):
                getattr(self, name).weight.data = floats(bundle, f"{prefix}.{name}.w")
                getattr(self, name).bias.data = floats(bundle, f"{prefix}.{name}.b")

        def forward(self, x: Any, padding: Any) -> Any:
            batch, length, hidden = x.shape
            shape = (batch, length, 3, self.heads, hidden // self.heads)
            q, k, v = self.qkv(x).view(*shape).permute(2, 0, 3, 1, 4)
            attended = functional.scaled_dot_product_attention(q, k, v, attn_mask=padding)
            x = self.aln(x + self.ao(attended.transpose(1, 2).reshape(batch, length, hidden)))
            return self.oln(x + self.fo(functional.gelu(self.fi(x))))

    class Reader(nn.Module):  # type: ignore[misc, unused-ignore]  # torch is untyped where not installed
        def __init__(self) -> None:
            super().__init__()
            bundle = read_bundle(bundled_model_path())
            hidden = bundle.hidden
            self.tokenizer = UnigramTokenizer(bundle.vocabulary)
            self.bos, self.eos, self.pad = bundle.vocabulary.bos, bundle.vocabulary.eos, bundle.vocabulary.pad
            self.word_blocks = bundle.q4_blocks("emb.word", hidden)  # looked up, never trained
            positions = bundle.floats("emb.pos").reshape(bundle.max_positions, hidden)
            self.positions = nn.Parameter(torch.from_numpy(positions + bundle.floats("emb.type")[:hidden]))
            self.norm = nn.LayerNorm(hidden, eps=bundle.eps)
            self.norm.weight.data, self.norm.bias.data = (
                floats(bundle, "emb.ln.w"),
                floats(bundle, "emb.ln.b"),
            )
            self.layers = nn.ModuleList(Layer(bundle, f"l{i}") for i in range(bundle.layers))
            self.out = nn.Linear(hidden, 1)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

        def pair(self, question: str, passage: str) -> list[int]:
            asked = self.tokenizer.content_ids("query: " + question)
            if len(asked) > QUESTION_TOKENS:
                asked = asked[:4] + asked[4 - QUESTION_TOKENS :]
            told = self.tokenizer.content_ids("passage: " + passage)[: PAIR_TOKENS - len(asked) - 4]
            return [self.bos, *asked, self.eos, self.eos, *told, self.eos]

        def forward(self, pairs: Sequence[list[int]]) -> Any:
            length = max(map(len, pairs))
            ids = np.full((len(pairs), length), self.pad, dtype=np.int64)
            for row, pair in enumerate(pairs):
                ids[row, : len(pair)] = pair
            device = self.positions.device
            mask = torch.from_numpy(ids != self.pad).to(device)
            blocks = self.word_blocks[ids.ravel()]
            words = (nibbles(blocks).astype(np.float32) - 8.0) * scales(blocks)[:, :, None]
            x = torch.from_numpy(words.reshape(*ids.shape, -1)).to(device) + self.positions[:length]
            x = self.norm(x)
            padding = torch.zeros(len(pairs), 1, 1, length, device=device).masked_fill(
                ~mask[:, None, None, :], -1e4
            )
            for layer in self.layers:
                x = layer(x, padding)
            weights = mask.float()[:, :, None]
            return self.out((x * weights).sum(1) / weights.sum(1)).squeeze(-1)

    return Reader


def batches(lengths: Sequence[int], tokens: int, shuffle: bool) -> Iterator[list[int]]:
    """Indices grouped by similar length under ``tokens`` padded tokens, in random order when training."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i] + (random.random() * 8 if shuffle else 0))
    groups: list[list[int]] = []
    for index in order:
        if groups and lengths[index] * (len(groups[-1]) + 1) <= tokens:
            groups[-1].append(index)
        else:
            groups.append([index])
    if shuffle:
        random.shuffle(groups)
    yield from groups


def public_pairs() -> list[tuple[str, str, bool]]:
    """(question, passage, answers) from the public retrieval sets: each question's labelled passage and
    its :data:`NEGATIVES` nearest unlabelled ones. CMRC's passages are Wikipedia articles' paragraphs, longer
    than the reader reads, so each becomes its sentences, and the one sharing the most character bigrams
    with the question (CMRC's questions are worded like their answer's sentence) is the right one. AFQMC
    leaves some paraphrases unlabelled, so a few of its "wrong" passages are right."""
    engine = E5Engine()
    pairs: list[tuple[str, str, bool]] = []
    for name, limit in PUBLIC_QUESTIONS.items():
        folder = PUBLIC / name
        rows = [json.loads(line) for line in (folder / "corpus.jsonl").read_text().splitlines()]
        questions = [json.loads(line) for line in (folder / "queries.jsonl").read_text().splitlines()]
        relevant: dict[str, set[str]] = {}
        for line in (folder / "qrels" / "test.tsv").read_text().splitlines()[1:]:
            query, document, _ = line.split("\t")
            relevant.setdefault(query, set()).add(document)
        questions = [q for q in questions if q["_id"] in relevant][:limit]
        if name.startswith("cmrc"):
            texts = {r["_id"]: split_sentences(r["text"]) for r in rows}
            for question in questions:
                (document,) = relevant[question["_id"]]
                bigrams = char_bigrams(squeezed(question["text"]))
                shared = [len(bigrams & char_bigrams(squeezed(t))) for t in texts[document]]
                ranked = [texts[document][i] for i in np.argsort(shared)[::-1]]
                pairs.append((question["text"], ranked[0], True))
                pairs.extend((question["text"], t, False) for t in ranked[1 : 1 + NEGATIVES])
        else:
            passages = [f"{r['title']} {r['text']}".strip() for r in rows]
            ids = [r["_id"] for r in rows]
            vectors = engine.encode(passages)
            asked = engine.encode([q["text"] for q in questions], is_query=True)
            for question, order in zip(questions, np.argsort(-(asked @ vectors.T), axis=1), strict=True):
                right = relevant[question["_id"]]
                pairs.append((question["text"], passages[ids.index(sorted(right)[0])], True))
                wrong = [i for i in order[: NEGATIVES + len(right)] if ids[i] not in right][:NEGATIVES]
                pairs.extend((question["text"], passages[i], False) for i in wrong)
        print(f"{name}: {len(questions)} questions", file=sys.stderr)
    return pairs


def train(args: argparse.Namespace) -> None:
    import torch
    from torch.nn import functional

    torch.manual_seed(0)
    random.seed(0)
    drafts = load_drafts()
    if not any(d.passages for d in drafts):
        sys.exit("the drafts have no passages: run `python -m benchmarks.answer_study --refresh` first")
    reader = reader_class()().to(args.device)
    learners = [
        d for d in drafts if d.knowledge in args.train and d.tune and d.passages
    ]  # every passage of a tuning question, right or not
    pairs = [reader.pair(d.understood, p) for d in learners for p in d.passages]
    labels = [float(r) for d in learners for r in d.right]
    if args.public:
        extra = public_pairs()
        pairs += [reader.pair(question, passage) for question, passage, _ in extra]
        labels += [float(right) for _, _, right in extra]
    print(f"training on {len(pairs)} pairs ({int(sum(labels))} right), {sum(map(len, pairs))} tokens")
    body = [p for name, p in reader.named_parameters() if not name.startswith("out.")]
    optimiser = torch.optim.AdamW(
        [{"params": body, "lr": 3e-5}, {"params": reader.out.parameters(), "lr": 1e-3}], weight_decay=0.01
    )
    steps = args.epochs * len(list(batches([len(p) for p in pairs], BATCH_TOKENS, False)))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / (0.06 * steps)) * max(0.0, 1 - step / steps)
    )
    autocast = torch.autocast(args.device, dtype=torch.bfloat16)
    started = time.monotonic()
    for epoch in range(args.epochs):
        reader.train()
        losses = []
        for batch in batches([len(p) for p in pairs], BATCH_TOKENS, True):
            with autocast:
                logits = reader([pairs[i] for i in batch])
            truth = torch.tensor([labels[i] for i in batch], device=args.device)
            loss = functional.binary_cross_entropy_with_logits(logits.float(), truth)
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call, unused-ignore]
            torch.nn.utils.clip_grad_norm_(reader.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
        print(f"epoch {epoch + 1}: loss {np.mean(losses):.4f}, {time.monotonic() - started:.0f} s")
    reader.eval()
    readers = [
        (n, d)
        for n, d in enumerate(drafts)
        if d.passages and (d.knowledge in args.score or (d.knowledge in args.train and not d.tune))
    ]
    todo = [(n, j, reader.pair(d.understood, p)) for n, d in readers for j, p in enumerate(d.passages)]
    scores: dict[int, list[float]] = {n: [0.0] * len(d.passages) for n, d in readers}
    with torch.no_grad(), autocast:
        for batch in batches([len(t[2]) for t in todo], 2 * BATCH_TOKENS, False):
            for i, logit in zip(batch, reader([todo[i][2] for i in batch]).float().tolist(), strict=True):
                scores[todo[i][0]][todo[i][1]] = logit
    SCORES.write_text(json.dumps({"train": sorted(args.train), "scores": scores}))
    print(f"scored {len(todo)} passages in {time.monotonic() - started:.0f} s in all → {SCORES}")


def evaluate(args: argparse.Namespace) -> None:
    saved = json.loads(SCORES.read_text())
    scores = {int(n): s for n, s in saved["scores"].items()}
    drafts = load_drafts()
    if args.test in saved["train"]:
        sys.exit(
            f"the reader was trained on {args.test}'s tuning half: test on a knowledge base it never saw"
        )
    read = [replace(d, read=scores[n]) if n in scores else replace(d, read=[]) for n, d in enumerate(drafts)]

    def part(items: list[Drafted], knowledge: str, tune: bool, golden: str | None = None) -> list[Drafted]:
        return [
            d for d in items if d.knowledge == knowledge and d.tune == tune and golden in (None, d.golden)
        ]

    sets = sorted({d.golden for d in drafts if d.knowledge == args.test})
    for golden in sets:
        pairs = [
            (right, score, option[CHOICE_FEATURES.index("sentence")])
            for d in part(read, args.test, False, golden)
            if d.answerable
            for right, score, option in zip(d.right, d.read, d.options, strict=True)
        ]
        right: npt.NDArray[np.int_] = np.asarray([p[0] for p in pairs], dtype=int)
        chosen = [
            d.right[int(np.argmax(d.read))]
            for d in part(read, args.test, False, golden)
            if d.answerable and d.read
        ]
        print(
            f"{args.test}/{golden} held-out, passages of answerable questions: ROC AUC of the reader "
            f"{roc_auc_score(right, [p[1] for p in pairs]):.3f}, of the closest sentence's cosine "
            f"{roc_auc_score(right, [p[2] for p in pairs]):.3f}; right when the reader alone chooses "
            f"{np.mean(chosen):.3f}"
        )
    others = list(saved["train"])
    plain = [replace(d, read=[]) for d in drafts]
    fittings = {
        "shipped": (plain, None),
        f"fitted on {args.test}'s tuning half": (plain, part(plain, args.test, True)),
        "… and the reader": (read, part(read, args.test, True)),
        f"fitted on {'+'.join(others)}'s held-out halves": (
            plain,
            [d for k in others for d in part(plain, k, False)],
        ),
        "… and the reader, no golden set": (read, [d for k in others for d in part(read, k, False)]),
    }
    figures = ("answer_accuracy", "composed_right", "handoff_recall", "roc_auc", "accuracy_at_recall_0.9")
    print("\n| fitting | set | " + " | ".join(figures) + " |\n|---|---|" + "---|" * len(figures))
    for name, (items, learn) in fittings.items():
        models = (default_choice(), default_confidence()) if learn is None else fitted(learn)
        for golden in sets:
            values = scored(part(items, args.test, False, golden), *models)
            print(f"| {name} | {golden} | " + " | ".join(f"{values[f]:.3f}" for f in figures) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    learn = commands.add_parser("train", help="fine-tune the reader and score passages")
    learn.add_argument("--train", type=lambda s: set(s.split(",")), default={"shop", "bank"})
    learn.add_argument("--score", type=lambda s: set(s.split(",")), default={"telecom"})
    learn.add_argument("--epochs", type=int, default=2)
    learn.add_argument("--device", default="cpu", help="cpu, or cuda where a GPU is lent")
    learn.add_argument("--public", action="store_true", help="also train on pairs from ../shared/data")
    judge = commands.add_parser("evaluate", help="compare the answers without and with the reader")
    judge.add_argument("--test", default="telecom")
    args = parser.parse_args()
    if args.command == "train":
        train(args)
    else:
        evaluate(args)


if __name__ == "__main__":
    main()
