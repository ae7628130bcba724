"""The one reader of JSON Lines, as the format defines them: one JSON value per ``\\n``-ended line.

``str.splitlines`` is not a JSON Lines reader: it also breaks at U+2028, U+2029, U+0085 and form feeds,
which JSON allows raw inside strings, so a curated answer or a document holding one was cut in two and
refused. Deeply nested values make Python's parser raise ``RecursionError``; they are reported as bad
lines here like any other malformed JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    number: int  # 1-based
    value: object = None
    error: str | None = None  # why the line is not JSON; None when ``value`` holds it


def loads(text: str) -> object:
    """``json.loads`` that reports too-deep nesting as the ``ValueError`` it is, not a crash."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def json_lines(text: str) -> Iterator[Line]:
    """Every non-blank line of ``text``, parsed, with its line number."""
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield Line(number, loads(line.removesuffix("\r")))
        except json.JSONDecodeError as error:
            yield Line(number, error=error.msg)
        except ValueError as error:
            yield Line(number, error=str(error))
