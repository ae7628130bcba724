"""Follow-ups: would reading more of a conversation's later turns in context answer more of them, and can a
confidence that knows how a turn was read keep the handoffs right? Offline, on the three sample knowledge
bases' conversation sets.

    python -m benchmarks.followup_study [--refresh] [--drafts FILE] [--fit-on FILE]

Every turn is drafted once in each reading the answer service can make of it, composed as if confident:
alone; in the context of the earlier turns (even when ``may_continue`` would not read it so); about the
earlier turns' subject. The earlier turns are replayed as the service answers them, and the passage the
previous answer cited is kept. ``--drafts`` (default .bench/followup-readings.jsonl) is drafted when
missing or with ``--refresh``, through the question adapter ``ZHIWEN_QUESTION_ADAPTER`` names.

Then, on the held-out halves: the service's choice of reading (the most confident context reading when
the message refers back or is more confident than alone) under two policies, context only when
``may_continue`` (today) or for every later turn, with the shipped confidence and with confidences refitted
on the shop's conversation tuning half with extra features. Those refits read ``--fit-on``'s drafts;
by default the same drafts, which is in-sample: the bundled adapter learned from those very questions.
For honest refits draft the fitting file through an adapter that never saw the shop's conversations:

    ZHIWEN_QUESTION_ADAPTER=FILE python -m benchmarks.followup_study --drafts .bench/followup-fit.jsonl
    python -m benchmarks.followup_study --fit-on .bench/followup-fit.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.answers import BENCH, SAMPLES, SETS, knowledge_base
from zhiwen.config import Settings
from zhiwen.services.answers.confidence import ConfidenceModel
from zhiwen.services.answers.followup import (
    Understood,
    about_subject,
    continued,
    may_continue,
    opens_new_topic,
    refers_back,
)
from zhiwen.services.answers.service import default_confidence
from zhiwen.services.lifecycle.golden import answered_right, load_golden, split_of
from zhiwen.wiring import build_services

DRAFTS = BENCH / "followup-readings.jsonl"
HANDOFF_BELOW = 0.5
Turn = dict[str, Any]
Reading = dict[str, Any]


def draft_turns(path: Path) -> None:
    with path.open("w") as out:
        for knowledge, (folder, _) in SETS.items():
            print(f"drafting {knowledge}/conversations", file=sys.stderr)
            services = build_services(Settings(data_dir=knowledge_base(knowledge)))
            answerer = services.answerer
            target = answerer.targets.working(services.workspaces.list_workspaces()[0].id)
            titles = services.retriever.subject_titles(target.knowledge_id).documents
            for item in load_golden(SAMPLES / folder / "conversations.jsonl"):
                previous, last = None, None
                for earlier in item.context:
                    last = answerer.draft(target, earlier, use_llm=False, previous=previous)
                    previous = last.understood
                readings = [("alone", Understood.alone(item.question))]
                # In context whatever may_continue says, unless the message announces a new topic.
                if previous is not None and not opens_new_topic(item.question):
                    context = continued(item.question, previous)
                    readings.append(("context", context))
                    if (subject := about_subject(context, titles)) is not None:
                        readings.append(("subject", subject))
                rows = []
                for kind, understood in readings:
                    # One given reading, as the service drafts each before choosing among them.
                    draft = answerer._draft(
                        target, understood, document_ids=None, tags=None, use_llm=False, calibrating=True
                    )
                    cited = draft.passages[0].chunk if draft.passages else None
                    sources = [c.source for c in draft.citations]
                    rows.append(
                        {
                            "kind": kind,
                            "features": [float(f) for f in draft.features],
                            "hits": bool(draft.retrieval.hits),
                            "right": item.answerable and answered_right(item, False, draft.text, sources),
                            "chunk": cited.id if cited else None,
                        }
                    )
                before = last.passages[0].chunk.id if last is not None and last.passages else None
                turn = {
                    "knowledge": knowledge,
                    "tune": split_of(item.split_key) == "tune",
                    "answerable": item.answerable,
                    "may_continue": may_continue(item.question),
                    "refers_back": refers_back(item.question),
                    "previous_chunk": before,
                    "readings": rows,
                }
                out.write(json.dumps(turn) + "\n")
            services.close()


Extras = Callable[[Reading, Turn], list[float]]
EXTRAS: dict[str, Extras] = {
    "none": lambda reading, turn: [],
    "read in context": lambda reading, turn: [float(reading["kind"] != "alone")],
    "read in context, cites the previous answer's passage": lambda reading, turn: [
        float(reading["kind"] != "alone"),
        float(reading["chunk"] is not None and reading["chunk"] == turn["previous_chunk"]),
    ],
}


class Shipped:
    def predict_proba(self, features: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return default_confidence().predict_proba(features)


def refitted(turns: list[Turn], extras: Extras) -> ConfidenceModel:
    rows = [
        (reading["features"] + extras(reading, turn), int(reading["right"]))
        for turn in turns
        if turn["knowledge"] == "shop" and turn["tune"]
        for reading in turn["readings"]
    ]
    return ConfidenceModel().fit(np.asarray([r[0] for r in rows]), np.asarray([r[1] for r in rows]))


def handled(turn: Turn, model: Any, extras: Extras, always: bool) -> tuple[float, bool]:
    """The confidence of the reading the service would choose, and whether its answer is right."""
    readings = turn["readings"] if always or turn["may_continue"] else turn["readings"][:1]
    confidence = [
        float(model.predict_proba(np.asarray([r["features"] + extras(r, turn)]))[0]) if r["hits"] else 0.0
        for r in readings
    ]
    chosen = 0
    if len(readings) > 1:
        best = 1 + int(np.argmax(confidence[1:]))
        if turn["refers_back"] or confidence[best] > confidence[0]:
            chosen = best
    return confidence[chosen], bool(readings[chosen]["right"])


def figures(turns: list[Turn], model: Any, extras: Extras, always: bool) -> dict[str, dict[str, float]]:
    report = {}
    for knowledge in SETS:
        done = [
            (t["answerable"], *handled(t, model, extras, always))
            for t in turns
            if t["knowledge"] == knowledge and not t["tune"]
        ]
        answerable = [(confidence, right) for a, confidence, right in done if a]
        unanswerable = sorted(confidence for a, confidence, _ in done if not a)
        at_recall = unanswerable[int(np.ceil(0.9 * len(unanswerable))) - 1] if unanswerable else 0.0
        report[knowledge] = {
            "answer_accuracy": sum(r and c >= HANDOFF_BELOW for c, r in answerable) / len(answerable),
            "handoff_recall": sum(c < HANDOFF_BELOW for c in unanswerable) / max(len(unanswerable), 1),
            "accuracy_at_recall_0.9": sum(r and c > at_recall for c, r in answerable) / len(answerable),
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--refresh", action="store_true", help="draft every turn again")
    parser.add_argument("--drafts", type=Path, default=DRAFTS)
    parser.add_argument("--fit-on", type=Path, default=None, help="drafts to refit on (default: --drafts)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.refresh or not args.drafts.exists():
        draft_turns(args.drafts)
    turns = [json.loads(line) for line in args.drafts.read_text().splitlines()]
    fitting = [json.loads(line) for line in (args.fit_on or args.drafts).read_text().splitlines()]
    report = {}
    for always in (False, True):
        policy = "every later turn in context" if always else "in context when may_continue (today)"
        report[f"{policy}, shipped confidence"] = figures(turns, Shipped(), EXTRAS["none"], always)
        for name, extras in EXTRAS.items():
            model = refitted(fitting, extras)
            report[f"{policy}, refitted, extra features: {name}"] = figures(turns, model, extras, always)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print("held-out conversation turns: accuracy / handoff recall / accuracy at handoff recall 0.9")
    print("| policy and confidence | " + " | ".join(SETS) + " |\n|---|" + "---|" * len(SETS))
    for name, sets in report.items():
        cells = [
            f"{f['answer_accuracy']:.3f} / {f['handoff_recall']:.3f} / {f['accuracy_at_recall_0.9']:.3f}"
            for f in sets.values()
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
