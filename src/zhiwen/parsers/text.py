"""Plain text: paragraphs separated by blank lines, with the headings a person writes without markup.

A help-centre page saved as text still has its structure: a title block on top ("LOST OR STOLEN CARDS" above
"Qinghe Bank Help Centre"), short lines alone ("STEP 1: LOCK YOUR CARD") and lines that lead their
paragraph ("一、如何开通", "How long does the battery last?"). Read as one run of text, every answer quoted
from such a file carried the title and the next entry's question; read as headings, they give each
paragraph its title path, as a Markdown file's do.
"""

from __future__ import annotations

import re

from zhiwen.parsers.base import ParsedDocument, SectionCollector, stem_title
from zhiwen.text.normalize import decode, normalize
from zhiwen.text.sentences import is_list_item

MAX_HEADING_CHARS = 80
MIN_PARAGRAPH_CHARS = 40  # what a line alone that is not written as a heading must head
# "1.", "2)", "一、", "STEP 1:", "第二章" before a heading's words.
_NUMBERING = re.compile(
    r"^(?:\d+[.、)]|[一二三四五六七八九十]+、|step \d+:|第[一二三四五六七八九十\d]+[章节部分条])\s*", re.I
)
_BULLET = re.compile(r"^[-*•·]\s")
_ENDS_CLAUSE = re.compile(r"[。.!！;；,，:：]$")
_INSIDE_SENTENCE = re.compile(r"[。；;]|[.!] ")
_LISTS_OR_LABELS = re.compile(r"[,，:：]")  # "广州：天河区…" is a line of text, "A, B" a list


def parse_text(name: str, data: bytes) -> ParsedDocument:
    blocks = [
        lines
        for block in re.split(r"\n\s*\n", normalize(decode(data, name)))
        if (lines := [line.strip() for line in block.split("\n") if line.strip()])
    ]
    title = stem_title(name)
    if len(blocks) > 1 and all(is_heading(line) for line in blocks[0]) and not _asks(blocks[0][0]):
        title = " · ".join(blocks[0])  # a title block: the title and what it belongs to ("… Help Centre")
        blocks = blocks[1:]
    collector = SectionCollector(title)
    for i, lines in enumerate(blocks):
        level = _heading_level(lines, blocks[i + 1] if i + 1 < len(blocks) else None)
        if level is None:
            _add_paragraphs(collector, lines)
            continue
        collector.heading(level, lines[0])
        _add_paragraphs(collector, lines[1:])
    collector.flush()
    return ParsedDocument(title=title, sections=collector.sections)


def _heading_level(lines: list[str], following: list[str] | None) -> int | None:
    """The level of the heading ``lines`` (a block) starts with, or None when it starts with text.

    - A line alone ("STEP 2: GET A NEW CARD") heads what follows, at level 2 (a question alone, an FAQ's
      entry, at 3), when something follows that it can head: not another line alone that could be its
      equal ("Opening hours" then "Monday to Friday 9am to 6pm" then "Saturday 10am to 4pm" are lines of
      text), and, unless it is written as a heading (capitals, a number, a question), a paragraph.
    - A line leading its block ("一、如何开通", "Which devices does the K2 work with?") heads the rest, at
      level 3 (2 in capitals), when it is shorter than the lines after it: the first line of a wrapped
      paragraph is about as long as the next.
    """
    first = lines[0]
    if not is_heading(first):
        return None
    if len(lines) > 1:
        if not _asks(first) and len(first) > 0.8 * max(len(line) for line in lines[1:]):
            return None
        return 2 if _capitals(first) else 3
    if following is None or (len(following) == 1 and is_heading(following[0])):
        return None
    marked = _capitals(first) or _asks(first) or bool(_NUMBERING.match(first))
    if not marked and len(following) == 1 and len(following[0]) < MIN_PARAGRAPH_CHARS:
        return None
    return 3 if _asks(first) else 2


def _add_paragraphs(collector: SectionCollector, lines: list[str]) -> None:
    """A block's lines as paragraphs: each item of a list starts one ("- …", "1. …"), and the lines that
    follow it, wrapped, continue it."""
    paragraph: list[str] = []
    for line in lines:
        if is_list_item(line) and paragraph:
            collector.paragraph("\n".join(paragraph))
            paragraph = []
        paragraph.append(line)
    collector.paragraph("\n".join(paragraph))


def is_heading(line: str) -> bool:
    """A short line that names what follows: no sentence inside it, and it ends as a name or a question
    does, not as a clause ("钱包等级取决于实名程度：" leads a list, it is not a heading)."""
    words = _NUMBERING.sub("", line)
    if not words or len(line) > MAX_HEADING_CHARS or _BULLET.match(line) or _ENDS_CLAUSE.search(words):
        return False
    if _asks(words):
        return not _INSIDE_SENTENCE.search(words[:-1])
    return not _INSIDE_SENTENCE.search(words) and (_capitals(words) or not _LISTS_OR_LABELS.search(words))


def _capitals(line: str) -> bool:
    """In capitals ("ATM CASH SERVICES: DEPOSITS, …"): a heading's way of writing, not a sentence's."""
    return any(c.isalpha() and c.isascii() for c in line) and line.upper() == line


def _asks(line: str) -> bool:
    return line.endswith(("?", "？"))
