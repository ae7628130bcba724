"""What every parser returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath

from zhiwen.text.chunking import Section


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
