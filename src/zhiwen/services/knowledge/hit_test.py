"""Hit testing: what the assistant would answer to a question and why, without recording anything.

The console's favourite page in every peer: an administrator types a customer's question and sees the
ranked passages with their keyword, vector and fused scores, the terms that matched, which passage the
answer came from, and the answer with its confidence against the handoff threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from zhiwen.services.answers.service import AnswerService, Draft
from zhiwen.services.answers.synonyms import in_documents_words
from zhiwen.services.lifecycle.targets import Target, working_id
from zhiwen.text.tokenize import indexed_text, keyword_tokens
from zhiwen.types import Answer, Hit

HitTestTarget = Literal["working", "live"]


@dataclass(frozen=True)
class ExplainedHit:
    rank: int
    hit: Hit
    chosen: bool  # the passage the answer (or the draft it withheld) cites first
    matched_terms: dict[str, float]  # the question's keyword terms found in the passage -> their IDF


@dataclass(frozen=True)
class HitTest:
    answer: Answer
    draft_text: str  # what the assistant would say if it were confident (shown when it hands off)
    handoff_below: float
    release: int | None  # the release tested; None: the working knowledge
    hits: list[ExplainedHit]
    searched_as: str | None  # the question in the documents' words, when a synonym changed it


def hit_test(
    answerer: AnswerService,
    workspace_id: str,
    question: str,
    target_name: HitTestTarget = "working",
    use_llm: bool = False,
) -> HitTest:
    """Answer ``question`` with the working knowledge (what the next release will freeze) or the live
    release, recording nothing: no conversation, no answer, no desk entry."""
    targets = answerer.targets
    target: Target = targets.working(workspace_id) if target_name == "working" else targets.live(workspace_id)
    answer, draft = answerer.answer_with_draft(
        workspace_id, question, use_llm=use_llm, record=False, target=target
    )
    draft_text, cited = draft.text, draft.citations[0].chunk_id if draft.citations else None
    if answer.intent is not None and answer.intent.action != "answer" and not draft.retrieval.hits:
        # An intent acted without searching: show what search finds, though the answer used none of it.
        draft = answerer.draft(target, question, use_llm=False)
        draft_text, cited = "", None
    return HitTest(
        answer=answer,
        draft_text=draft_text,
        handoff_below=target.config.handoff_below,
        release=target.release.number if target.release else None,
        hits=_explained(draft, cited),
        searched_as=_searched_as(question, target.config.synonyms),
    )


def _searched_as(question: str, synonyms: Mapping[str, str]) -> str | None:
    searched = in_documents_words(question, synonyms)
    return searched if searched != question else None


def _explained(draft: Draft, cited: str | None) -> list[ExplainedHit]:
    weights = draft.retrieval.term_weights or {t: 0.0 for t in keyword_tokens(draft.understood.text)}
    explained = []
    for rank, hit in enumerate(draft.retrieval.hits, start=1):
        present = set(keyword_tokens(indexed_text(hit.chunk)))
        matched = {term: round(weight, 3) for term, weight in weights.items() if term in present}
        explained.append(ExplainedHit(rank, hit, working_id(hit.chunk.id) == cited, matched))
    return explained
