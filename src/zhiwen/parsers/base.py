"""What every parser returns."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath

from zhiwen.errors import CorruptFile
from zhiwen.text.chunking import Section
from zhiwen.text.normalize import normalize

ReadText = Callable[..., str]  # the OCR port's ``read(name, image bytes, shrink=False)``: the text in it


@dataclass(frozen=True)
class FaqEntry:
    question: str
    answer: str


@dataclass
class ParsedDocument:
    title: str
    sections: list[Section] = field(default_factory=list)
    faq: list[FaqEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def stem_title(name: str) -> str:
    return PurePath(name).stem.replace("_", " ").replace("-", " ").strip() or name


class HeadingPath:
    """The chain of headings above the current text, whatever levels a document skips or starts at."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._stack: list[tuple[int, str]] = []

    def enter(self, level: int, heading: str) -> None:
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        if heading != self.title or self._stack:
            self._stack.append((level, heading))

    def __str__(self) -> str:
        return " > ".join([self.title, *(text for _, text in self._stack)])


class SectionCollector:
    """Paragraphs gathered under the heading path they appear below, one Section per run of text."""

    def __init__(self, title: str) -> None:
        self.path = HeadingPath(title)
        self.sections: list[Section] = []
        self._paragraphs: list[str] = []

    def heading(self, level: int, text: str, suffix: str = "") -> None:
        self.flush(suffix)
        self.path.enter(level, text)

    def paragraph(self, text: str) -> None:
        if text:
            self._paragraphs.append(text)

    def flush(self, suffix: str = "") -> None:
        """Close the current section; ``suffix`` is appended to its title path (a PDF page number)."""
        text = normalize("\n\n".join(self._paragraphs))
        if text:
            self.sections.append(Section(f"{self.path}{suffix}", text))
        self._paragraphs.clear()


MAX_EXPANDED_BYTES = 200 * 1024 * 1024  # what an Office file (a zip) may unpack to
MAX_COMPRESSION_RATIO = 200  # real documents compress 2-20x; bombs compress thousands of times


def refuse_zip_bombs(name: str, data: bytes) -> None:
    """Office files are zips of XML: check what they unpack to before any XML parser sees them."""
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError):
        return  # not a zip at all: the format's parser names that problem
    expanded = sum(m.file_size for m in members)
    squeezed = max(
        (m.file_size / max(m.compress_size, 1) for m in members if m.file_size > 1024 * 1024), default=1.0
    )
    if expanded > MAX_EXPANDED_BYTES or squeezed > MAX_COMPRESSION_RATIO:
        raise CorruptFile(
            f"{name}: unpacks to {expanded:,} bytes ({squeezed:.0f}x its compressed size); "
            "this looks like a zip bomb, not a document"
        )


def unwrap_lines(text: str) -> str:
    """Rejoin lines the PDF's layout wrapped: a line nearly as long as the page's longest continues.

    Shorter lines, and lines that finish a sentence, end a paragraph or are headings.
    """
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines:
        return ""
    longest = max(len(line) for line in lines)
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if current:
            space = " " if current[-1].isascii() and line[0].isascii() else ""
            current = f"{current}{space}{line}"
        else:
            current = line
        if len(line) < 0.8 * longest or line.endswith(("。", "！", "？", ".", "!", "?")):
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return "\n\n".join(paragraphs)


def looks_like_heading(paragraph: str) -> bool:
    """PDF text has no markup: a short line with no sentence punctuation is taken for a heading."""
    return 0 < len(paragraph) <= 40 and not re.search(r"[。！？，,.!?:：；;]", paragraph)


def add_text_lines(collector: SectionCollector, text: str, suffix: str = "") -> None:
    """Plain lines with no markup (a PDF page's text, what OCR read) as paragraphs and headings."""
    for paragraph in unwrap_lines(normalize(text)).split("\n\n"):
        if looks_like_heading(paragraph):
            collector.heading(2, paragraph, suffix=suffix)
        elif paragraph:
            collector.paragraph(paragraph)
    collector.flush(suffix=suffix)
