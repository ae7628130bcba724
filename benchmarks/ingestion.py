"""Ingestion speed: time-to-keyword-searchable for a 100-page PDF, embedding throughput (engine vs pipeline),
and re-ingesting an unchanged folder.

    python benchmarks/ingestion.py
"""

from __future__ import annotations

import io
import json
import random
import tempfile
import time
from pathlib import Path

from pypdf import PdfReader
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from benchmarks.common import machine
from zhiwen.adapters.embedders import BundledE5Embedder
from zhiwen.config import Settings
from zhiwen.sample_kb import build_sample_kb
from zhiwen.services.knowledge.embedding import embedding_text
from zhiwen.services.knowledge.ingest import discover
from zhiwen.wiring import build_services

WORDS = (
    "battery",
    "charge",
    "warranty",
    "refund",
    "delivery",
    "courier",
    "invoice",
    "router",
    "mesh",
    "filter",
    "brush",
    "vacuum",
    "screen",
    "display",
    "pairing",
    "bluetooth",
    "firmware",
    "update",
    "reset",
    "button",
    "light",
    "indicator",
    "temperature",
    "storage",
    "account",
    "password",
    "points",
    "coupon",
    "member",
    "tier",
    "order",
    "address",
    "payment",
    "instalment",
    "express",
    "remote",
    "region",
    "inspection",
    "exchange",
)


def hundred_page_manual(pages: int = 100, edit: int | None = None) -> tuple[bytes, str]:
    """A real ``pages``-page PDF, about 400 words a page; the last page holds a phrase to search for.
    ``edit`` adds a sentence to that page: the same manual revised."""
    rng = random.Random(7)
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=True)
    for page in range(1, pages + 1):
        pdf.setFont("Helvetica-Bold", 14)
        pdf.drawString(60, 790, f"Chapter {page}")
        pdf.setFont("Helvetica", 10)
        for line in range(44):
            words = " ".join(rng.choice(WORDS) for _ in range(9))
            pdf.drawString(60, 765 - line * 16, f"{words.capitalize()}.")
        if page == edit:
            pdf.drawString(60, 56, "Revised: replace the filter every 90 days.")
        if page == pages:
            pdf.drawString(60, 40, "The final calibration code is QX-4471.")
        pdf.showPage()
    pdf.save()
    data = buffer.getvalue()
    assert len(PdfReader(io.BytesIO(data)).pages) == pages
    return data, "QX-4471 calibration code"


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="zhiwen-ingest-bench-"))
    embedder = BundledE5Embedder(num_threads=2)
    services = build_services(Settings(data_dir=root / "data"), embedder=embedder)
    workspace = services.workspaces.create_workspace("bench")
    report: dict[str, object] = {"machine": machine()}

    pdf, query = hundred_page_manual()
    started = time.perf_counter()
    result = services.ingest.ingest_bytes(workspace.id, "manual.pdf", pdf)
    hits = services.retriever.retrieve(workspace.id, query, k=1, mode="keyword").hits
    report["pdf_pages"] = 100
    report["pdf_chunks"] = result.chunks
    report["pdf_keyword_searchable_s"] = round(time.perf_counter() - started, 3)
    report["pdf_found_last_page"] = bool(hits and "QX-4471" in hits[0].chunk.text)

    chunks = list(services.documents.iter_chunks(workspace.id))
    texts = [embedding_text(c) for c in chunks]
    tokens = embedder.count_tokens(texts)
    started = time.perf_counter()
    for start in range(0, len(texts), 16):
        embedder.embed_passages(texts[start : start + 16])
    engine_s = time.perf_counter() - started
    started = time.perf_counter()
    services.embedding_worker.run_until_done()
    pipeline_s = time.perf_counter() - started
    report["embed_tokens"] = tokens
    report["engine_tokens_per_s"] = round(tokens / engine_s)
    report["pipeline_tokens_per_s"] = round(tokens / pipeline_s)

    # The manual revised (a sentence added on page 60) and uploaded again: only what changed is embedded
    # again. (Removing a page would renumber the later ones, and a chunk's headings carry its page.)
    revised, _ = hundred_page_manual(edit=60)
    started = time.perf_counter()
    services.ingest.ingest_bytes(workspace.id, "manual.pdf", revised)
    report["pdf_revised_chunks_embedded_again"] = services.documents.count_chunks_needing_vectors(
        workspace.id
    )
    services.embedding_worker.run_until_done()
    report["pdf_revised_upload_and_embedding_s"] = round(time.perf_counter() - started, 2)

    folder = build_sample_kb(root / "kb")
    files = discover([folder])
    started = time.perf_counter()
    services.ingest.ingest_paths(workspace.id, files, base=folder)
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    again = services.ingest.ingest_paths(workspace.id, files, base=folder)
    second_s = time.perf_counter() - started
    assert all(r.status == "unchanged" for r in again)
    report["folder_files"] = len(files)
    report["folder_first_ingest_s"] = round(first_s, 3)
    report["folder_reingest_unchanged_s"] = round(second_s, 4)
    report["reingest_speedup"] = round(first_s / second_s, 1)
    pending = services.documents.count_chunks_needing_vectors(workspace.id)
    started = time.perf_counter()
    services.embedding_worker.run_until_done()
    embedding_s = time.perf_counter() - started
    report["folder_embedding_s"] = round(embedding_s, 2)
    report["folder_reingest_speedup_including_embedding"] = round((first_s + embedding_s) / second_s, 1)
    report["folder_chunks_embedded"] = pending
    services.close()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
