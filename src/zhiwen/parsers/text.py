"""Plain text: one section, paragraphs separated by blank lines."""

from __future__ import annotations

from zhiwen.parsers.base import ParsedDocument, stem_title
from zhiwen.text.chunking import Section
from zhiwen.text.normalize import decode, normalize


def parse_text(name: str, data: bytes) -> ParsedDocument:
    text = normalize(decode(data, name))
    title = stem_title(name)
    return ParsedDocument(title=title, sections=[Section(title, text)] if text else [])
