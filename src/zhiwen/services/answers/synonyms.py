"""A company's synonyms: the words its customers use, mapped to the words its documents use.

Customers write "白金会员" where the membership page says "铂金卡", "价保" for "价格保护", "postage" for
"shipping". Neither keyword search nor the small embedding model can know a company's own names, so the
company says them once (`zhiwen synonyms add`), and a question is searched, ranked and extracted in the
documents' words. The customer's text is kept for everything they see (and for an LLM, which knows words).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from zhiwen.errors import InvalidInput
from zhiwen.services.records import lookup, read_records
from zhiwen.text.normalize import chinese_chars, normalize
from zhiwen.text.tokenize import dictionary_edges

MAX_SYNONYMS = 2000
MAX_TERM_CHARS = 50
SEPARATORS = ",，、|"  # between several customer's words in one cell or console line; never inside a word
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
_SEPARATOR = re.compile(f"[{re.escape(SEPARATORS)}]")


def said_key(word: str) -> str:
    """A customer's word as stored and looked up: normalised (full-width → half-width), lower-case."""
    return normalize(word).lower()


def checked(synonyms: Mapping[str, str]) -> dict[str, str]:
    """The synonyms as stored (normalised; the customer's word lower-cased), or ValueError naming the
    first entry that cannot be one."""
    if len(synonyms) > MAX_SYNONYMS:
        raise ValueError(f"{len(synonyms):,} synonyms; at most {MAX_SYNONYMS:,}")
    cleaned: dict[str, str] = {}
    for said, written in synonyms.items():
        if not isinstance(said, str) or not isinstance(written, str):
            raise ValueError(f"synonym {said!r}: both words must be text")
        said_, written_ = said_key(said), normalize(written)
        if not said_ or not written_:
            raise ValueError(f"synonym {said!r} → {written!r}: neither word may be empty")
        if max(len(said_), len(written_)) > MAX_TERM_CHARS:
            raise ValueError(f"synonym {said!r}: a word is at most {MAX_TERM_CHARS} characters")
        if said_ == written_.lower():
            raise ValueError(f"synonym {said!r}: the customer's word and the documents' are the same")
        if not any(ch.isalnum() for ch in said_) or "\n" in said_ + written_:
            raise ValueError(f"synonym {said!r}: a word needs a letter, digit or character, on one line")
        if _SEPARATOR.search(said_ + written_) or "=" in said_ + written_:
            raise ValueError(f"synonym {said!r} → {written!r}: a word may not hold {SEPARATORS} or =")
        if cleaned.get(said_, written_) != written_:
            raise ValueError(f"synonym {said!r} means both {cleaned[said_]!r} and {written_!r}")
        cleaned[said_] = written_
    documents_words = {w.lower(): w for w in cleaned.values()}
    for said_ in cleaned:
        if said_ in documents_words:
            raise ValueError(
                f"{said_!r} is a customer's word and also the documents' word {documents_words[said_]!r}:"
                " list each customer's word with the word the documents use"
            )
    return cleaned


def synonyms_from_file(filename: str, data: bytes) -> dict[str, str]:
    """A table of synonyms (CSV, XLSX or JSONL; columns ``said`` and ``written``, or 同义词 and 标准词).
    One row may list several customer's words separated by any of :data:`SEPARATORS`. InvalidInput names
    the first row that cannot be read; nothing is kept from a file with one."""
    found: dict[str, tuple[str, int]] = {}  # customer's word → (documents' word, row)
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
            columns = ", ".join(repr(str(c)) for c in record) or "none"
            raise InvalidInput(
                f"{filename} row {row}: expected the customer's word(s) in a 'said' (同义词) column and the "
                f"documents' word in a 'written' (标准词) column, both filled; found columns {columns}"
            )
        for word in _SEPARATOR.split(said):
            if not word.strip():
                continue
            before = found.get(said_key(word))
            if before is not None and said_key(before[0]) != said_key(written):
                raise InvalidInput(
                    f"{filename} row {row}: {word.strip()!r} means {written.strip()!r} here and "
                    f"{before[0]!r} in row {before[1]}"
                )
            found[said_key(word)] = (written.strip(), row)
    try:
        return checked({said: written for said, (written, _) in found.items()})
    except ValueError as error:
        raise InvalidInput(f"{filename}: {error}") from None


def in_documents_words(text: str, synonyms: Mapping[str, str]) -> str:
    """``text`` with each customer's word replaced by the documents' word for it (normalised, as search
    reads it), or ``text`` itself when no synonym is in it.

    At any place the longest whole word wins ("白金会员" before "白金"), and a documents' word already in
    the text counts as one, so "扫地机" → "扫地机器人" leaves "扫地机器人" alone (:func:`whole_words`).
    ``synonyms`` are as :func:`checked` keeps them."""
    if not synonyms or not text:
        return text
    normalized = normalize(text)
    lowered = normalized.lower()
    # Only the words that occur in the text are looked for, so a long list costs little.
    present = {w for w in synonyms if w in lowered} | {w for w in synonyms.values() if w.lower() in lowered}
    if not any(w in synonyms for w in present):
        return text
    pieces, last = [], 0
    for start, end in whole_words(normalized, present):
        written = synonyms.get(" ".join(normalized[start:end].split()).lower())
        if written is not None:
            pieces += [normalized[last:start], written]
            last = end
    return "".join(pieces) + normalized[last:] if pieces else text


def occurs(word: str, text: str) -> bool:
    """Is ``word`` in ``text`` as a whole word (:func:`whole_words`), in any case and width?"""
    return bool(whole_words(normalize(text), [normalize(word)]))


def whole_words(text: str, words: Iterable[str]) -> list[tuple[int, int]]:
    """Where ``words`` occur whole in ``text`` (start, end), left to right, not overlapping, the longest
    at any place: a Latin word not inside a longer one ("postage", not "postages"), a Chinese one along
    the edges of the words jieba's search mode reads ("运费" in "退货运费", not "价保" in "评价保存"). A
    longer word that is not whole there leaves the place to a shorter one ("gold" in "gold cards", where
    "gold card" is not whole)."""
    edges: set[int] | None = None
    found = []
    for word in set(words):
        pattern = re.compile(re.escape(word).replace(r"\ ", r"\s+"), re.IGNORECASE)
        for match in pattern.finditer(text):
            start, end = match.span()
            if _inside_latin_word(text, start, end):
                continue
            opens, closes = chinese_chars(text[start]), chinese_chars(text[end - 1])
            if opens or closes:
                edges = edges if edges is not None else dictionary_edges(text)
                if (opens and start not in edges) or (closes and end not in edges):
                    continue
            found.append((start, end))
    chosen, reached = [], 0
    for start, end in sorted(found, key=lambda span: (span[0], -span[1])):
        if start >= reached:
            chosen.append((start, end))
            reached = end
    return chosen


def _inside_latin_word(text: str, start: int, end: int) -> bool:
    """Does the match continue a letter or digit of a non-Chinese word on either side?"""

    def word_char(i: int) -> bool:
        return 0 <= i < len(text) and text[i].isalnum() and not chinese_chars(text[i])

    return (word_char(start) and word_char(start - 1)) or (word_char(end - 1) and word_char(end))
