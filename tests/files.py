"""Real files for tests, generated on the fly: PDF (Chinese via reportlab's CID font), DOCX, XLSX."""

from __future__ import annotations

import io

from pypdf import PdfReader, PdfWriter

from zhiwen.sample_kb.render import markdown_to_docx, markdown_to_pdf, rows_to_xlsx


def pdf(markdown: str) -> bytes:
    return markdown_to_pdf(markdown)


def encrypted_pdf(markdown: str, password: str = "secret") -> bytes:
    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(pdf(markdown))).pages:
        writer.add_page(page)
    writer.encrypt(password)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def docx(markdown: str) -> bytes:
    return markdown_to_docx(markdown)


def xlsx(rows: list[list[str]]) -> bytes:
    return rows_to_xlsx(rows)
