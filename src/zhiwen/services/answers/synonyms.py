"""A company's synonyms: the words its customers use, mapped to the words its documents use.

Customers write "白金会员" where the membership page says "铂金卡", "价保" for "价格保护", "fapiao" for
"invoice". Neither keyword search nor the small embedding model can know a company's own names, so the
company says them once (`zhiwen synonyms add`), and a question is searched and read in the documents'
words. The customer's text is kept for everything they see.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from zhiwen.errors import InvalidInput
from zhiwen.services.records import lookup, read_records

MAX_SYNONYMS = 2000
MAX_TERM_CHARS = 50
SAID_COLUMNS = (
    "said",
    "customer",
    "customer word",
    "customers' word",
    "synonym",
    "synonyms",
    "同义词",
    "客户说法",
)
WRITTEN_COLUMNS = ("written", "documents", "documents' word", "document word", "term", "标准词", "文档用语")


def checked(synonyms: Mapping[str, str]) -> dict[str, str]:
    """The synonyms as stored (stripped, the customer's word lower-cased), or ValueError naming the first
    entry that cannot be one."""
    if len(synonyms) > MAX_SYNONYMS:
        raise ValueError(f"{len(synonyms):,} synonyms; at most {MAX_SYNONYMS:,}")
    cleaned: dict[str, str] = {}
    for said, written in synonyms.items():
        if not isinstance(said, str) or not isinstance(written, str):
            raise ValueError(f"synonym {said!r}: both words must be text")
        said_, written_ = " ".join(said.split()).lower(), " ".join(written.split())
        if not said_ or not written_:
            raise ValueError(f"synonym {said!r} → {written!r}: neither word may be empty")
        if max(len(said_), len(written_)) > MAX_TERM_CHARS:
            raise ValueError(f"synonym {said!r}: a word is at most {MAX_TERM_CHARS} characters")
        if said_ == written_.lower():
            raise ValueError(f"synonym {said!r}: the customer's word and the documents' are the same")
        cleaned[said_] = written_
    return cleaned


def synonyms_from_file(filename: str, data: bytes) -> dict[str, str]:
    """A table of synonyms (CSV, XLSX or JSONL; columns ``said`` and ``written``, or 同义词 and 标准词).
    One row may list several customer's words separated by ``|`` or ``、``. InvalidInput names the first
    row that cannot be read; nothing is kept from a file with one."""
    found: dict[str, str] = {}
    for row, record in read_records(filename, data):
        if "__error__" in record:
            raise InvalidInput(f"{filename} row {row}: {record['__error__']}")
        said, written = lookup(record, SAID_COLUMNS), lookup(record, WRITTEN_COLUMNS)
        if (
            not isinstance(said, str)
            or not isinstance(written, str)
            or not said.strip()
            or not written.strip()
        ):
            raise InvalidInput(
                f"{filename} row {row}: expected the customer's word(s) in a 'said' (同义词) column and the "
                "documents' word in a 'written' (标准词) column"
            )
        for word in re.split(r"[|、]", said):
            if word.strip():
                found[word.strip()] = written.strip()
    try:
        return checked(found)
    except ValueError as error:
        raise InvalidInput(f"{filename}: {error}") from None


def in_documents_words(text: str, synonyms: Mapping[str, str]) -> str:
    """``text`` with each customer's word replaced by the documents' word for it. At any place the longest
    word wins ("白金会员" before "白金"), and a documents' word already in the text is one too, so
    "扫地机" → "扫地机器人" leaves "扫地机器人" alone. Latin words match whole and in any case."""
    if not synonyms or not text:
        return text

    def replaced(match: re.Match[str]) -> str:
        return synonyms.get(" ".join(match.group(0).split()).lower(), match.group(0))

    return _pattern(tuple(sorted(synonyms.items()))).sub(replaced, text)


@lru_cache(maxsize=64)
def _pattern(pairs: tuple[tuple[str, str], ...]) -> re.Pattern[str]:
    words = {said for said, _ in pairs} | {written for _, written in pairs}
    return re.compile("|".join(_word(w) for w in sorted(words, key=len, reverse=True)), re.IGNORECASE)


def _word(word: str) -> str:
    escaped = re.escape(word).replace(r"\ ", r"\s+")
    # A Latin word matches whole; Chinese has no spaces to stop at.
    start = r"(?<![A-Za-z0-9])" if word[:1].isascii() and word[:1].isalnum() else ""
    end = r"(?![A-Za-z0-9])" if word[-1:].isascii() and word[-1:].isalnum() else ""
    return f"{start}{escaped}{end}"
