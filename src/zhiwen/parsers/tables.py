"""FAQ tables (CSV or XLSX): one entry per row, columns found by name in Chinese or English."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence

from openpyxl import load_workbook

from zhiwen.errors import CorruptFile, EncryptedFile, InvalidInput
from zhiwen.parsers.base import FaqEntry, ParsedDocument, refuse_zip_bombs, stem_title
from zhiwen.text.normalize import decode, normalize

QUESTION_COLUMNS = ("question", "questions", "q", "问题", "问", "常见问题", "提问", "标准问题")
ANSWER_COLUMNS = ("answer", "answers", "a", "答案", "回答", "答复", "解答")


def _find(header: Sequence[str], names: Sequence[str]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def _faq_from_rows(name: str, rows: Iterable[Sequence[object]]) -> ParsedDocument:
    iterator = iter(rows)
    header = [str(c or "") for c in next(iterator, [])]
    q_col, a_col = _find(header, QUESTION_COLUMNS), _find(header, ANSWER_COLUMNS)
    if q_col is None or a_col is None:
        missing = " and ".join(
            label for label, col in (("question", q_col), ("answer", a_col)) if col is None
        )
        raise InvalidInput(
            f"{name}: no {missing} column in the header {header[:10]!r}; "
            "name the columns 'question'/'answer' (or 问题/答案)"
        )
    parsed = ParsedDocument(title=stem_title(name))
    for line, row in enumerate(iterator, start=2):
        cells = [normalize(str(c)) if c is not None else "" for c in row]
        if len(cells) > len(header) and a_col == len(header) - 1 and any(cells[len(header) :]):
            # "满 2,000 元" in an unquoted CSV cell: the extra cells are the rest of the answer.
            cells = [*cells[:a_col], ",".join(cells[a_col:])]
            parsed.warnings.append(f"{name}: row {line} has unquoted commas; read them as part of the answer")
        question = cells[q_col] if q_col < len(cells) else ""
        answer = cells[a_col] if a_col < len(cells) else ""
        if not question and not answer:
            continue
        if not question or not answer:
            parsed.warnings.append(
                f"{name}: row {line} skipped: {'question' if not question else 'answer'} is empty"
            )
            continue
        parsed.faq.append(FaqEntry(question, answer))
    return parsed


def parse_csv(name: str, data: bytes) -> ParsedDocument:
    text = decode(data, name)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    try:
        return _faq_from_rows(name, csv.reader(io.StringIO(text), dialect))
    except csv.Error as error:
        raise CorruptFile(f"{name}: malformed CSV ({error})") from None


def parse_xlsx(name: str, data: bytes) -> ParsedDocument:
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise EncryptedFile(f"{name}: the workbook is password-protected or an old .xls; save it as .xlsx")
    refuse_zip_bombs(name, data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise CorruptFile(f"{name}: not a readable XLSX file ({error})") from None
    try:
        sheet = workbook.worksheets[0]
        return _faq_from_rows(name, sheet.iter_rows(values_only=True))
    finally:
        workbook.close()
