"""Curated answers: what people approved, kept as FAQ entries of one working-knowledge document.

Being ordinary FAQ chunks, they are found by both keyword and dense search, frozen into releases with the
rest of the knowledge, and matched before anything else by
:class:`~zhiwen.services.answers.service.AnswerService`. They are embedded as soon as they are saved, not
in the background embedder's turn: until then only their keywords could find them.
"""

from __future__ import annotations

import json
import logging

from zhiwen.errors import InvalidInput, ZhiwenError
from zhiwen.ports import CuratedStore, DocumentStore
from zhiwen.services.knowledge.embedding import EmbeddingWorker
from zhiwen.services.knowledge.ingest import IngestService
from zhiwen.types import CURATED_SOURCE, CuratedAnswer

MAX_QUESTION_CHARS = 1000
MAX_ANSWER_CHARS = 4000
log = logging.getLogger(__name__)


def _clean(question: str | None, answer: str | None) -> tuple[str | None, str | None]:
    if question is not None:
        question = question.strip()
        if not question or len(question) > MAX_QUESTION_CHARS:
            raise InvalidInput(f"a curated question needs 1 to {MAX_QUESTION_CHARS} characters")
    if answer is not None:
        answer = answer.strip()
        if not answer or len(answer) > MAX_ANSWER_CHARS:
            raise InvalidInput(f"a curated answer needs 1 to {MAX_ANSWER_CHARS} characters")
    return question, answer


class CuratedService:
    def __init__(
        self,
        store: CuratedStore,
        documents: DocumentStore,
        ingest: IngestService,
        embedding: EmbeddingWorker,
    ) -> None:
        self._store = store
        self._documents = documents
        self._ingest = ingest
        self._embedding = embedding

    def add(
        self, workspace_id: str, question: str, answer: str, by: str, from_answer_id: str | None = None
    ) -> CuratedAnswer:
        q, a = _clean(question, answer)
        assert q is not None
        assert a is not None
        curated = self._store.add_curated(workspace_id, q, a, by, from_answer_id)
        self.sync(workspace_id)
        return curated

    def update(
        self,
        workspace_id: str,
        curated_id: str,
        by: str,
        question: str | None = None,
        answer: str | None = None,
        enabled: bool | None = None,
    ) -> CuratedAnswer:
        q, a = _clean(question, answer)
        curated = self._store.update_curated(workspace_id, curated_id, by, q, a, enabled)
        self.sync(workspace_id)
        return curated

    def delete(self, workspace_id: str, curated_id: str) -> None:
        self._store.delete_curated(workspace_id, curated_id)
        self.sync(workspace_id)

    def get(self, workspace_id: str, curated_id: str) -> CuratedAnswer:
        return self._store.get_curated(workspace_id, curated_id)

    def list_curated(self, workspace_id: str) -> list[CuratedAnswer]:
        return self._store.list_curated(workspace_id)

    def sync(self, workspace_id: str) -> None:
        """Rewrite the curated-answers document of the working knowledge from the enabled entries."""
        enabled = [c for c in self._store.list_curated(workspace_id) if c.enabled]
        if not enabled:
            existing = self._documents.find_document(workspace_id, CURATED_SOURCE)
            if existing is not None:
                self._ingest.delete_document(workspace_id, existing.id)
            return
        lines = "".join(
            json.dumps({"question": c.question, "answer": c.answer}, ensure_ascii=False) + "\n"
            for c in enabled
        )
        result = self._ingest.ingest_bytes(
            workspace_id, CURATED_SOURCE, lines.encode("utf-8"), tags=("curated",), dedup=False
        )
        if result.status == "failed":
            raise ZhiwenError(f"could not index the curated answers: {result.error}")
        assert result.document_id is not None
        try:
            self._embedding.embed_document(result.document_id)
        except Exception:  # already saved and keyword-searchable; the background embedder retries
            log.warning("curated answers of %s wait for the background embedder", workspace_id, exc_info=True)
