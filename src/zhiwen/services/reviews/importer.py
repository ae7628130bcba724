"""Reading customer reviews from CSV, XLSX or JSONL.

Columns are found by name (English or Chinese). A file whose text column is missing is refused as a whole;
a bad row (empty or junk text, a rating or timestamp that does not parse, an unknown label, a duplicate) is
reported with its row number and the rest carry on, so nothing is dropped silently.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from zhiwen.errors import InvalidInput
from zhiwen.services.records import lookup, parse_timestamp, read_records
from zhiwen.text.normalize import normalize

MAX_TEXT_CHARS = 5_000
MAX_RATING = 10.0

COLUMNS: dict[str, tuple[str, ...]] = {
    "text": ("text", "review", "content", "comment", "message", "评论", "评价", "内容", "评论内容", "文本"),
    "rating": ("rating", "stars", "star", "score", "评分", "星级", "打分"),
    "product": ("product", "sku", "product_id", "item", "商品", "产品", "cat", "category", "类别", "品类"),
    "channel": ("channel", "source", "platform", "渠道", "来源", "平台"),
    "created_at": ("timestamp", "time", "date", "created_at", "datetime", "时间", "日期"),
    "label": ("label", "sentiment", "class", "标签", "情感", "类别标签"),
    "customer": ("customer", "customer_id", "user_id", "author", "客户", "用户", "顾客", "会员"),
}
LABELS = ("negative", "neutral", "positive")
_LABEL_ALIASES = {
    "negative": ("negative", "neg", "bad", "负面", "负向", "差评", "不满意", "消极"),
    "neutral": ("neutral", "neu", "mixed", "中性", "中评", "一般"),
    "positive": ("positive", "pos", "good", "正面", "正向", "好评", "满意", "积极"),
}
_ALIAS_TO_LABEL = {alias: label for label, aliases in _LABEL_ALIASES.items() for alias in aliases}
_WORD = re.compile(r"[^\W\d_]", re.UNICODE)  # a letter in any script, CJK included


@dataclass(frozen=True)
class ReviewRow:
    """One review as read from a file or request, before it is stored."""

    text: str
    rating: float | None = None
    product: str = ""
    channel: str = ""
    created_at: str = ""  # ISO 8601, UTC; empty means "when it was imported"
    label: str | None = None
    customer: str = ""

    @property
    def key(self) -> str:
        """Content identity: the same text about the same product at the same time is one review."""
        raw = "\x1f".join((self.text, self.product, self.channel, self.created_at))
        return hashlib.sha1(raw.encode("utf-8"), usedforsecurity=False).hexdigest()[:20]


@dataclass
class ReadResult:
    rows: list[tuple[int, ReviewRow]] = field(default_factory=list)  # (row number, review)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (row number, what is wrong)


def read_reviews(filename: str, data: bytes) -> ReadResult:
    """Parse a whole file; raise for what makes the whole file unusable, report per row otherwise."""
    return rows_from_records(filename, read_records(filename, data))


def rows_from_records(source: str, records: Iterable[tuple[int, Mapping[str, object]]]) -> ReadResult:
    """Map named fields to reviews. Label aliases are per source: a source whose labels include -1 uses
    -1/0/1 for negative/neutral/positive, otherwise 0/1 mean negative/positive."""
    records = list(records)
    if not records:
        raise InvalidInput(f"{source}: no reviews in it (only a header?)")
    columns = _map_columns(source, records)
    signed = any(str(record.get(columns.get("label", ""), "")).strip() == "-1" for _, record in records)
    result = ReadResult()
    first_seen: dict[str, int] = {}
    for number, record in records:
        try:
            if "__error__" in record:
                raise InvalidInput(str(record["__error__"]))
            row = _review(record, columns, signed)
        except InvalidInput as problem:
            result.problems.append((number, problem.message))
            continue
        if row.key in first_seen:
            result.problems.append((number, f"duplicate of row {first_seen[row.key]}"))
            continue
        first_seen[row.key] = number
        result.rows.append((number, row))
    return result


def _map_columns(source: str, records: Sequence[tuple[int, Mapping[str, object]]]) -> dict[str, str]:
    names: dict[str, str] = {}
    for _, record in records[:100]:
        for key in record:
            names.setdefault(str(key).strip().lower(), str(key))
    columns = {}
    for field_name, aliases in COLUMNS.items():
        for alias in aliases:
            if alias in names:
                columns[field_name] = names[alias]
                break
    if "text" not in columns:
        raise InvalidInput(
            f"{source}: no review text column among {sorted(names)[:12]!r}; name it 'text' (or 评论/内容). "
            "Optional columns: rating, product, channel, timestamp, label"
        )
    return columns


def _review(record: Mapping[str, object], columns: Mapping[str, str], signed: bool) -> ReviewRow:
    def cell(name: str) -> object:
        if name in columns and columns[name] in record:
            return record.get(columns[name])
        return lookup(record, COLUMNS[name])  # JSON lines may each name their fields differently

    text = normalize(str(cell("text") or ""))
    if not text:
        raise InvalidInput("empty text")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInput(f"text is {len(text):,} characters, over the {MAX_TEXT_CHARS:,} limit")
    if not _WORD.search(text):
        raise InvalidInput(f"no words in the text ({text[:20]!r}): junk row")
    return ReviewRow(
        text=text,
        rating=_rating(cell("rating")),
        product=normalize(str(cell("product") or ""))[:200],
        channel=normalize(str(cell("channel") or ""))[:100],
        created_at=parse_timestamp(cell("created_at")),
        label=parse_label(cell("label"), signed),
        customer=normalize(str(cell("customer") or ""))[:200],
    )


def _rating(value: object) -> float | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        rating = float(str(value).strip())
    except ValueError:
        raise InvalidInput(f"rating {str(value)[:20]!r} is not a number") from None
    if not 0 <= rating <= MAX_RATING:
        raise InvalidInput(f"rating {rating:g} is outside 0-{MAX_RATING:g}")
    return rating


def parse_label(value: object, signed: bool = False) -> str | None:
    """The canonical label (negative/neutral/positive) for a label cell, None when it is empty."""
    if value is None or str(value).strip() == "":
        return None
    raw = str(value).strip().lower()
    if raw.endswith(".0"):
        raw = raw[:-2]  # spreadsheets store 1 as 1.0
    numeric = (
        {"-1": "negative", "0": "neutral", "1": "positive"} if signed else {"0": "negative", "1": "positive"}
    )
    label = numeric.get(raw) or _ALIAS_TO_LABEL.get(raw)
    if label is None:
        raise InvalidInput(
            f"label {str(value)[:20]!r} is not one of negative/neutral/positive "
            "(or 0/1, -1/0/1, 好评/中评/差评)"
        )
    return label
