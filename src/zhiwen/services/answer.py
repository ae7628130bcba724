"""Answering: a curated FAQ answer, sentences extracted from the passages, or an LLM's cited answer; and
when the knowledge does not support an answer, an honest handoff to a human.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

import numpy as np

from zhiwen.errors import BackendUnavailable, InvalidInput
from zhiwen.ports import LLM, AnswerStore, WorkspaceStore
from zhiwen.services.confidence import ConfidenceModel, confidence_features
from zhiwen.services.extract import Extract, best_extract, prefer_language
from zhiwen.services.retrieve import Retrieval, Retriever
from zhiwen.text.normalize import detect_language
from zhiwen.types import Answer, Citation, Hit

log = logging.getLogger(__name__)

HANDOFF_MESSAGES = {
    "zh": "抱歉，我在知识库中没有找到可靠的答案。我已为您转接人工客服，请稍候，同事会尽快回复您。",
    "en": (
        "Sorry, I couldn't find a reliable answer to that in our knowledge base. "
        "I'm handing you over to a colleague, who will get back to you shortly."
    ),
}
CONFIDENCE_SETTING = "confidence_model"
DEFAULT_CONFIDENCE_FILE = "default_confidence.json"
_SNIPPET_CHARS = 240
_CITATION = re.compile(r"\[(\d{1,2})\]")


Mode = Literal["faq", "extractive", "llm", "handoff"]


@dataclass
class Draft:
    question: str
    language: str
    retrieval: Retrieval
    features: list[float]
    confidence: float
    text: str
    citations: list[Citation]
    mode: Mode


@dataclass(frozen=True)
class AnswerPolicy:
    top_k: int = 5
    handoff_below: float = 0.5
    faq_direct_above: float = 0.6
    max_question_chars: int = 1000
    llm_max_tokens: int = 400


@cache
def default_confidence() -> ConfidenceModel:
    """Fitted on the bundled demo golden set (`make calibrate-default`); a workspace's own
    `zhiwen calibrate` replaces it."""
    text = resources.files("zhiwen.services").joinpath(DEFAULT_CONFIDENCE_FILE).read_text(encoding="utf-8")
    return ConfidenceModel.from_dict(json.loads(text))


def _snippet(text: str) -> str:
    return text if len(text) <= _SNIPPET_CHARS else text[: _SNIPPET_CHARS - 1] + "…"


def _citation(number: int, hit: Hit, snippet: str) -> Citation:
    return Citation(
        number=number,
        document_id=hit.chunk.document_id,
        document_title=hit.document_title,
        source=hit.document_source,
        chunk_id=hit.chunk.id,
        snippet=_snippet(snippet),
    )


def _llm_messages(question: str, language: str, hits: Sequence[Hit]) -> list[dict[str, str]]:
    passages = "\n\n".join(f"[{i}] ({h.document_title}) {h.chunk.text}" for i, h in enumerate(hits, start=1))
    reply_in = "Chinese (简体中文)" if language == "zh" else "English"
    system = (
        "You are a customer-service assistant. Answer ONLY from the numbered passages. "
        "Cite every claim with the passage number in square brackets, like [1]. "
        f"Reply in {reply_in}, briefly. If the passages do not contain the answer, reply exactly NO_ANSWER."
    )
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": f"Passages:\n{passages}\n\nQuestion: {question}"},
    ]


class AnswerService:
    def __init__(
        self,
        retriever: Retriever,
        answers: AnswerStore,
        workspaces: WorkspaceStore,
        policy: AnswerPolicy,
        llm: LLM | None = None,
    ) -> None:
        self._retriever = retriever
        self._answers = answers
        self._workspaces = workspaces
        self._policy = policy
        self._llm = llm

    def confidence_model(self, workspace_id: str) -> ConfidenceModel:
        stored = self._workspaces.get_setting(workspace_id, CONFIDENCE_SETTING)
        if stored:
            try:
                return ConfidenceModel.from_dict(stored)
            except (ValueError, KeyError):
                log.warning("workspace %s has an outdated confidence model; using the default", workspace_id)
        return default_confidence()

    def draft(
        self,
        workspace_id: str,
        question: str,
        document_ids: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        use_llm: bool = True,
        calibrating: bool = False,
    ) -> Draft:
        """Retrieve, score confidence and write the best answer, before deciding whether to hand off.

        ``calibrating`` composes the answer as if fully confident, so fitting a confidence model never
        depends on the model it replaces.
        """
        question = question.strip()
        if not question:
            raise InvalidInput("the question is empty")
        if len(question) > self._policy.max_question_chars:
            raise InvalidInput(
                f"the question is {len(question)} characters; the limit is {self._policy.max_question_chars}"
            )
        language = detect_language(question)
        retrieval = self._retriever.retrieve(
            workspace_id, question, k=self._policy.top_k, document_ids=document_ids, tags=tags
        )
        t = time.perf_counter()
        extract = (
            best_extract(question, retrieval.hits, retrieval.term_weights, language)
            if retrieval.hits
            else None
        )
        features = confidence_features(question, retrieval, extract.score if extract else 0.0)
        confidence = 0.0
        if retrieval.hits:
            confidence = 1.0
            if not calibrating:
                model = self.confidence_model(workspace_id)
                confidence = float(model.predict_proba(np.asarray([features]))[0])
        text, citations, mode = self._compose(question, language, retrieval, extract, confidence, use_llm)
        retrieval.timings_ms["answer"] = (time.perf_counter() - t) * 1000
        return Draft(question, language, retrieval, features, confidence, text, citations, mode)

    def answer(
        self,
        workspace_id: str,
        question: str,
        conversation_id: str | None = None,
        document_ids: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        use_llm: bool = True,
        record: bool = True,
    ) -> Answer:
        started = time.perf_counter()
        draft = self.draft(workspace_id, question, document_ids, tags, use_llm)
        conversation = self._answers.ensure_conversation(workspace_id, conversation_id) if record else None
        text, citations, mode = draft.text, draft.citations, draft.mode
        if mode != "handoff" and draft.confidence < self._policy.handoff_below:
            text, citations, mode = HANDOFF_MESSAGES[draft.language], [], "handoff"
        timings = dict(draft.retrieval.timings_ms)
        timings["total"] = (time.perf_counter() - started) * 1000
        answer = Answer(
            id="ans_" + secrets.token_hex(8),
            question=draft.question,
            text=text,
            language="zh" if draft.language == "zh" else "en",
            citations=tuple(citations),
            confidence=round(draft.confidence, 4),
            handoff=mode == "handoff",
            mode=mode,
            conversation_id=conversation,
            timings_ms={k: round(v, 2) for k, v in timings.items()},
        )
        if record:
            self._answers.save_answer(workspace_id, answer, _retrieved(draft.retrieval))
        return answer

    def _compose(
        self,
        question: str,
        language: str,
        retrieval: Retrieval,
        extract: Extract | None,
        confidence: float,
        use_llm: bool,
    ) -> tuple[str, list[Citation], Mode]:
        hits = retrieval.hits
        if extract is None:  # no hits at all
            return HANDOFF_MESSAGES[language], [], "handoff"
        if hits[0].chunk.kind == "faq" and confidence >= self._policy.faq_direct_above:
            faq = prefer_language([h for h in hits if h.chunk.kind == "faq"], language, window=2)[0]
            return faq.chunk.text, [_citation(1, faq, faq.chunk.text)], "faq"
        if self._llm is not None and use_llm:
            return self._llm_answer(question, language, hits, extract)
        return _extractive(extract)

    def _llm_answer(
        self, question: str, language: str, hits: Sequence[Hit], fallback: Extract
    ) -> tuple[str, list[Citation], Mode]:
        assert self._llm is not None
        try:
            reply = self._llm.chat(
                _llm_messages(question, language, hits), self._policy.llm_max_tokens
            ).strip()
        except BackendUnavailable:
            log.warning("LLM unavailable; answering extractively")
            return _extractive(fallback)
        cited = sorted({int(n) for n in _CITATION.findall(reply) if 1 <= int(n) <= len(hits)})
        if "NO_ANSWER" in reply or not cited:
            return HANDOFF_MESSAGES[language], [], "handoff"
        citations = [_citation(n, hits[n - 1], hits[n - 1].chunk.text) for n in cited]
        return reply, citations, "llm"


def _extractive(extract: Extract) -> tuple[str, list[Citation], Mode]:
    return f"{extract.text} [1]", [_citation(1, extract.hit, extract.text)], "extractive"


def _retrieved(retrieval: Retrieval) -> list[dict[str, object]]:
    return [
        {
            "chunk_id": h.chunk.id,
            "document_id": h.chunk.document_id,
            "score": round(h.score, 6),
            "keyword_score": h.keyword_score,
            "vector_score": h.vector_score,
        }
        for h in retrieval.hits
    ]
