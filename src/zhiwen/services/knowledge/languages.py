"""Where a knowledge base's Chinese and English passages sit in the embedding space.

E5 is multilingual, but a question's cosines to passages of its own language run higher than to a passage
that says the same in the other language. In the sample bank's tuning half, a question asked in one language
about a fact only the other language's documents state was answered right once in 31 (docs/benchmarks.md,
"Session 34"); session 33 found the right document the first of its language in the dense ranking for 40
of 54 such questions, yet below every passage of the question's language. The difference between the
knowledge's mean passage vectors of the two languages is mostly that bias (the topics are the same), so a
question moved by it is as close to the other language's passages as to its own (docs/answers.md,
"Questions in the other language"). Review topics centre each language the same way, on vectors they
hold already (:func:`zhiwen.services.reviews.topics.language_means`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from zhiwen.ports import DocumentStore, Vector, VectorIndex
from zhiwen.services.knowledge.embedding import embedding_text, embeds_as_query
from zhiwen.text.normalize import detect_language
from zhiwen.types import Chunk

LANGUAGES = ("zh", "en")
SAMPLE = 2000  # passages of each language averaged: the mean settles long before
# Read to find them, once per change of the documents (on the request that first needs them): at most so
# many chunks, of at most so many documents (a knowledge base of short entries is a document each).
SCANNED = 50_000
SCANNED_DOCUMENTS = 1_000
DOCUMENT_PAGE = 200
LEAST = 20  # fewer passages of a language than this and its mean says more about them than about it


@dataclass(frozen=True)
class LanguageMeans:
    """The mean passage vector of each language the knowledge has enough of. ``complete``: no sampled
    passage still waits for the embedder (right after an upload, some do)."""

    means: dict[str, Vector]
    complete: bool = True

    def other_than(self, language: str) -> str | None:
        """The knowledge's other language, where it has passages in ``language`` and in another."""
        other = next((lang for lang in LANGUAGES if lang != language), None)
        return other if language in self.means and other in self.means else None

    def moved(self, question: Vector, language: str) -> Vector | None:
        """``question`` moved from its language's passages to the other's, normalised; None when the
        knowledge lacks either language."""
        other = self.other_than(language)
        if other is None:
            return None
        moved = question + self.means[other] - self.means[language]
        norm = float(np.linalg.norm(moved))
        return (moved / norm).astype(np.float32) if norm > 0 else None


def knowledge_language_means(store: DocumentStore, vectors: VectorIndex, workspace_id: str) -> LanguageMeans:
    """The means of up to :data:`SAMPLE` passages of each language among the first :data:`SCANNED`
    chunks of the first :data:`SCANNED_DOCUMENTS` documents (a language needs :data:`LEAST` with
    vectors). Short standalone texts are left out: they are embedded as queries (:func:`embeds_as_query`).
    11,344 one-entry documents (afqmc_train_faq) take 66 ms; the sample knowledge bases 16-17 ms."""
    sampled: dict[str, list[str]] = {lang: [] for lang in LANGUAGES}
    for chunk in itertools.islice(_chunks(store, workspace_id), SCANNED):
        if not embeds_as_query(chunk):
            ids = sampled[passage_language(chunk)]
            if len(ids) < SAMPLE:
                ids.append(chunk.id)
        if all(len(ids) >= SAMPLE for ids in sampled.values()):
            break
    means, embedded = {}, 0
    for lang, ids in sampled.items():
        found = vectors.mean(workspace_id, ids)
        embedded += found[1] if found else 0
        if found is not None and found[1] >= LEAST:
            means[lang] = found[0]
    # Chunks that never get a vector (an embedder that failed on them) must not make it read for ever.
    waiting = (
        embedded < sum(map(len, sampled.values())) and store.count_chunks_needing_vectors(workspace_id) > 0
    )
    return LanguageMeans(means, complete=not waiting)


def passage_language(chunk: Chunk) -> str:
    """The language a chunk is embedded in."""
    return detect_language(embedding_text(chunk))


def _chunks(store: DocumentStore, workspace_id: str) -> Iterator[Chunk]:
    """The workspace's chunks, document by document (a large knowledge base is never read whole)."""
    for offset in range(0, SCANNED_DOCUMENTS, DOCUMENT_PAGE):
        documents = store.list_documents(workspace_id, DOCUMENT_PAGE, offset)
        for document in documents:
            yield from store.document_chunks(workspace_id, document.id)
        if len(documents) < DOCUMENT_PAGE:
            return
