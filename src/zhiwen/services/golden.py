"""Golden question sets: load them, run them through ``ask``, score answers, and calibrate confidence.

A golden line is JSON: ``{"question": ..., "expected_answer": "..." | [...],
"expected_document": "..." | [...], "answerable": true, "category": "..."}``. ``answerable`` defaults to
true when an answer or document is given.
An answer counts as right when it contains one of the expected answers after normalisation (case, width,
spaces and punctuation ignored).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zhiwen.errors import InvalidInput
from zhiwen.services.answer import AnswerService, Draft
from zhiwen.services.confidence import ConfidenceModel, expected_calibration_error, reliability_table
from zhiwen.services.metrics import percentile


@dataclass(frozen=True)
class GoldenItem:
    question: str
    expected_answers: tuple[str, ...] = ()
    expected_documents: tuple[str, ...] = ()
    answerable: bool = True
    category: str = ""


def _strings(value: object, line: int, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v for v in value if v.strip())
    raise InvalidInput(f"line {line}: '{name}' must be a string or a list of strings")


def load_golden(path: Path) -> list[GoldenItem]:
    if not path.is_file():
        raise InvalidInput(f"{path}: no such golden file")
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InvalidInput(f"{path}:{number}: invalid JSON ({error.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("question"), str):
            raise InvalidInput(f"{path}:{number}: each line needs a 'question' string")
        answers = _strings(record.get("expected_answer"), number, "expected_answer")
        documents = _strings(record.get("expected_document"), number, "expected_document")
        answerable = record.get("answerable", bool(answers or documents))
        if not isinstance(answerable, bool):
            raise InvalidInput(f"{path}:{number}: 'answerable' must be true or false")
        items.append(
            GoldenItem(record["question"], answers, documents, answerable, str(record.get("category", "")))
        )
    if not items:
        raise InvalidInput(f"{path}: the golden file has no questions")
    return items


_NOISE = re.compile(r"[\s\W_]+")


def _squash(text: str) -> str:
    return _NOISE.sub("", unicodedata.normalize("NFKC", text).lower())


def answer_is_right(text: str, expected: Sequence[str]) -> bool:
    squashed = _squash(text)
    return any(_squash(e) in squashed for e in expected if _squash(e))


def split_of(question: str) -> str:
    """Deterministic half split: 'tune' or 'held_out', from the question's hash."""
    digest = hashlib.sha1(question.encode("utf-8"), usedforsecurity=False).hexdigest()
    return "tune" if int(digest, 16) % 2 == 0 else "held_out"


@dataclass
class QuestionResult:
    question: str
    answerable: bool
    handoff: bool
    right: bool
    cited_right: bool
    confidence: float
    mode: str
    answer: str
    category: str = ""
    latency_ms: float = 0.0


@dataclass
class AnswerReport:
    questions: int
    answerable: int
    unanswerable: int
    answer_accuracy: float
    citation_accuracy: float
    handoff_precision: float
    handoff_recall: float
    latency_p50_ms: float
    latency_p95_ms: float
    results: list[QuestionResult] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "results"}


def _cited_right(draft_sources: Sequence[str], item: GoldenItem) -> bool:
    return any(s in item.expected_documents for s in draft_sources)


def run_golden(
    service: AnswerService,
    workspace_id: str,
    items: Sequence[GoldenItem],
    use_llm: bool = False,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> AnswerReport:
    results = []
    for i, item in enumerate(items, start=1):
        answer = service.answer(workspace_id, item.question, use_llm=use_llm, record=False)
        sources = [c.source for c in answer.citations]
        results.append(
            QuestionResult(
                question=item.question,
                answerable=item.answerable,
                handoff=answer.handoff,
                right=item.answerable
                and not answer.handoff
                and answer_is_right(answer.text, item.expected_answers),
                cited_right=item.answerable and not answer.handoff and _cited_right(sources, item),
                confidence=answer.confidence,
                mode=answer.mode,
                answer=answer.text,
                category=item.category,
                latency_ms=answer.timings_ms.get("total", 0.0),
            )
        )
        on_progress(i, len(items))
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    handoffs = [r for r in results if r.handoff]
    with_documents = [
        r for r, item in zip(results, items, strict=True) if r.answerable and item.expected_documents
    ]
    latencies = [r.latency_ms for r in results]
    return AnswerReport(
        questions=len(results),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        answer_accuracy=sum(r.right for r in answerable) / max(len(answerable), 1),
        citation_accuracy=sum(r.cited_right for r in with_documents) / max(len(with_documents), 1),
        handoff_precision=sum(not r.answerable for r in handoffs) / max(len(handoffs), 1),
        handoff_recall=sum(r.handoff for r in unanswerable) / max(len(unanswerable), 1),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        results=results,
    )


def _draft_is_right(draft: Draft, item: GoldenItem) -> int:
    if not item.answerable or draft.mode == "handoff":
        return 0
    return int(
        answer_is_right(draft.text, item.expected_answers)
        if item.expected_answers
        else _cited_right([c.source for c in draft.citations], item)
    )


@dataclass
class Calibration:
    model: ConfidenceModel
    held_out_ece: float
    held_out_reliability: list[dict[str, float]]
    held_out_answers: dict[str, float]  # accuracy and handoff precision/recall at the handoff threshold
    tune_questions: int
    held_out_questions: int
    share_right: float


def _handoff_metrics(
    probs: Sequence[float], right: Sequence[int], answerable: Sequence[bool], threshold: float
) -> dict[str, float]:
    handoff = [p < threshold for p in probs]
    n_answerable = sum(answerable)
    n_handoffs = sum(handoff)
    n_unanswerable = len(answerable) - n_answerable
    return {
        "answer_accuracy": sum(r and not h for r, h, a in zip(right, handoff, answerable, strict=True) if a)
        / max(n_answerable, 1),
        "handoff_precision": sum(h and not a for h, a in zip(handoff, answerable, strict=True))
        / max(n_handoffs, 1),
        "handoff_recall": sum(h and not a for h, a in zip(handoff, answerable, strict=True))
        / max(n_unanswerable, 1),
    }


def calibrate(
    service: AnswerService, workspace_id: str, items: Sequence[GoldenItem], handoff_below: float = 0.5
) -> Calibration:
    """Fit P(right) on the tuning half and report on the held-out half (calibration, and answer/handoff
    metrics at ``handoff_below``), then refit on every question for use."""
    features, labels, splits = [], [], []
    for item in items:
        draft = service.draft(workspace_id, item.question, use_llm=False, calibrating=True)
        features.append(draft.features)
        labels.append(_draft_is_right(draft, item))
        splits.append(split_of(item.question))
    x, y = np.asarray(features, dtype=np.float64), np.asarray(labels)
    tune = np.asarray([s == "tune" for s in splits])
    if tune.all() or not tune.any():
        raise InvalidInput("calibration needs at least two questions in each half of the golden set")
    held_out_model = ConfidenceModel().fit(x[tune], y[tune])
    probs = held_out_model.predict_proba(x[~tune])
    held_out_answerable = [item.answerable for item, t in zip(items, tune, strict=True) if not t]
    return Calibration(
        model=ConfidenceModel().fit(x, y),
        held_out_ece=expected_calibration_error(probs.tolist(), y[~tune].tolist()),
        held_out_reliability=reliability_table(probs.tolist(), y[~tune].tolist()),
        held_out_answers=_handoff_metrics(
            probs.tolist(), y[~tune].tolist(), held_out_answerable, handoff_below
        ),
        tune_questions=int(tune.sum()),
        held_out_questions=int((~tune).sum()),
        share_right=float(y.mean()),
    )
