"""Images (photos of a label, a scanned page): their text read by OCR, one section."""

from __future__ import annotations

from zhiwen.parsers.base import ParsedDocument, ReadText, SectionCollector, add_text_lines, stem_title

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})


def parse_image(name: str, data: bytes, read_text: ReadText) -> ParsedDocument:
    title = stem_title(name)
    collector = SectionCollector(title)
    add_text_lines(collector, read_text(name, data))
    return ParsedDocument(title=title, sections=collector.sections)
