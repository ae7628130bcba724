"""Images (photos of a label, a scanned page): their text read by OCR, one section."""

from __future__ import annotations

from collections.abc import Callable

from zhiwen.parsers.base import ParsedDocument, SectionCollector, stem_title
from zhiwen.parsers.pdf import looks_like_heading, unwrap_lines
from zhiwen.text.normalize import normalize

ReadText = Callable[[str, bytes], str]  # the OCR port's ``read``: (file name, image bytes) -> text
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})


def add_read_text(collector: SectionCollector, text: str, suffix: str = "") -> None:
    """OCR lines as paragraphs and headings, as a PDF page's text is (the same line rules apply)."""
    for paragraph in unwrap_lines(normalize(text)).split("\n\n"):
        if looks_like_heading(paragraph):
            collector.heading(2, paragraph, suffix=suffix)
        elif paragraph:
            collector.paragraph(paragraph)
    collector.flush(suffix=suffix)


def parse_image(name: str, data: bytes, read_text: ReadText) -> ParsedDocument:
    title = stem_title(name)
    collector = SectionCollector(title)
    add_read_text(collector, read_text(name, data))
    return ParsedDocument(title=title, sections=collector.sections)
