"""Turn an uploaded file into sections and FAQ entries. One module per family of formats.

Every parser raises a :class:`~zhiwen.errors.InvalidInput` subclass naming the file and the problem; none
returns partial results for a file it could not read whole.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath

from zhiwen.errors import EmptyDocument, UnsupportedFormat
from zhiwen.parsers.base import FaqEntry, ParsedDocument, ReadText
from zhiwen.parsers.docx import parse_docx
from zhiwen.parsers.html import parse_html, parse_markdown
from zhiwen.parsers.image import IMAGE_SUFFIXES, parse_image
from zhiwen.parsers.jsonl import parse_jsonl
from zhiwen.parsers.pdf import parse_pdf
from zhiwen.parsers.tables import parse_csv, parse_xlsx
from zhiwen.parsers.text import parse_text

__all__ = ["SUPPORTED_SUFFIXES", "FaqEntry", "ParsedDocument", "parse"]

Parser = Callable[[str, bytes], ParsedDocument]

_PARSERS: dict[str, Parser] = {
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".txt": parse_text,
    ".text": parse_text,
    ".html": parse_html,
    ".htm": parse_html,
    ".pdf": parse_pdf,
    ".docx": parse_docx,
    ".csv": parse_csv,
    ".xlsx": parse_xlsx,
    ".jsonl": parse_jsonl,
}
SUPPORTED_SUFFIXES = frozenset(_PARSERS) | IMAGE_SUFFIXES


def parse(name: str, data: bytes, read_text: ReadText | None = None) -> ParsedDocument:
    """``read_text`` (OCR) reads images and scanned PDF pages; without it, images are refused."""
    suffix = PurePath(name).suffix.lower()
    parsers = dict(_PARSERS)
    if read_text is not None:
        parsers[".pdf"] = lambda n, d: parse_pdf(n, d, read_text)
        parsers.update(dict.fromkeys(IMAGE_SUFFIXES, lambda n, d: parse_image(n, d, read_text)))
    parser = parsers.get(suffix)
    if parser is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UnsupportedFormat(
            f"{name}: {suffix or 'no extension'} files are not supported (use {supported})"
        )
    if not data.strip():
        raise EmptyDocument(f"{name}: the file is empty")
    parsed = parser(name, data)
    if not parsed.sections and not parsed.faq:
        by_ocr = read_text is not None and (suffix in IMAGE_SUFFIXES or suffix == ".pdf")
        raise EmptyDocument(f"{name}: no text was found in it{', by OCR either' if by_ocr else ''}")
    return parsed
