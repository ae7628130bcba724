"""Evaluation runs: a golden set (or one split of it) answered by a target, scored per question, stored.

Metrics per question: retrieval against the expected documents (Recall@k, reciprocal rank, nDCG@k at
document level), the answer against the reference (contains-the-fact "right", exact match and token F1 after
normalisation, and an LLM judge's verdict when an LLM is configured), the citation, the handoff decision,
confidence and latency. The summary aggregates them; two runs compare question by question.
"""

from __future__ import annotations

import math
import re
import secrets
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from zhiwen.errors import BackendUnavailable, InvalidInput
from zhiwen.ports import LLM, EvalStore
from zhiwen.services.answers.confidence import expected_calibration_error, reliability_table
from zhiwen.services.answers.service import AnswerService
from zhiwen.services.lifecycle.golden import GoldenItem, answer_metrics, answered_right, cited_right, split_of
from zhiwen.services.lifecycle.golden_sets import GoldenSetService
from zhiwen.services.lifecycle.metrics import percentile
from zhiwen.services.lifecycle.targets import Target
from zhiwen.services.trust.privacy import outward
from zhiwen.text.normalize import squash
from zhiwen.types import EvalRun, GoldenSetVersion, utc_now

SPLITS = ("held_out", "tune", "all")
_CITATION_MARK = re.compile(r"\s*\[\d{1,2}\]")
_TOKEN = re.compile(r"[\u3400-\u9fff]|[a-z0-9]+")
UNTHRESHOLDED_MODES = ("handoff", "curated", "reply", "tool")  # decided before confidence is looked at
GATED_METRICS = ("answer_accuracy", "citation_accuracy", "handoff_precision", "handoff_recall")


def answer_tokens(text: str) -> list[str]:
    """Characters for Chinese (the CMRC/SQuAD-zh convention) and lower-cased words for English."""
    return _TOKEN.findall(_CITATION_MARK.sub("", text).lower())


def token_f1(answer: str, expected: Sequence[str]) -> float:
    best = 0.0
    got = Counter(answer_tokens(answer))
    for reference in expected:
        want = Counter(answer_tokens(reference))
        common = sum((got & want).values())
        if common:
            precision, recall = common / sum(got.values()), common / sum(want.values())
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def exact_match(answer: str, expected: Sequence[str]) -> bool:
    text = squash(_CITATION_MARK.sub("", answer))
    return any(squash(e) == text for e in expected)


def retrieval_scores(ranked_sources: Sequence[str], relevant: Sequence[str], k: int) -> dict[str, float]:
    """Document-level Recall@k, reciprocal rank and binary nDCG@k of a ranked list of sources."""
    ranked = list(dict.fromkeys(ranked_sources))[:k]
    wanted = set(relevant)
    gains = [1.0 if s in wanted else 0.0 for s in ranked]
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(wanted), k)))
    first = next((i for i, g in enumerate(gains) if g), None)
    return {
        "recall": sum(gains) / len(wanted) if wanted else 0.0,
        "rr": 0.0 if first is None else 1.0 / (first + 1),
        "ndcg": sum(g / math.log2(i + 2) for i, g in enumerate(gains)) / ideal if ideal else 0.0,
    }


def _judge(llm: LLM, question: str, references: Sequence[str], answer: str) -> bool | None:
    prompt = (
        "You grade a customer-service answer against reference facts. Reply with exactly YES if the answer "
        "states the reference fact correctly (extra detail is fine), otherwise NO.\n"
        f"Question: {outward(question)}\nReference: {' / '.join(references)}\nAnswer: {answer}"
    )
    try:
        reply = llm.chat([{"role": "user", "content": prompt}], max_tokens=5).strip().upper()
    except BackendUnavailable:
        return None
    return reply.startswith("YES") if reply[:3] in ("YES", "NO") or reply.startswith("NO") else None


