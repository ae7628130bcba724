"""Cut a parsed document into retrieval chunks that follow its structure.

Headings give each chunk its title path; paragraphs are packed whole up to ``max_chars``; a paragraph that
is too long is cut at sentence boundaries, and a sentence that is too long at ``max_chars``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from zhiwen.text.sentences import split_sentences


@dataclass(frozen=True)
class Section:
    title_path: str
    text: str


@dataclass(frozen=True)
class TextChunk:
    title_path: str
    text: str


def _pieces(paragraph: str, max_chars: int) -> Iterator[str]:
    if len(paragraph) <= max_chars:
        yield paragraph
        return
    for sentence in split_sentences(paragraph):
        for start in range(0, len(sentence), max_chars):
            yield sentence[start : start + max_chars]


def _joiner(left: str, right: str) -> str:
    """Chinese runs on without a space; English sentences are separated by one."""
    if left and right and left[-1].isascii() and right[0].isascii():
        return " "
    return ""


def chunk_sections(sections: Iterable[Section], max_chars: int) -> list[TextChunk]:
    chunks: list[TextChunk] = []
    for section in sections:
        buffer = ""
        for paragraph in (p.strip() for p in section.text.split("\n\n")):
            if not paragraph:
                continue
            flat = paragraph.replace("\n", " ") if paragraph.isascii() else paragraph  # wrapped English
            for piece in _pieces(flat, max_chars):
                # A paragraph starts a line; the pieces of one cut for length run on.
                separator = "\n" if buffer and piece is flat else _joiner(buffer, piece)
                if buffer and len(buffer) + len(separator) + len(piece) > max_chars:
                    chunks.append(TextChunk(section.title_path, buffer))
                    buffer = piece
                else:
                    buffer = f"{buffer}{separator}{piece}" if buffer else piece
        if buffer:
            chunks.append(TextChunk(section.title_path, buffer))
    return chunks
