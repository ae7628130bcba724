"""Compute embeddings for chunks that lack them: a batch at a time in the background loop
(:mod:`zhiwen.services.background`), or all at once in the foreground with progress."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

import numpy as np

from zhiwen.ports import DocumentStore, Embedder, VectorIndex
from zhiwen.processes import is_gone, this_process
from zhiwen.text.sentences import split_sentences
from zhiwen.types import Chunk

SHORT_TEXT_CHARS = 64
OTHERS_POLL_SECONDS = 0.2
MAX_SENTENCES = 40  # per chunk; a 600-character chunk rarely has more than a dozen


def sentence_texts(chunk: Chunk) -> list[str]:
    """The sentences of a chunk as the answer chooser compares them with a question, each under its
    headings ("Fees and times: Delivery takes 3–6 working days."). A whole chunk's vector blurs the one
    sentence that answers among its neighbours; the best sentence's similarity tells which of several
    retrieved passages states the answer (measured with the chooser fitted on the demo shop: answers
    composed from the chosen passage were right for 0.74 instead of 0.68 of the telecom help centre's
    answerable questions in customers' words)."""
    sentences = split_sentences(chunk.text)
    if chunk.kind == "faq" and chunk.question:
        sentences = [chunk.question, *sentences]
    heading = chunk.title_path
    return [f"{heading}: {s}" if heading else s for s in sentences[:MAX_SENTENCES]] or [chunk.text]


def embedding_text(chunk: Chunk) -> str:
    """FAQ entries are found by their question; passages carry their headings for context."""
    if chunk.kind == "faq" and chunk.question:
        return chunk.question
    return f"{chunk.title_path}\n{chunk.text}" if chunk.title_path else chunk.text


def embeds_as_query(chunk: Chunk) -> bool:
    """E5 uses "query: " on both sides for symmetric tasks (question ↔ question) and "passage: " for the
    paragraphs queries are matched against. A short text with no heading above it is a standalone utterance
    (a question bank entry), shaped like a query: embedding it as one lifted dense nDCG@10 on
    afqmc_train_faq from 0.211 to 0.230. A short section under a heading is part of a document, and FAQ
    entries compete in one ranking with document passages: symmetric scores sit higher than asymmetric ones,
    and embedding FAQ questions as queries let them crowd out better passages (demo answer accuracy
    0.90 → 0.88). Both stay passages."""
    return chunk.kind != "faq" and not chunk.title_path and len(chunk.text) <= SHORT_TEXT_CHARS


class EmbeddingWorker:
    """Embeds the chunks waiting for vectors, a batch at a time. Any number of these may run on one
    database (the server's worker process, ``zhiwen worker`` processes on other machines): each batch is
    claimed in this process's name first, so they embed different chunks, and a claim older than
    ``lease_seconds`` (its process was taken for dead) is taken over."""

    def __init__(
        self,
        store: DocumentStore,
        vectors: VectorIndex,
        embedder: Embedder,
        batch: int = 16,
        lease_seconds: float = 60.0,
    ) -> None:
        self._store = store
        self._vectors = vectors
        self._embedder = embedder
        self._batch = batch
        self._lease_seconds = lease_seconds
        self._step_lock = threading.Lock()
        self._tidied_for: str | None = None

    def step(self, document_id: str | None = None) -> int:
        """Embed one batch of pending chunks (only ``document_id``'s when given); returns how many were
        embedded (0 when nothing is pending)."""
        with self._step_lock:
            holder = this_process()
            if self._tidied_for != holder:
                # A worker process restarted after a crash must not wait out its predecessor's claims.
                self._release_claims_of_gone_processes()
                self._tidied_for = holder
            pending = self._store.claim_chunks_needing_vectors(
                self._batch, holder, time.time() - self._lease_seconds, document_id
            )
            if not pending:
                return 0
            try:
                self._embed(pending)
            except BaseException:
                # Tried again at once (or by another embedder), not after the claim's lease.
                self._store.release_vector_claims(holder)
                raise
            self._store.mark_embedded([c.id for c in pending], holder)
            return len(pending)

    def _embed(self, pending: list[Chunk]) -> None:
        by_workspace: dict[str, list[Chunk]] = {}
        for chunk in pending:
            by_workspace.setdefault(chunk.workspace_id, []).append(chunk)
        for workspace_id, chunks in by_workspace.items():
            for as_query in (True, False):
                group = [c for c in chunks if embeds_as_query(c) == as_query]
                if not group:
                    continue
                embed = self._embedder.embed_queries if as_query else self._embedder.embed_passages
                vectors = embed([embedding_text(c) for c in group])
                self._vectors.add(workspace_id, [c.id for c in group], vectors)
            self._embed_sentences(workspace_id, chunks)

    def _embed_sentences(self, workspace_id: str, chunks: list[Chunk]) -> None:
        texts = [sentence_texts(c) for c in chunks]
        flat = self._embedder.embed_passages([t for group in texts for t in group])
        bounds = np.cumsum([0, *(len(group) for group in texts)])
        self._vectors.add_sentences(
            workspace_id, [c.id for c in chunks], [flat[a:b] for a, b in itertools.pairwise(bounds)]
        )

    def embed_document(self, document_id: str) -> int:
        """Embed one document's waiting chunks now, ahead of everything uploaded before it: an answer an
        agent approved must be found by meaning at once, not once a big upload has been embedded. Chunks
        another embedder holds are left to it. Returns how many this one embedded."""
        total = 0
        while done := self.step(document_id):
            total += done
        return total

    def run_until_done(self, on_progress: Callable[[int], None] = lambda n: None) -> int:
        """Embed until no chunk waits for vectors (a release needs them all), helping any other embedder
        and waiting for the batches they hold; returns how many this one embedded."""
        total = 0
        while True:
            if done := self.step():
                total += done
                on_progress(done)
            elif self._store.count_chunks_needing_vectors():
                time.sleep(OTHERS_POLL_SECONDS)  # held by another embedder (or until its claim lapses)
                self._release_claims_of_gone_processes()
            else:
                return total

    def _release_claims_of_gone_processes(self) -> None:
        for gone in filter(is_gone, self._store.vector_claim_holders()):
            self._store.release_vector_claims(gone)
