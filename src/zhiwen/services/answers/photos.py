"""A customer's photo with their question: the text in it (a model code, an error on a screen, a label)
is read and asked with the question, so "这个错误什么意思？" and a photo of "E3" finds the E3 passage.

The photo itself is not kept: what was read goes into the question, and the question is recorded like
any other (under the workspace's privacy rules)."""

from __future__ import annotations

from dataclasses import dataclass

from zhiwen.errors import InvalidInput
from zhiwen.ports import Ocr

MAX_READ_CHARS = 300  # a label or a screen, not a page: the question must stay the customer's


@dataclass(frozen=True)
class PhotoQuestion:
    question: str  # as asked, with what the photo shows after it
    read: str  # the text read in the photo ("" when it has none)


def with_photo(ocr: Ocr, question: str, image: bytes, max_chars: int) -> PhotoQuestion:
    """``question`` followed by the photo's text, within ``max_chars`` in all."""
    read = " ".join(ocr.read("photo", image).split())
    room = min(MAX_READ_CHARS, max_chars - len(question) - 1)
    if not read:
        return PhotoQuestion(question, "")
    if room < 10:
        raise InvalidInput("the question is too long to ask with a photo; shorten it")
    read = read[:room]
    return PhotoQuestion(f"{question}\n{read}", read)
