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


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _BOUNDARY.split(text) if s and s.strip()]
