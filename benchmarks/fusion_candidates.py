"""Dump per-query keyword/vector candidates for a BEIR set, to compare fusion rules offline.

python benchmarks/fusion_candidates.py ../shared/data/retrieval/stackfaq_dev .bench/stackfaq.pkl
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

from zhiwen.config import Settings
from zhiwen.services.bench import index_corpus, load_beir
from zhiwen.wiring import build_services


def main() -> None:
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    data = load_beir(source)
    settings = Settings(data_dir=Path(".bench") / source.name, candidates=100)
    services = build_services(settings)
    try:
        workspace = services.workspaces.get_workspace("bench")
    except Exception:
        workspace = services.workspaces.create_workspace("bench")
        print(
            index_corpus(
                data,
                workspace.id,
                services.ingest,
                services.embedding_worker,
                embed=True,
                on_progress=lambda s, d, t: print(s, d, t, file=sys.stderr),
            )
        )
    rows = []
    for query_id, text in data.queries.items():
        result = services.retriever.retrieve(workspace.id, text, k=100, mode="hybrid")
        chunks = services.documents.get_chunks(workspace.id, [c.chunk_id for c in result.candidates])
        sources = {
            cid: services.documents.get_document(workspace.id, ch.document_id).source.removesuffix(".jsonl")
            for cid, ch in chunks.items()
        }
        rows.append(
            (
                query_id,
                text,
                data.qrels[query_id],
                [
                    (sources[c.chunk_id], c.keyword, c.vector, c.keyword_rank, c.vector_rank)
                    for c in result.candidates
                ],
            )
        )
    target.write_bytes(pickle.dumps(rows))
    print("wrote", len(rows))


if __name__ == "__main__":
    main()
