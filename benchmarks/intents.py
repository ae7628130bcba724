"""Intents: accuracy and out-of-scope detection on BANKING77, training time, the cost per message, and what
the demo's built-in intents do with customers' ordinary questions.

    python -m benchmarks.intents ../shared/data/intent/banking77 [--json]

1. All 77 intents: train through ``IntentService`` (embedding, cross-validation, held-out fifth, final fit)
   and score the official test split.
2. Out of scope: the 10 intents at positions 0, 8, …, 72 of the sorted names are left out of training; their
   test messages must be rejected (out of scope), the other 67 intents' messages classified right.
3. The demo: the built-in intents and the sample shop's own questions (FAQ entries and the knowledge-worded
   "demo" golden set, as `make run` loads them); how many of the realistic customer
   questions (shop and telecom, never used for intents) an intent would take away from the knowledge base,
   and accuracy on ``benchmarks/data/intent_messages.csv`` (40 messages for the built-in intents, written
   apart from their examples but by the same team: treat it as near in-sample).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import machine, percentile
from zhiwen.config import Settings
from zhiwen.sample_kb import build_sample_kb
from zhiwen.services.intents.builtin import KNOWLEDGE
from zhiwen.services.intents.definitions import parse_intents
from zhiwen.wiring import Services, build_services

HELD_OUT_EVERY = 8
HELD_OUT_COUNT = 10
HERE = Path(__file__).parent
REALISTIC = [
    HERE.parent / "src/zhiwen/sample_kb/customers.jsonl",
    HERE.parent / "src/zhiwen/sample_telecom/customers.jsonl",
    HERE.parent / "src/zhiwen/sample_kb/conversations.jsonl",
    HERE.parent / "src/zhiwen/sample_telecom/conversations.jsonl",
]


def _rows(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8") as handle:
        # intent names are lower-case letters, digits and _ (BANKING77 has "reverted_card_payment?")
        return [(r["text"], re.sub(r"[^a-z0-9_]", "", r["label"].lower())) for r in csv.DictReader(handle)]


def _intents(rows: Sequence[tuple[str, str]], names: set[str]) -> list[dict[str, Any]]:
    grouped: dict[str, list[str]] = {}
    for text, label in rows:
        if label in names:
            grouped.setdefault(label, []).append(text)
    return [{"name": n, "action": "reply", "reply": n, "examples": e} for n, e in sorted(grouped.items())]


def _train(services: Services, name: str, intents: list[dict[str, Any]]) -> dict[str, Any]:
    workspace = services.workspaces.create_workspace(name)
    services.intents.replace(workspace.id, parse_intents(intents))
    started = time.perf_counter()
    texts, _ = services.intents.training_examples(workspace.id)
    services.intents.vectors(workspace.id, texts)
    embed_s = time.perf_counter() - started
    model = services.intents.train(workspace.id, "bench")
    services.intents.promote(workspace.id, model.version, "bench")
    return {
        "workspace": workspace.id,
        "embed_s": round(embed_s, 1),
        "train_s": model.report["seconds"],
        "report": model.report,
    }


def _classify(
    services: Services, workspace_id: str, rows: Sequence[tuple[str, str]], embedded: bool = False
) -> tuple[list[str], list[float]]:
    """Each message's intent and the milliseconds it took; ``embedded``: the message's vector is already
    in the query cache, as in an ask, where retrieval embeds the same message."""
    names, costs = [], []
    for text, _ in rows:
        if embedded:
            services.embedder.embed_queries([text])
        started = time.perf_counter()
        match = services.intents.match(workspace_id, text)
        costs.append((time.perf_counter() - started) * 1000)
        assert match is not None
        names.append(match.name)
    return names, costs


def banking(services: Services, folder: Path) -> dict[str, Any]:
    train_rows, test_rows = _rows(folder / "train.csv"), _rows(folder / "test.csv")
    labels = sorted({label for _, label in train_rows})
    print(
        f"BANKING77: {len(train_rows):,} training and {len(test_rows):,} test messages,"
        f" {len(labels)} intents",
        file=sys.stderr,
    )
    full = _train(services, "banking77", _intents(train_rows, set(labels)))
    print(f"  all intents: embedded in {full['embed_s']} s, trained in {full['train_s']} s", file=sys.stderr)
    predicted, costs = _classify(services, full["workspace"], test_rows)
    accuracy = sum(p == t for p, (_, t) in zip(predicted, test_rows, strict=True)) / len(test_rows)
    _, cached = _classify(services, full["workspace"], test_rows[:500], embedded=True)
    held = set(labels[::HELD_OUT_EVERY][:HELD_OUT_COUNT])
    part = _train(services, "banking77-oos", _intents(train_rows, set(labels) - held))
    print(f"  without {len(held)} intents: trained in {part['train_s']} s", file=sys.stderr)
    inside = [(t, y) for t, y in test_rows if y not in held]
    outside = [(t, y) for t, y in test_rows if y in held]
    named, _ = _classify(services, part["workspace"], inside)
    rejected, _ = _classify(services, part["workspace"], outside)
    live = services.intents.live_model(part["workspace"])
    assert live is not None
    model = live[1].model
    vectors = services.embedder.embed_queries([t for t, _ in inside])
    best = model.predict([t for t, _ in inside], vectors)
    return {
        "accuracy": round(accuracy, 4),
        "train_s": full["train_s"],
        "embed_s": full["embed_s"],
        "weight": full["report"]["weight"],
        "cross_validation": full["report"]["cross_validation"],
        "match_ms_p50": round(percentile(costs, 50), 2),
        "match_ms_p95": round(percentile(costs, 95), 2),
        "match_cached_ms_p50": round(percentile(cached, 50), 2),
        "oos": {
            "held_out_intents": sorted(held),
            "threshold": part["report"]["threshold"],
            "in_scope_accuracy_without_threshold": round(
                sum(b == y for b, (_, y) in zip(best, inside, strict=True)) / len(inside), 4
            ),
            "in_scope_accuracy": round(
                sum(n == y for n, (_, y) in zip(named, inside, strict=True)) / len(inside), 4
            ),
            "oos_recall": round(sum(n == KNOWLEDGE for n in rejected) / len(outside), 4),
            "messages": {"in_scope": len(inside), "out_of_scope": len(outside)},
        },
    }


def demo(services: Services) -> dict[str, Any]:
    workspace = services.workspaces.create_workspace("demo")
    folder = build_sample_kb(Path(tempfile.mkdtemp(prefix="zhiwen-kb-")))
    services.ingest.ingest_paths(
        workspace.id, sorted(p for p in folder.iterdir() if p.is_file()), base=folder
    )
    model = services.intents.train(workspace.id, "bench")
    services.intents.promote(workspace.id, model.version, "bench")
    captured: dict[str, dict[str, Any]] = {}
    for path in REALISTIC:
        questions = []
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            questions += [t["question"] for t in record.get("turns", [record])]
        names, _ = _classify(services, workspace.id, [(q, "") for q in questions])
        taken = [(q, n) for q, n in zip(questions, names, strict=True) if n != KNOWLEDGE]
        captured[f"{path.parent.name}/{path.name}"] = {
            "questions": len(questions),
            "taken_by_an_intent": len(taken),
            "share": round(len(taken) / len(questions), 4),
            "examples": taken[:8],
        }
    messages = [(r["text"], r["intent"]) for r in csv.DictReader((HERE / "data/intent_messages.csv").open())]
    names, _ = _classify(services, workspace.id, messages)
    wrong = [(t, y, n) for n, (t, y) in zip(names, messages, strict=True) if n != y]
    return {
        "examples": model.report["examples"],
        "held_out_accuracy": model.report["held_out"]["accuracy"],
        "captured": captured,
        "intent_messages_accuracy": round(1 - len(wrong) / len(messages), 4),
        "intent_messages_wrong": wrong,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("banking77", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    services = build_services(Settings(data_dir=Path(tempfile.mkdtemp(prefix="zhiwen-intents-"))))
    try:
        result: dict[str, Any] = {
            "machine": machine(),
            "demo": demo(services),
            "banking77": banking(services, args.banking77),
        }
    finally:
        services.close()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    b, o, d = result["banking77"], result["banking77"]["oos"], result["demo"]
    print(f"\n{result['machine']}")
    print(
        f"BANKING77 test accuracy {b['accuracy']:.4f}"
        f" (blend weight {b['weight']}, CV {b['cross_validation']})"
    )
    print(
        f"  training {b['train_s']} s after embedding {b['embed_s']} s (later trainings reuse the embeddings)"
    )
    print(
        f"  per message: {b['match_ms_p50']} ms p50, {b['match_ms_p95']} ms p95 with its embedding;"
        f" {b['match_cached_ms_p50']} ms p50 when the ask already embedded it"
    )
    print(
        f"  out of scope ({', '.join(o['held_out_intents'])}): recall {o['oos_recall']:.4f};"
        f" in-scope accuracy {o['in_scope_accuracy_without_threshold']:.4f} → {o['in_scope_accuracy']:.4f}"
        f" with the threshold {o['threshold']}"
    )
    print(
        f"Demo: {d['examples']} examples, held-out accuracy {d['held_out_accuracy']};"
        " built-in intent messages"
        f" {d['intent_messages_accuracy']:.4f}"
    )
    for name, c in d["captured"].items():
        print(
            f"  {name}: {c['taken_by_an_intent']}/{c['questions']} ordinary questions taken by an intent"
            f" ({c['share']:.2%}) e.g. {c['examples'][:4]}"
        )
    for wrong in d["intent_messages_wrong"]:
        print(f"  wrong: {wrong}")


if __name__ == "__main__":
    main()
