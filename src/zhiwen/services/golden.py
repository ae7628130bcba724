"""Golden question sets: load them, run them through ``ask``, score answers, and calibrate confidence.

A golden line is JSON: ``{"question": ..., "expected_answer": "..." | [...],
"expected_document": "..." | [...], "answerable": true, "category": "..."}``. ``answerable`` defaults to
true when an answer or document is given.
An answer counts as right when it contains one of the expected answers after normalisation (case, width,
spaces and punctuation ignored).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zhiwen.errors import InvalidInput
from zhiwen.services.answer import AnswerService
from zhiwen.services.confidence import ConfidenceModel, expected_calibration_error, reliability_table
from zhiwen.services.metrics import percentile
from zhiwen.text.normalize import decode, squash

MAX_QUESTION_CHARS = 1000


@dataclass(frozen=True)
class GoldenItem:
    question: str
    expected_answers: tuple[str, ...] = ()
    expected_documents: tuple[str, ...] = ()
    answerable: bool = True
    category: str = ""


def _strings(value: object, where: str, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value.strip(),) if value.strip() else ()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v.strip() for v in value if v.strip())
    raise InvalidInput(f"{where}: '{name}' must be a string or a list of strings")


def golden_item(record: object, where: str) -> GoldenItem:
    """One golden question from a JSON object (a JSONL line, a CSV row, an API body)."""
    if not isinstance(record, dict) or not isinstance(record.get("question"), str):
        raise InvalidInput(f"{where}: needs a 'question' string")
    question = record["question"].strip()
    if not question:
        raise InvalidInput(f"{where}: the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidInput(f"{where}: the question is over {MAX_QUESTION_CHARS} characters")
    answers = _strings(record.get("expected_answer"), where, "expected_answer")
    documents = _strings(record.get("expected_document"), where, "expected_document")
    answerable = record.get("answerable", bool(answers or documents))
    if not isinstance(answerable, bool):
        raise InvalidInput(f"{where}: 'answerable' must be true or false")
    if answerable and not (answers or documents):
        raise InvalidInput(f"{where}: an answerable question needs an expected_answer or expected_document")
    return GoldenItem(question, answers, documents, answerable, str(record.get("category") or ""))


def golden_record(item: GoldenItem) -> dict[str, object]:
    return {
        "question": item.question,
        "expected_answer": list(item.expected_answers),
        "expected_document": list(item.expected_documents),
        "answerable": item.answerable,
        "category": item.category,
    }


def parse_golden_jsonl(text: str, name: str) -> list[GoldenItem]:
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InvalidInput(f"{name}:{number}: invalid JSON ({error.msg})") from None
        items.append(golden_item(record, f"{name}:{number}"))
    return _non_empty(items, name)


_TRUE = {"true", "yes", "1", "y", "是", "可回答"}
_FALSE = {"false", "no", "0", "n", "否", "不可回答"}


def parse_golden_csv(text: str, name: str) -> list[GoldenItem]:
    """Columns: question, expected_answer, expected_document, answerable, category. Several expected
    answers or documents are separated by ``|``."""
    reader = csv.DictReader(io.StringIO(text))
    columns = {c.strip().lower() for c in reader.fieldnames or []}
    if "question" not in columns:
        raise InvalidInput(f"{name}: the CSV needs a 'question' column (found: {', '.join(sorted(columns))})")
    items = []
    for number, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(row.values()):
            continue
        record: dict[str, object] = {
            "question": row.get("question", ""),
            "expected_answer": [p for p in row.get("expected_answer", "").split("|") if p.strip()],
            "expected_document": [p for p in row.get("expected_document", "").split("|") if p.strip()],
            "category": row.get("category", ""),
        }
        flag = row.get("answerable", "").lower()
        if flag in _TRUE | _FALSE:
            record["answerable"] = flag in _TRUE
        elif flag:
            raise InvalidInput(f"{name}:{number}: answerable must be true or false, not {flag!r}")
        items.append(golden_item(record, f"{name}:{number}"))
    return _non_empty(items, name)


def _non_empty(items: list[GoldenItem], name: str) -> list[GoldenItem]:
    if not items:
        raise InvalidInput(f"{name}: the golden file has no questions")
    return items


def load_golden(path: Path) -> list[GoldenItem]:
    if not path.is_file():
        raise InvalidInput(f"{path}: no such golden file")
    text = decode(path.read_bytes(), path.name)
    if path.suffix.lower() == ".csv":
        return parse_golden_csv(text, str(path))
    return parse_golden_jsonl(text, str(path))


def answer_is_right(text: str, expected: Sequence[str]) -> bool:
    squashed = squash(text)
    return any(squash(e) in squashed for e in expected if squash(e))


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


def cited_right(sources: Sequence[str], item: GoldenItem) -> bool:
    return any(s in item.expected_documents for s in sources)


def answered_right(item: GoldenItem, handoff: bool, text: str, sources: Sequence[str]) -> bool:
    """Right = an answerable question, answered (not handed off), with an expected answer in the text, or,
    when the golden line names only documents, with one of them cited."""
    if not item.answerable or handoff:
        return False
    if item.expected_answers:
        return answer_is_right(text, item.expected_answers)
    return cited_right(sources, item)


def answer_metrics(
    right: Sequence[bool], handoff: Sequence[bool], answerable: Sequence[bool]
) -> dict[str, float]:
    """Accuracy on answerable questions; precision and recall of handing off the unanswerable ones."""
    n_answerable = sum(answerable)
    correct_handoffs = sum(h and not a for h, a in zip(handoff, answerable, strict=True))
    return {
        "answer_accuracy": sum(r for r, a in zip(right, answerable, strict=True) if a) / max(n_answerable, 1),
        "handoff_precision": correct_handoffs / max(sum(handoff), 1),
        "handoff_recall": correct_handoffs / max(len(answerable) - n_answerable, 1),
    }


def run_golden(
    service: AnswerService,
    workspace_id: str,
    items: Sequence[GoldenItem],
    use_llm: bool = False,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> AnswerReport:
    target = service.targets.working(workspace_id)
    results = []
    for i, item in enumerate(items, start=1):
        answer = service.answer(workspace_id, item.question, use_llm=use_llm, record=False, target=target)
        sources = [c.source for c in answer.citations]
        results.append(
            QuestionResult(
                question=item.question,
                answerable=item.answerable,
                handoff=answer.handoff,
                right=answered_right(item, answer.handoff, answer.text, sources),
                cited_right=item.answerable and not answer.handoff and cited_right(sources, item),
                confidence=answer.confidence,
                mode=answer.mode,
                answer=answer.text,
                category=item.category,
                latency_ms=answer.timings_ms.get("total", 0.0),
            )
        )
        on_progress(i, len(items))
    metrics = answer_metrics(
        [r.right for r in results], [r.handoff for r in results], [r.answerable for r in results]
    )
    with_documents = [
        r for r, item in zip(results, items, strict=True) if r.answerable and item.expected_documents
    ]
    latencies = [r.latency_ms for r in results]
    return AnswerReport(
        questions=len(results),
        answerable=sum(r.answerable for r in results),
        unanswerable=sum(not r.answerable for r in results),
        answer_accuracy=metrics["answer_accuracy"],
        citation_accuracy=sum(r.cited_right for r in with_documents) / max(len(with_documents), 1),
        handoff_precision=metrics["handoff_precision"],
        handoff_recall=metrics["handoff_recall"],
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        results=results,
    )


@dataclass
class Calibration:
    model: ConfidenceModel  # fitted on every question
    tune_model: ConfidenceModel  # fitted on the tuning half only: keeps the held-out half honest
    held_out_ece: float
    held_out_reliability: list[dict[str, float]]
    held_out_answers: dict[str, float]  # accuracy and handoff precision/recall at the handoff threshold
    tune_questions: int
    held_out_questions: int
    share_right: float


def calibrate(
    service: AnswerService, workspace_id: str, items: Sequence[GoldenItem], handoff_below: float = 0.5
) -> Calibration:
    """Fit P(right) on the tuning half and report on the held-out half (calibration, and answer/handoff
    metrics at ``handoff_below``), then refit on every question for use."""
    features, labels, splits = [], [], []
    target = service.targets.working(workspace_id)
    for item in items:
        draft = service.draft(target, item.question, use_llm=False, calibrating=True)
        features.append(draft.features)
        sources = [c.source for c in draft.citations]
        labels.append(int(answered_right(item, draft.mode == "handoff", draft.text, sources)))
        splits.append(split_of(item.question))
    x, y = np.asarray(features, dtype=np.float64), np.asarray(labels)
    tune = np.asarray([s == "tune" for s in splits])
    if tune.all() or not tune.any():
        raise InvalidInput("calibration needs questions in both halves of the golden set; add more questions")
    held_out_model = ConfidenceModel().fit(x[tune], y[tune])
    probs = held_out_model.predict_proba(x[~tune])
    held_out_answerable = [item.answerable for item, t in zip(items, tune, strict=True) if not t]
    return Calibration(
        model=ConfidenceModel().fit(x, y),
        tune_model=held_out_model,
        held_out_ece=expected_calibration_error(probs.tolist(), y[~tune].tolist()),
        held_out_reliability=reliability_table(probs.tolist(), y[~tune].tolist()),
        held_out_answers=answer_metrics(
            [bool(r) for r in y[~tune]], [p < handoff_below for p in probs], held_out_answerable
        ),
        tune_questions=int(tune.sum()),
        held_out_questions=int((~tune).sum()),
        share_right=float(y.mean()),
    )
