"""A customer's photo with their question: the product the workspace's recogniser sees in it and the text
in it (a model code, an error on a screen, a label) are asked with the question, so "这个错误什么意思？"
and a photo of an R7's screen showing "E3" finds the R7's E3 passage.

What was seen goes into the question, and the question is recorded like any other (under the
workspace's privacy rules), so an agent who takes the conversation reads it too; the desk keeps the photo
itself with the message (see :meth:`~zhiwen.services.desk.desk.DeskService.keep_photo`)."""

from __future__ import annotations

from dataclasses import dataclass

from zhiwen.errors import InvalidInput
from zhiwen.services.vision.service import Recognition

MAX_READ_CHARS = 300  # a label or a screen, not a page: the question must stay the customer's
PRODUCT_NAMED_ABOVE = 0.9  # from this probability the product joins the question: a wrong one misleads


@dataclass(frozen=True)
class PhotoQuestion:
    question: str  # as asked, with what the photo shows after it
    read: str  # the text read in the photo ("" when it has none)
    product: str | None  # the product recognised in it, when the recogniser is sure enough


def with_photo(seen: Recognition, question: str, max_chars: int) -> PhotoQuestion:
    """``question`` followed by the photo's product and text, within ``max_chars`` in all."""
    product = seen.product if seen.product and seen.probability >= PRODUCT_NAMED_ABOVE else None
    read = " ".join(seen.text.split())
    shown = " ".join(part for part in (product or "", read) if part)
    if not shown:
        return PhotoQuestion(question, "", None)
    room = min(MAX_READ_CHARS, max_chars - len(question) - 1)
    if room < 10:
        raise InvalidInput("the question is too long to ask with a photo; shorten it")
    asked = shown[:room]
    return PhotoQuestion(f"{question}\n{asked}", asked.removeprefix(product or "").strip(), product)
