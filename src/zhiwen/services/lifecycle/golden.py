"""Golden question sets: load them, run them through ``ask``, score answers, and calibrate confidence.

A golden line is JSON: ``{"question": ..., "expected_answer": "..." | [...],
"expected_document": "..." | [...], "answerable": true, "category": "..."}``. ``answerable`` defaults to
true when an answer or document is given.

A conversation is one line with ``"turns"``: ``{"conversation": "c1", "category": "...", "turns":
[{"question": ..., "expected_answer": ..., "follow_up": true}, ...]}``. Each turn becomes an item whose
``context`` holds the questions asked before it, so every evaluation replays those first and scores the
turn as a follow-up.
An answer counts as right when it contains one of the expected answers after normalisation (case, width,
spaces and punctuation ignored).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from zhiwen.errors import InvalidInput
from zhiwen.services.answers.choice import ChoiceModel, default_choice
from zhiwen.services.answers.confidence import (
    ConfidenceModel,
    Matrix,
    expected_calibration_error,
    reliability_table,
    stored_or_default,
)
from zhiwen.services.answers.service import AnswerService, Draft
from zhiwen.services.lifecycle.metrics import percentile
from zhiwen.services.lifecycle.targets import Target
from zhiwen.text.jsonlines import json_lines
from zhiwen.text.normalize import decode, squash

MAX_QUESTION_CHARS = 1000
MAX_TURNS = 20


@dataclass(frozen=True)
class GoldenItem:
    question: str
    expected_answers: tuple[str, ...] = ()
    expected_documents: tuple[str, ...] = ()
    answerable: bool = True
    category: str = ""
    context: tuple[str, ...] = ()  # earlier questions of its conversation, oldest first
    follow_up: bool = False  # needs the earlier turns to be understood
    conversation: str = ""

    @property
    def split_key(self) -> str:
        """What decides the item's half: a conversation's turns stay together."""
        return self.conversation or self.question


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
    context = _strings(record.get("context"), where, "context")
    if len(context) > MAX_TURNS:
        raise InvalidInput(f"{where}: a conversation has at most {MAX_TURNS} turns")
    follow_up = record.get("follow_up", False)
    if not isinstance(follow_up, bool):
        raise InvalidInput(f"{where}: 'follow_up' must be true or false")
    return GoldenItem(
        question,
        answers,
        documents,
        answerable,
        str(record.get("category") or ""),
        context,
        follow_up,
        str(record.get("conversation") or ""),
    )


def conversation_items(record: dict[str, object], where: str) -> list[GoldenItem]:
    """The turns of a conversation line, each with the questions before it as its context."""
    turns = record.get("turns")
    if not isinstance(turns, list) or not turns:
        raise InvalidInput(f"{where}: 'turns' must be a non-empty list of questions")
    if len(turns) > MAX_TURNS:
        raise InvalidInput(f"{where}: a conversation has at most {MAX_TURNS} turns")
    name = str(record.get("conversation") or "") or "|".join(
        str(t.get("question", "")) if isinstance(t, dict) else "" for t in turns
    )
    items: list[GoldenItem] = []
    for number, turn in enumerate(turns, start=1):
        if not isinstance(turn, dict):
            raise InvalidInput(f"{where}: turn {number} must be an object with a 'question'")
        turn = {"category": record.get("category"), **turn}
        turn["context"] = [i.question for i in items]
        turn["conversation"] = name
        items.append(golden_item(turn, f"{where} turn {number}"))
    return items


def golden_record(item: GoldenItem) -> dict[str, object]:
    record: dict[str, object] = {
        "question": item.question,
        "expected_answer": list(item.expected_answers),
        "expected_document": list(item.expected_documents),
        "answerable": item.answerable,
        "category": item.category,
    }
    if item.conversation or item.context:
        record.update(context=list(item.context), follow_up=item.follow_up, conversation=item.conversation)
    return record


def parse_golden_jsonl(text: str, name: str) -> list[GoldenItem]:
    items = []
    for line in json_lines(text):
        number, record = line.number, line.value
        if line.error is not None:
            raise InvalidInput(f"{name}:{number}: invalid JSON ({line.error})")
        if isinstance(record, dict) and "turns" in record:
            items.extend(conversation_items(record, f"{name}:{number}"))
        else:
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
    composed_right: bool = False  # the answer before the handoff decision: what confidence predicts
    language: str = ""
    follow_up: bool = False
    context: tuple[str, ...] = ()
    understood_as: str | None = None

    @property
    def handled_right(self) -> bool:
        """Answered right, or rightly handed off."""
        return self.right if self.answerable else self.handoff


CONFIDENT = 0.9  # "a confident answer must be right": the share wrong above this is reported


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
    expected_calibration_error: float = 0.0
    answerable_handed_off: float = 0.0
    confident_answers: int = 0  # answered with confidence >= CONFIDENT
    confident_wrong: float = 0.0  # … the share of them that is wrong
    follow_ups: int = 0
    follow_up_right: float = 0.0  # follow-up turns answered right or rightly handed off
    conversations: int = 0
    conversations_right: float = 0.0  # conversations with every turn handled right
    by_language: dict[str, dict[str, float]] = field(default_factory=dict)
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
        answer, draft = service.answer_with_draft(
            workspace_id,
            item.question,
            use_llm=use_llm,
            record=False,
            target=target,
            previous=service.understand(target, item.context),
        )
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
                composed_right=answered_right(
                    item, draft.mode == "handoff", draft.text, [c.source for c in draft.citations]
                ),
                language=draft.language,
                follow_up=item.follow_up,
                context=item.context,
                understood_as=answer.understood_as,
            )
        )
        on_progress(i, len(items))
    return answer_report(results, items)


def answer_report(results: Sequence[QuestionResult], items: Sequence[GoldenItem]) -> AnswerReport:
    def metrics(rows: Sequence[QuestionResult]) -> dict[str, float]:
        return answer_metrics(
            [r.right for r in rows], [r.handoff for r in rows], [r.answerable for r in rows]
        )

    with_documents = [
        r for r, item in zip(results, items, strict=True) if r.answerable and item.expected_documents
    ]
    answerable = [r for r in results if r.answerable]
    confident = [r for r in results if not r.handoff and r.confidence >= CONFIDENT]
    follow_ups = [r for r in results if r.follow_up]
    conversations: dict[str, list[bool]] = {}
    for r, item in zip(results, items, strict=True):
        if item.conversation:
            conversations.setdefault(item.conversation, []).append(r.handled_right)
    latencies = [r.latency_ms for r in results]
    overall = metrics(results)
    return AnswerReport(
        questions=len(results),
        answerable=len(answerable),
        unanswerable=len(results) - len(answerable),
        answer_accuracy=overall["answer_accuracy"],
        citation_accuracy=sum(r.cited_right for r in with_documents) / max(len(with_documents), 1),
        handoff_precision=overall["handoff_precision"],
        handoff_recall=overall["handoff_recall"],
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        expected_calibration_error=expected_calibration_error(
            [r.confidence for r in results], [int(r.composed_right) for r in results]
        ),
        answerable_handed_off=sum(r.handoff for r in answerable) / max(len(answerable), 1),
        confident_answers=len(confident),
        confident_wrong=sum(not r.right for r in confident) / max(len(confident), 1),
        follow_ups=len(follow_ups),
        follow_up_right=sum(r.handled_right for r in follow_ups) / max(len(follow_ups), 1),
        conversations=len(conversations),
        conversations_right=sum(all(v) for v in conversations.values()) / max(len(conversations), 1),
        by_language={
            language: {"questions": len(rows), **metrics(rows)}
            for language in sorted({r.language for r in results})
            if (rows := [r for r in results if r.language == language])
        },
        results=list(results),
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
    # The chooser the confidence models were fitted with (they hold only with it): refitted, or the
    # workspace's current one when there were too few questions to refit it.
    choice_model: ChoiceModel
    tune_choice_model: ChoiceModel
    choice_refitted: bool


MIN_CHOICE_QUESTIONS = 200  # answerable tuning questions needed to fit the chooser's 22 features


def calibrate(
    service: AnswerService, workspace_id: str, items: Sequence[GoldenItem], handoff_below: float = 0.5
) -> Calibration:
    """Fit the chooser (which passage answers) and P(right) on the tuning half, report on the held-out half
    (calibration, and answer/handoff metrics at ``handoff_below``), then refit both on every question for
    use. The chooser is refitted only from :data:`MIN_CHOICE_QUESTIONS` answerable questions up; with fewer,
    the workspace keeps its current one (the bundled default unless fitted before)."""
    splits = np.asarray([split_of(item.split_key) == "tune" for item in items])
    if splits.all() or not splits.any():
        raise InvalidInput("calibration needs questions in both halves of the golden set; add more questions")
    working = service.targets.working(workspace_id)
    choice_model = tune_choice_model = stored_or_default(
        ChoiceModel, working.config.choice_model, default_choice
    )
    refit = sum(item.answerable for item, t in zip(items, splits, strict=True) if t) >= MIN_CHOICE_QUESTIONS
    if refit:
        x, y, question, tune = _option_rows(service, working, items, splits)
        tune_choice_model = ChoiceModel().fit(x[tune], y[tune], question[tune])
        choice_model = ChoiceModel().fit(x, y, question)

    def chooser(model: ChoiceModel) -> Target:
        return dataclasses.replace(
            working, config=dataclasses.replace(working.config, choice_model=model.to_dict())
        )

    x, y = _answer_rows(service, chooser(tune_choice_model), items)
    held_out_model = ConfidenceModel().fit(x[splits], y[splits])
    probs = held_out_model.predict_proba(x[~splits])
    held_out_answerable = [item.answerable for item, t in zip(items, splits, strict=True) if not t]
    if refit:
        x, y = _answer_rows(service, chooser(choice_model), items)
    return Calibration(
        model=ConfidenceModel().fit(x, y),
        tune_model=held_out_model,
        held_out_ece=expected_calibration_error(probs.tolist(), y[~splits].tolist()),
        held_out_reliability=reliability_table(probs.tolist(), y[~splits].tolist()),
        held_out_answers=answer_metrics(
            [bool(r) for r in y[~splits]], [p < handoff_below for p in probs], held_out_answerable
        ),
        tune_questions=int(splits.sum()),
        held_out_questions=int((~splits).sum()),
        share_right=float(y.mean()),
        choice_model=choice_model,
        tune_choice_model=tune_choice_model,
        choice_refitted=refit,
    )


def _drafts(service: AnswerService, target: Target, items: Sequence[GoldenItem]) -> Iterator[Draft]:
    """Each item drafted as if fully confident, after its conversation's earlier turns."""
    for item in items:
        previous = service.understand(target, item.context)
        yield service.draft(target, item.question, use_llm=False, calibrating=True, previous=previous)


