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
        follows = i + 1 < len(blocks)
        if len(lines) == 1 and follows and is_heading(lines[0]):
            # A line alone: "STEP 2: GET A NEW CARD"; a question alone is an entry of an FAQ's list.
            collector.heading(3 if _asks(lines[0]) else 2, lines[0])
        elif len(lines) > 1 and is_heading(lines[0]):
            # A line leading its paragraph ("一、如何开通", "…?") is a level below a line alone, unless it
            # is in capitals as those are ("STEP 1: …" alone, then "Report it by phone" leading its text).
            collector.heading(2 if _capitals(lines[0]) else 3, lines[0])
            _add_paragraphs(collector, lines[1:])
        else:
            _add_paragraphs(collector, lines)
    collector.flush()
    return ParsedDocument(title=title, sections=collector.sections)


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
