"""Does the confidence generalise? The chooser and the confidence model refitted several ways, offline,
and scored on the held-out halves of the three sample knowledge bases.

    python -m benchmarks.answer_study [--refresh] [--json]

Every golden question (both halves, every set) is drafted once on the stores `python -m
benchmarks.answers` builds, and each retrieved passage's chooser features and whether an answer composed
from it is right are kept in .bench/answer-options.jsonl (`--refresh` drafts again: do it after changing
features or retrieval). Fitting then takes seconds, so ways of fitting can be compared on the same
drafts:

- shipped: the bundled models, as `zhiwen bench answers` scores them;
- shop: both refitted on the shop's tuning halves, as `make calibrate-default` does;
- leave-one-out: for each knowledge base, fitted on the other two's tuning halves. This is the honest
  figure for a company with no golden set: the models never saw its documents or its customers' words.

For each held-out set: answer accuracy at the handoff threshold 0.5, the share an answer composed from
the chosen passage gets right (the ceiling: accuracy if nothing were handed off), handoff recall, how
well the confidence separates right from wrong answers whatever the threshold (ROC AUC), and accuracy
at the threshold that hands off 90 % of the unanswerable questions (the target's recall).
Follow-ups are drafted with the shipped models' reading of the earlier turns.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import roc_auc_score

from benchmarks.answers import BENCH, SAMPLES, SETS, knowledge_base
from zhiwen.config import Settings
from zhiwen.services.answers.choice import NO_HITS_FEATURES, ChoiceModel, confidence_features, default_choice
from zhiwen.services.answers.confidence import ConfidenceModel, expected_calibration_error
from zhiwen.services.answers.service import default_confidence
from zhiwen.services.lifecycle.golden import answer_metrics, answered_right, load_golden, split_of
from zhiwen.wiring import build_services

DRAFTS = BENCH / "answer-options.jsonl"
HANDOFF_BELOW = 0.5
TARGET_RECALL = 0.9
NOTHING_READ = -10.0  # a reading model's logit for a question with no passage retrieved


@dataclass(frozen=True)
class Drafted:
    knowledge: str
    golden: str
    tune: bool
    answerable: bool
    options: list[list[float]]  # chooser features of each retrieved passage
    right: list[bool]  # an answer composed from that passage is right
    understood: str = ""  # the question as understood (a follow-up with its earlier turns)
    passages: list[str] = field(default_factory=list)  # each passage's headings and text
    # A reading model's score of each passage (benchmarks.reader_study); empty without one. Given, the
    # chooser reads it beside its features and the confidence reads the chosen one's and the best.
    read: list[float] = field(default_factory=list)

    def chooser_options(self) -> list[list[float]]:
        if not self.read:
            return self.options
        best = max(self.read)
        return [[*o, r, r - best] for o, r in zip(self.options, self.read, strict=True)]


def load_drafts(refresh: bool = False) -> list[Drafted]:
    """The drafts of every golden question, drafted again when ``refresh`` or when none are stored."""
    if refresh or not DRAFTS.exists():
        DRAFTS.write_text("".join(json.dumps(d.__dict__, ensure_ascii=False) + "\n" for d in draft_all()))
    return [Drafted(**json.loads(line)) for line in DRAFTS.read_text().splitlines()]


def draft_all() -> list[Drafted]:
    drafted = []
    for knowledge, (folder, files) in SETS.items():
        services = build_services(Settings(data_dir=knowledge_base(knowledge)))
        target = services.answerer.targets.working(services.workspaces.list_workspaces()[0].id)
        for golden in files:
            print(f"drafting {knowledge}/{golden}", file=sys.stderr)
            for item in load_golden(SAMPLES / folder / f"{golden}.jsonl"):
                previous = services.answerer.understand(target, item.context)
                draft = services.answerer.draft(
                    target, item.question, use_llm=False, calibrating=True, previous=previous
                )
                options = draft.choice.options if draft.choice else []
                drafted.append(
                    Drafted(
                        knowledge,
                        golden,
                        split_of(item.split_key) == "tune",
                        item.answerable,
                        [o.features for o in options],
                        [
                            answered_right(item, False, o.extract.passage, [o.extract.hit.document_source])
                            for o in options
                        ],
                        draft.understood.text,
                        [
                            f"{o.extract.hit.chunk.title_path} {o.extract.hit.chunk.question or ''} "
                            f"{o.extract.hit.chunk.text}"
                            for o in options
                        ],
                    )
                )
        services.close()
    return drafted


def chooser_rows(drafts: Sequence[Drafted]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = [
        (features, right, number)
        for number, d in enumerate(drafts)
        if d.answerable
        for features, right in zip(d.chooser_options(), d.right, strict=True)
    ]
    return (
        np.asarray([r[0] for r in rows], dtype=np.float64),
        np.asarray([int(r[1]) for r in rows]),
        np.asarray([r[2] for r in rows]),
    )


def confidence_rows(drafts: Sequence[Drafted], chooser: ChoiceModel) -> tuple[np.ndarray, np.ndarray]:
    """Each question's confidence features with ``chooser``, and whether its answer would be right."""
    features, right = [], []
    read = any(d.read for d in drafts)
    for d in drafts:
        if not d.options:
            features.append(NO_HITS_FEATURES + ([NOTHING_READ] * 2 if read else []))
            right.append(0)
            continue
        scores = chooser.scores(np.asarray(d.chooser_options(), dtype=np.float64)).tolist()
        best = int(np.argmax(scores))
        chosen = confidence_features(d.options[best], scores, best)
        features.append(chosen + ([d.read[best], max(d.read)] if read else []))
        right.append(int(d.answerable and d.right[best]))
    return np.asarray(features, dtype=np.float64), np.asarray(right)