def _answer_rows(
    service: AnswerService, target: Target, items: Sequence[GoldenItem]
) -> tuple[Matrix, npt.NDArray[np.int_]]:
    """Confidence features of each item's answer, and whether that answer is right."""
    features, labels = [], []
    for item, draft in zip(items, _drafts(service, target, items), strict=True):
        features.append(draft.features)
        sources = [c.source for c in draft.citations]
        labels.append(int(answered_right(item, draft.mode == "handoff", draft.text, sources)))
    return np.asarray(features, dtype=np.float64), np.asarray(labels)


def _option_rows(
    service: AnswerService, target: Target, items: Sequence[GoldenItem], tune: npt.NDArray[np.bool_]
) -> tuple[Matrix, npt.NDArray[np.int_], npt.NDArray[np.int_], npt.NDArray[np.bool_]]:
    """Chooser features of every retrieved passage of every item, whether an answer composed from it is
    right, which item it was retrieved for, and whether that item is in the tuning half."""
    features, labels, questions, halves = [], [], [], []
    for number, (item, draft, in_tune) in enumerate(
        zip(items, _drafts(service, target, items), tune, strict=True)
    ):
        for option in draft.choice.options if draft.choice else []:
            hit = option.extract.hit
            features.append(option.features)
            labels.append(int(answered_right(item, False, option.extract.passage, [hit.document_source])))
            questions.append(number)
            halves.append(bool(in_tune))
    return (
        np.asarray(features, dtype=np.float64),
        np.asarray(labels),
        np.asarray(questions),
        np.asarray(halves),
    )
