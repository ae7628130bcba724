"""Does a restored backup answer as the store it was taken from? The same questions are asked of both and
the answers compared: text, citations, confidence, handoff and mode.

Only the knowledge answers here (retrieval, the answer chooser, the confidence model, curated and FAQ
answers, the live release's settings): no LLM, whose wording varies between two calls, and no intents,
whose tools could act on other systems (an order lookup, a ticket) once per question and per store.
Nothing is recorded: the stores are only read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from zhiwen.ports import AnswerStore
from zhiwen.services.answers.service import AnswerLimits, AnswerService
from zhiwen.services.knowledge.retrieve import Retriever
from zhiwen.services.lifecycle.targets import Targets
from zhiwen.types import Answer

DEFAULT_QUESTIONS = 20
_CONFIDENCE_DECIMALS = 4  # what an answer reports; the same store computes the same float


@dataclass(frozen=True)
class Replayed:
    """One question asked of the restored copy and, when there is one, of the original store."""

    workspace_id: str
    question: str
    restored: dict[str, Any] | None
    original: dict[str, Any] | None = None
    error: str | None = None  # why a store could not answer

    @property
    def same(self) -> bool | None:
        """Whether both answered alike (None: there was no original to compare with)."""
        if self.error is not None:
            return False
        if self.original is None:
            return None
        return self.restored == self.original

    def to_dict(self) -> dict[str, Any]:
        return {
            "workspace_id": self.workspace_id,
            "question": self.question,
            "same": self.same,
            "error": self.error,
            "restored": self.restored,
            "original": self.original,
        }


def knowledge_answerer(
    retriever: Retriever, answers: AnswerStore, targets: Targets, max_question_chars: int
) -> AnswerService:
    """An answerer over a store's knowledge alone: no LLM, no intents, no related products."""
    return AnswerService(retriever, answers, targets, AnswerLimits(max_question_chars=max_question_chars))


def fingerprint(answer: Answer) -> dict[str, Any]:
    """What must be identical: everything a customer sees and the confidence behind the handoff
    decision; not the answer's id or timings."""
    return {
        "text": answer.text,
        "citations": [[c.number, c.document_id, c.chunk_id, c.source] for c in answer.citations],
        "confidence": round(answer.confidence, _CONFIDENCE_DECIMALS),
        "handoff": answer.handoff,
        "mode": answer.mode,
        "release": answer.release,
    }


def replay(
    questions: Sequence[tuple[str, str]],
    restored: AnswerService,
    original: AnswerService | None = None,
    on_progress: Callable[[int], None] = lambda done: None,
) -> list[Replayed]:
    """Ask each (workspace id, question) of the restored copy, and of the original when given."""
    results = []
    for done, (workspace_id, question) in enumerate(questions, start=1):
        try:
            mine = fingerprint(_ask(restored, workspace_id, question))
        except Exception as error:  # a verification reports what broke, for every question, and goes on
            results.append(Replayed(workspace_id, question, None, error=f"restored copy: {_said(error)}"))
            on_progress(done)
            continue
        theirs = None
        error_text = None
        if original is not None:
            try:
                theirs = fingerprint(_ask(original, workspace_id, question))
            except Exception as error:  # as above: the original may lack the workspace, for one
                error_text = f"original store: {_said(error)}"
        results.append(Replayed(workspace_id, question, mine, theirs, error_text))
        on_progress(done)
    return results


def summary(replayed: Sequence[Replayed], compared: bool) -> tuple[bool, str]:
    """Whether the replay passed, and in words."""
    total = len(replayed)
    errors = [r for r in replayed if r.error is not None]
    if not total:
        return False, "the backup holds no question to ask and no knowledge to ask about"
    if not compared:
        answered = total - len(errors)
        return not errors, (
            f"{answered}/{total} questions answered by the restored copy (no --against: nothing to compare"
            " with)"
        )
    same = sum(r.same is True for r in replayed)
    text = f"{same}/{total} questions answered identically (text, citations, confidence, handoff)"
    if same < total:
        text += (
            "; if knowledge or settings changed since the backup, the store answers differently by right:"
            " compare right after a backup"
        )
    return same == total, text


def _ask(answerer: AnswerService, workspace_id: str, question: str) -> Answer:
    return answerer.answer(workspace_id, question, use_llm=False, record=False)


def _said(error: Exception) -> str:
    message = getattr(error, "message", None) or str(error)
    return f"{type(error).__name__}: {message}"
