"""Where answers are lost, question by question: is the fact retrieved at all, in the chosen passage, in
the text shown, and was a right answer handed off?

    python -m benchmarks.answer_losses bank customers [--split held_out] [--top-k 5] [--json]

Uses the stores `python -m benchmarks.answers` builds (.bench/answers-{shop,bank,telecom}). Each answerable
question goes into the first bucket that applies; "fact" means one of its expected answers, found in a
chunk's text the way the golden set's check finds it in an answer.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections import Counter

from benchmarks.answers import BENCH, SAMPLES, SETS, knowledge_base
from zhiwen.config import Settings
from zhiwen.services.lifecycle.golden import answer_is_right, load_golden, split_of
from zhiwen.wiring import build_services

BUCKETS = (
    "answered right",
    "fact not retrieved",
    "retrieved, another passage chosen",
    "chosen passage has it, shown text lacks it",
    "composed right, handed off",
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("knowledge", choices=sorted(SETS))
    parser.add_argument("golden", choices=("golden", "customers", "conversations"))
    parser.add_argument("--split", default="held_out", choices=("held_out", "tune", "all"))
    parser.add_argument("--top-k", type=int, default=None, help="passages retrieved (default: the settings')")
    parser.add_argument("--json", action="store_true", help="one line per question, as JSON")
    args = parser.parse_args()
    folder = SETS[args.knowledge][0]
    services = build_services(Settings(data_dir=knowledge_base(args.knowledge)))
    workspace = services.workspaces.list_workspaces()[0]
    target = services.answerer.targets.working(workspace.id)
    if args.top_k:
        target = dataclasses.replace(target, config=target.config.with_overrides({"top_k": str(args.top_k)}))
    items = load_golden(SAMPLES / folder / f"{args.golden}.jsonl")
    items = [i for i in items if args.split == "all" or split_of(i.split_key) == args.split]
    buckets: Counter[str] = Counter()
    for item in (i for i in items if i.answerable and i.expected_answers):
        previous = services.answerer.understand(target, item.context)
        answer, draft = services.answerer.answer_with_draft(
            workspace.id, item.question, use_llm=False, record=False, target=target, previous=previous
        )
        retrieved = [answer_is_right(h.chunk.text, item.expected_answers) for h in draft.retrieval.hits]
        chosen = draft.choice.chosen.extract.hit.chunk.text if draft.choice else ""
        if not answer.handoff and answer_is_right(answer.text, item.expected_answers):
            bucket = BUCKETS[0]
        elif not any(retrieved):
            bucket = BUCKETS[1]
        elif not answer_is_right(chosen, item.expected_answers):
            bucket = BUCKETS[2]
        elif not answer_is_right(draft.text, item.expected_answers):
            bucket = BUCKETS[3]
        else:
            bucket = BUCKETS[4]
        buckets[bucket] += 1
        if args.json:
            line = {
                "question": item.question,
                "bucket": bucket,
                "confidence": round(draft.model_confidence, 3),
            }
            print(json.dumps(line, ensure_ascii=False))
    services.close()
    total = sum(buckets.values())
    if not args.json:
        print(f"{args.knowledge}/{args.golden} ({args.split}): {total} answerable questions, store {BENCH}")
        for bucket in BUCKETS:
            print(f"  {bucket:45} {buckets[bucket]:4}  {buckets[bucket] / max(total, 1):.3f}")


if __name__ == "__main__":
    main()
