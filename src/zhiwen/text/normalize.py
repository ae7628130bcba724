"""Decode bytes in whatever encoding customers' files come in, and normalise text the same way everywhere."""

from __future__ import annotations

import re
import unicodedata

from charset_normalizer import from_bytes

from zhiwen.errors import CorruptFile

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u200c\u200d\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")
# Chinese punctuation that NFKC would turn into ASCII; kept so answers read naturally.
_CJK_PUNCTUATION = re.compile(r"([，！？：；（）【】])")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def decode(data: bytes, name: str = "file") -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, GB18030/GBK, then a statistical guess.

    GB18030 is tried before the guesser because short GBK texts are often mistaken for Big5 or cp1252;
    GB18030 accepts almost any byte string, so its result is kept only when it reads as Chinese.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data[:8192]:
        raise CorruptFile(f"{name}: looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        _refuse_damaged_utf8(data, name, error)
    try:
        text = data.decode("gb18030")
        if _looks_chinese(text):
            return text
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None:
        raise CorruptFile(f"{name}: cannot tell the text encoding; save it as UTF-8 and try again")
    return str(best)


def _refuse_damaged_utf8(data: bytes, name: str, error: UnicodeDecodeError) -> None:
    """UTF-8 with a few broken bytes would otherwise reach the encoding guesser and be stored garbled.
    It is UTF-8 when nearly all its non-ASCII characters decode as UTF-8 (GBK text mostly does not)."""
    text = data.decode("utf-8", errors="replace")
    broken = text.count("\ufffd")
    valid = sum(1 for ch in text if ord(ch) > 127) - broken
    if valid >= 10 and broken <= 0.05 * valid:
        raise CorruptFile(
            f"{name}: UTF-8 with {broken} invalid byte sequence(s), the first at byte {error.start}; "
            "repair or re-save the file as UTF-8"
        )


def _looks_chinese(text: str) -> bool:
    """Mostly Chinese characters, or (a short Chinese text in a mostly-ASCII file, such as a CSV) Chinese
    characters that mostly form dictionary words: Latin-1 bytes read as GB18030 make characters, not words."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return False
    chinese = sum(1 for ch in letters if _CJK.match(ch))
    if chinese / len(letters) > 0.3:
        return True
    if chinese < 2:
        return False
    import jieba  # only for this rarer case: loading its dictionary costs about a second

    runs = _CJK_RUN.findall(text)
    in_words = sum(len(w) for run in runs for w in jieba.lcut(run, HMM=False) if len(w) >= 2)
    return in_words / chinese >= 0.5


def normalize(text: str) -> str:
    """NFKC (full-width letters and digits → half-width; Chinese punctuation kept), unified newlines,
    no control characters, collapsed spaces."""
    pieces = _CJK_PUNCTUATION.split(text)
    text = "".join(p if i % 2 else unicodedata.normalize("NFKC", p) for i, p in enumerate(pieces))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def chinese_chars(text: str) -> int:
    return len(_CJK.findall(text))


def detect_language(text: str) -> str:
    """'zh' when Chinese characters carry at least as much of the text as Latin words, else 'en'."""
    cjk = chinese_chars(text)
    latin_words = len(re.findall(r"[A-Za-z]{2,}", text))
    return "zh" if cjk and cjk >= latin_words else "en"


_NOISE = re.compile(r"[\s\W_]+")


def squash(text: str) -> str:
    """Text reduced to what matters for comparing answers and questions: width, case, spaces and
    punctuation ignored."""
    return _NOISE.sub("", unicodedata.normalize("NFKC", text).lower())