def summarise(results: Sequence[dict[str, Any]], k: int) -> dict[str, Any]:
    metrics = answer_metrics(
        [r["right"] for r in results], [r["handoff"] for r in results], [r["answerable"] for r in results]
    )
    answerable = [r for r in results if r["answerable"]]
    with_documents = [r for r in answerable if r["expected_documents"]]
    judged = [r for r in answerable if r["judge"] is not None]
    precision, recall = metrics["handoff_precision"], metrics["handoff_recall"]
    latencies = [r["latency_ms"] for r in results]
    by_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        by_category[r["category"] or "(none)"].append(r)

    # Calibration compares confidence with whether the composed answer was right, handed off or not: a
    # handoff is the decision taken *from* the confidence, not evidence about it.
    confidences = [float(r["confidence"]) for r in results]
    composed = [int(r.get("composed_right", r["right"])) for r in results]

    def mean(rows: Sequence[dict[str, Any]], key: str) -> float:
        return sum(float(r[key]) for r in rows) / len(rows) if rows else 0.0

    return {
        "questions": len(results),
        "answerable": len(answerable),
        "unanswerable": len(results) - len(answerable),
        **metrics,
        "handoff_f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "exact_match": mean(answerable, "exact"),
        "token_f1": mean(answerable, "f1"),
        "judge_accuracy": mean(judged, "judge") if judged else None,
        "citation_accuracy": sum(r["cited_right"] for r in with_documents) / max(len(with_documents), 1),
        "k": k,
        "recall_at_k": mean(with_documents, "recall"),
        "mrr": mean(with_documents, "rr"),
        "ndcg_at_k": mean(with_documents, "ndcg"),
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p95_ms": percentile(latencies, 95),
        "ece": expected_calibration_error(confidences, composed),
        "reliability": reliability_table(confidences, composed),
        "by_category": {
            name: {
                "questions": len(rows),
                # None where no question of the category has an answer (a category of unanswerable ones)
                "answer_accuracy": mean(answerable_rows, "right")
                if (answerable_rows := [r for r in rows if r["answerable"]])
                else None,
                "handoffs": sum(r["handoff"] for r in rows),
            }
            for name, rows in sorted(by_category.items())
        },
    }


def handoff_curve(run: EvalRun, results: Sequence[dict[str, Any]], steps: int = 100) -> dict[str, Any]:
    """What each handoff threshold would have done on this run's questions: the share handed to a person,
    how many answered ones are right, and answer accuracy on the answerable ones.

    A question the threshold decides is answered at threshold t when its confidence reaches t, with the
    answer composed before the decision; the others (curated answers, intents' actions, empty searches)
    keep what the run did. Runs stored before ``threshold_applies`` existed count a handoff at or above
    the run's own threshold as decided elsewhere.
    """
    used = float(run.summary.get("settings", {}).get("handoff_below", 0.5))
    rows = []
    for r in results:
        confidence = float(r["confidence"])
        applies = r.get("threshold_applies", not (r["handoff"] and confidence >= used))
        rows.append(
            (
                confidence if applies else None,  # None: answered or not whatever the threshold
                bool(r["handoff"]),
                bool(r.get("composed_right", r["right"])) if applies else bool(r["right"]),
                bool(r["answerable"]),
            )
        )
    answerable = sum(1 for *_, a in rows if a)
    points = []
    for step in range(steps + 1):
        threshold = step / steps
        answered = [
            (right, a)
            for confidence, handed_off, right, a in rows
            if (not handed_off if confidence is None else confidence >= threshold)
        ]
        right_answers = sum(1 for right, _ in answered if right)
        points.append(
            {
                "threshold": round(threshold, 4),
                "handoff_share": 1 - len(answered) / len(rows) if rows else 0.0,
                "answered_accuracy": right_answers / len(answered) if answered else None,
                "answer_accuracy": sum(1 for right, a in answered if right and a) / answerable
                if answerable
                else None,
            }
        )
    return {"run_id": run.id, "questions": len(rows), "threshold_now": used, "points": points}


def select_split(items: Sequence[GoldenItem], split: str) -> list[GoldenItem]:
    if split not in SPLITS:
        raise InvalidInput(f"unknown split {split!r}: use {', '.join(SPLITS)}")
    chosen = [i for i in items if split == "all" or split_of(i.split_key) == split]
    if not chosen:
        raise InvalidInput(f"the {split} split of this golden set is empty; add more questions")
    return chosen