def fitted(drafts: Sequence[Drafted]) -> tuple[ChoiceModel, ConfidenceModel]:
    chooser = ChoiceModel().fit(*chooser_rows(drafts))
    return chooser, ConfidenceModel().fit(*confidence_rows(drafts, chooser))


def scored(drafts: Sequence[Drafted], chooser: ChoiceModel, confidence: ConfidenceModel) -> dict[str, float]:
    features, right = confidence_rows(drafts, chooser)
    # As the service does: with nothing retrieved, the confidence is 0 whatever the model says.
    probability = np.where([bool(d.options) for d in drafts], confidence.predict_proba(features), 0.0)
    answerable = np.asarray([d.answerable for d in drafts])
    handoff = probability < HANDOFF_BELOW
    metrics = answer_metrics((right.astype(bool) & ~handoff).tolist(), handoff.tolist(), answerable.tolist())
    unanswerable = np.sort(probability[~answerable])
    at_recall = (
        unanswerable[int(np.ceil(TARGET_RECALL * len(unanswerable))) - 1] if len(unanswerable) else 0.0
    )
    return {
        "questions": len(drafts),
        "answer_accuracy": metrics["answer_accuracy"],
        "composed_right": float(right[answerable].mean()),
        "handoff_recall": metrics["handoff_recall"],
        "roc_auc": float(roc_auc_score(right, probability)) if 0 < right.sum() < len(right) else float("nan"),
        "accuracy_at_recall_0.9": float(((right == 1) & (probability > at_recall))[answerable].mean()),
        "calibration_error": expected_calibration_error(probability.tolist(), right.tolist()),
    }


Fitting = Callable[[str], tuple[ChoiceModel, ConfidenceModel]]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--refresh", action="store_true", help="draft every question again")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    drafts = load_drafts(args.refresh)
    tuning = [d for d in drafts if d.tune]
    shop = fitted([d for d in tuning if d.knowledge == "shop"])
    others = {k: fitted([d for d in tuning if d.knowledge != k]) for k in SETS}
    fittings: dict[str, Fitting] = {
        "shipped": lambda knowledge: (default_choice(), default_confidence()),
        "shop": lambda knowledge: shop,
        "leave-one-out": lambda knowledge: others[knowledge],
    }
    report: dict[str, dict[str, dict[str, float]]] = {}
    for name, fitting in fittings.items():
        report[name] = {}
        for knowledge, (_, files) in SETS.items():
            for golden in files:
                held_out = [
                    d for d in drafts if (d.knowledge, d.golden, d.tune) == (knowledge, golden, False)
                ]
                report[name][f"{knowledge}/{golden}"] = scored(held_out, *fitting(knowledge))
    if args.json:
        print(json.dumps(report, indent=2))
        return
    figures = list(next(iter(next(iter(report.values())).values())))
    for name, sets in report.items():
        print(f"\n{name} (held-out halves)\n| set | " + " | ".join(figures) + " |")
        print("|---|" + "---|" * len(figures))
        for key, values in sets.items():
            print(
                f"| {key} | "
                + " | ".join(f"{values[f]:.3f}" if f != "questions" else str(values[f]) for f in figures)
                + " |"
            )


if __name__ == "__main__":
    main()
