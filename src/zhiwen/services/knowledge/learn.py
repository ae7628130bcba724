"""Training the re-ranker on a workspace's own question–answer pairs (golden sets, approved feedback)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import numpy as np

from zhiwen.ports import DocumentStore, Embedder
from zhiwen.services.answers.config import AnswerConfig
from zhiwen.services.knowledge.fusion import spread_weighted_fusion
from zhiwen.services.knowledge.rerank import Memory, Reranker
from zhiwen.services.knowledge.retrieve import Retriever
from zhiwen.services.lifecycle.golden import GoldenItem
from zhiwen.text.normalize import squash

Pair = tuple[str, set[str]]  # a question and the content hashes of the chunks that answer it


def golden_pairs(store: DocumentStore, workspace_id: str, items: Sequence[GoldenItem]) -> list[Pair]:
    """Answerable golden questions with the chunks that answer them: chunks of an expected document that
    contain an expected answer; all its chunks when none does (the line names only the document); chunks
    anywhere containing the answer when no document is named."""
    chunks = list(store.iter_chunks(workspace_id))
    sources = {d.id: d.source for d in store.list_documents(workspace_id, limit=1_000_000)}
    squashed = [squash(c.text) for c in chunks]
    pairs = []
    for item in items:
        if not item.answerable:
            continue
        wanted = [squash(a) for a in item.expected_answers if squash(a)]
        in_docs = [i for i, c in enumerate(chunks) if sources.get(c.document_id) in item.expected_documents]
        pool = in_docs or range(len(chunks))
        matched = [i for i in pool if any(w in squashed[i] for w in wanted)]
        chosen = matched or (in_docs if in_docs else [])
        if chosen:
            pairs.append((item.question, {chunks[i].content_hash for i in chosen}))
    return pairs


def train_reranker(
    retriever: Retriever,
    embedder: Embedder,
    workspace_id: str,
    pairs: Sequence[Pair],
    config: AnswerConfig,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> Reranker:
    """Fit on ``pairs``; each question is retrieved with the memory of all *other* training questions,
    exactly as an unseen question would be."""
    questions = [q for q, _ in pairs]
    vectors = np.vstack(
        [embedder.embed_questions(questions[i : i + 64]) for i in range(0, len(questions), 64)]
    )
    memory = Memory(questions, vectors.astype(np.float32), [sorted(h) for _, h in pairs])
    fusion = partial(spread_weighted_fusion, weight=config.keyword_weight, reference=config.spread_reference)
    groups = []
    for done, (question, relevant) in enumerate(pairs, start=1):
        pool = retriever.pool(
            workspace_id,
            question,
            config.top_k,
            "hybrid",
            candidates=config.candidates,
            fusion=fusion,
            memory=memory,
            exclude_from_memory=question,
        )
        if pool.fused:
            shortlist, features = retriever.shortlist(workspace_id, question, pool)
            groups.append((features, np.asarray([int(c.content_hash in relevant) for c in shortlist])))
        on_progress(done, len(pairs))
    return Reranker(memory).fit(groups)