class EvalService:
    def __init__(
        self, answerer: AnswerService, golden: GoldenSetService, store: EvalStore, llm: LLM | None = None
    ) -> None:
        self._answerer = answerer
        self._golden = golden
        self._store = store
        self._llm = llm

    def run(
        self,
        target: Target,
        golden: str,
        version: int | None = None,
        split: str = "held_out",
        judge: bool = True,
        on_progress: Callable[[int, int], None] = lambda done, total: None,
    ) -> EvalRun:
        info, items = self._golden.items(target.workspace_id, golden, version)
        return self.run_items(target, info.id, items, split, judge, on_progress)

    def run_items(
        self,
        target: Target,
        golden_set_id: str,
        items: Sequence[GoldenItem],
        split: str = "held_out",
        judge: bool = True,
        on_progress: Callable[[int, int], None] = lambda done, total: None,
    ) -> EvalRun:
        chosen = select_split(items, split)
        k = target.config.top_k
        results = []
        for done, item in enumerate(chosen, start=1):
            results.append(self._score(target, item, k, judge))
            on_progress(done, len(chosen))
        run = EvalRun(
            id="run_" + secrets.token_hex(6),
            workspace_id=target.workspace_id,
            golden_set_id=golden_set_id,
            target=target.label,
            split=split,
            summary={**summarise(results, k), "settings": target.config.settings()},
            created_at=utc_now(),
        )
        self._store.save_run(run, results)
        return run

    def _score(self, target: Target, item: GoldenItem, k: int, judge: bool) -> dict[str, Any]:
        answer, draft = self._answerer.answer_with_draft(
            target.workspace_id,
            item.question,
            record=False,
            target=target,
            use_llm=self._llm is not None,
            previous=self._answerer.understand(target, item.context),
        )
        draft_sources = [c.source for c in answer.citations]
        ranked = [h.document_source for h in draft.retrieval.hits]
        # What confidence claims to predict: whether the answer composed before the handoff decision is right.
        composed_right = answered_right(
            item, draft.mode == "handoff", draft.text, [c.source for c in draft.citations]
        )
        answered = item.answerable and not answer.handoff
        verdict = None
        if judge and self._llm is not None and answered and item.expected_answers:
            verdict = _judge(self._llm, item.question, item.expected_answers, answer.text)
        return {
            "question": item.question,
            "category": item.category,
            "answerable": item.answerable,
            "expected_answers": list(item.expected_answers),
            "expected_documents": list(item.expected_documents),
            "answer": answer.text,
            "mode": answer.mode,
            "handoff": answer.handoff,
            "confidence": answer.confidence,
            # Whether the handoff threshold decided this one (not a curated answer, an intent's action or
            # an empty search): what replaying other thresholds may change.
            "threshold_applies": draft.mode not in UNTHRESHOLDED_MODES,
            "right": answered_right(item, answer.handoff, answer.text, draft_sources),
            "composed_right": composed_right,
            "exact": answered
            and bool(item.expected_answers)
            and exact_match(answer.text, item.expected_answers),
            "f1": token_f1(answer.text, item.expected_answers) if answered else 0.0,
            "judge": verdict,
            "cited_right": answered and cited_right(draft_sources, item),
            "sources": ranked,
            **retrieval_scores(ranked, item.expected_documents, k),
            "latency_ms": answer.timings_ms.get("total", 0.0),
        }

    def check_golden(self, workspace_id: str, golden: str, split: str = "held_out") -> None:
        """Fail now, before any work, when ``golden`` is missing or its ``split`` is empty."""
        _, items = self._golden.items(workspace_id, golden)
        select_split(items, split)

    def golden_items(
        self, workspace_id: str, golden_set_id: str
    ) -> tuple[GoldenSetVersion, list[GoldenItem]]:
        return self._golden.items_by_id(workspace_id, golden_set_id)

    def get(self, workspace_id: str, run_id: str) -> tuple[EvalRun, list[dict[str, Any]]]:
        return self._store.get_run(workspace_id, run_id)

    def list_runs(self, workspace_id: str) -> list[EvalRun]:
        return self._store.list_runs(workspace_id)

    def compare(self, workspace_id: str, before_id: str, after_id: str) -> dict[str, Any]:
        before, before_results = self.get(workspace_id, before_id)
        after, after_results = self.get(workspace_id, after_id)
        return compare_results(before, before_results, after, after_results)


def _outcome_ok(result: dict[str, Any]) -> bool:
    return bool(result["right"]) if result["answerable"] else bool(result["handoff"])


def compare_results(
    before: EvalRun,
    before_results: Sequence[dict[str, Any]],
    after: EvalRun,
    after_results: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """Question by question: which got better (now right, or now correctly handed off), which got worse."""
    old = {r["question"]: r for r in before_results}
    better: list[dict[str, Any]] = []
    worse: list[dict[str, Any]] = []
    for result in after_results:
        previous = old.get(result["question"])
        if previous is None or _outcome_ok(previous) == _outcome_ok(result):
            continue
        row = {
            "question": result["question"],
            "before": previous["answer"],
            "after": result["answer"],
            "answerable": result["answerable"],
        }
        (better if _outcome_ok(result) else worse).append(row)
    metrics = [
        m
        for m in (*GATED_METRICS, "handoff_f1", "ndcg_at_k", "token_f1", "ece", "latency_p50_ms")
        if isinstance(before.summary.get(m), int | float) and isinstance(after.summary.get(m), int | float)
    ]
    return {
        "before": before.id,
        "after": after.id,
        "shared_questions": len(set(old) & {r["question"] for r in after_results}),
        "metrics": {
            m: {
                "before": before.summary[m],
                "after": after.summary[m],
                "delta": after.summary[m] - before.summary[m],
            }
            for m in metrics
        },
        "better": better,
        "worse": worse,
    }
