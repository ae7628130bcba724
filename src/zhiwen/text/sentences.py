"""Sentence boundaries for Chinese and English text."""

from __future__ import annotations

import re

# After Chinese terminal punctuation (with closing quotes), or English .?! followed by space and a capital,
# digit or CJK character, or any newline. Semicolons do not end a sentence: the clause after one often
# completes the answer ("…当天发货；16:00 之后…次日发货").
_BOUNDARY = re.compile(
    r"(?<=[。！？!?…])[”’」』)]*\s*"
    r"|(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\u4e00-\u9fff\"'(])"
    r"|\n+"
)


_LIST_NUMBER = re.compile(r"\d{1,3}[.)]")  # "1. 有效期结束后…": the number is not a sentence
_LIST_ITEM = re.compile(r"(?:[-*•·]\s|\d{1,3}[.)]\s|\d{1,3}、)\S")  # not "3.5 GB", "-5°C"


def is_list_item(line: str) -> bool:
    """Does ``line`` start an item of a list ("- …", "• …", "1. …", "2) …", "3、…")?"""
    return bool(_LIST_ITEM.match(line))


def split_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    for piece in (s.strip() for s in _BOUNDARY.split(text) if s and s.strip()):
        if sentences and _LIST_NUMBER.fullmatch(sentences[-1]):
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    return sentences
