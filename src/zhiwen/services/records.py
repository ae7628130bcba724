"""Tables people export: CSV, XLSX or JSONL read into numbered records, and the timestamps in them.

Shared by every importer (reviews, catalogue, events), so a file is refused, decoded and numbered the same
way everywhere: row numbers are the ones a spreadsheet shows (the header is row 1).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime

from openpyxl import load_workbook

from zhiwen.errors import CorruptFile, InvalidInput, TooLarge, UnsupportedFormat
from zhiwen.text.jsonlines import json_lines
from zhiwen.text.normalize import decode

MAX_FILE_BYTES = 50 * 1024 * 1024
Record = tuple[int, Mapping[str, object]]  # (row number, named fields)


def read_records(filename: str, data: bytes) -> list[Record]:
    """Every record of the file; raise for what makes the whole file unusable. A JSON line that does not
    parse becomes a record holding only ``__error__``, so the importer reports it with its row."""
    if not data.strip():
        raise InvalidInput(f"{filename}: the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise TooLarge(f"{filename}: {len(data):,} bytes is over the {MAX_FILE_BYTES:,}-byte limit; split it")
    suffix = filename.lower().rsplit(".", 1)[-1]
    if suffix == "csv":
        return list(_csv_records(filename, data))
    if suffix == "xlsx":
        return list(_xlsx_records(filename, data))
    if suffix in ("jsonl", "json"):
        return list(_jsonl_records(filename, data))
    raise UnsupportedFormat(f"{filename}: expected a .csv, .xlsx or .jsonl file")


def lookup(record: Mapping[str, object], aliases: tuple[str, ...]) -> object:
    """The value of the first column whose name (case and spaces ignored) is one of ``aliases``."""
    for key, value in record.items():
        if str(key).strip().lower() in aliases:
            return value
    return None


_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
)


def parse_timestamp(value: object) -> str:
    """ISO 8601 in UTC; naive times are taken as UTC. Empty stays empty (the import time is used)."""
    if value is None or str(value).strip() == "":
        return ""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        raw = str(value).strip()
        moment = _parse_text_time(raw)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not 1990 <= moment.year <= 2100:
        raise InvalidInput(f"timestamp {str(value)[:30]!r} is out of range (1990-2100)")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _parse_text_time(raw: str) -> datetime:
    if re.fullmatch(r"\d{9,10}(\.\d+)?", raw):
        return datetime.fromtimestamp(float(raw), tz=UTC)  # Unix seconds
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        pass
    for layout in _DATE_FORMATS:
        try:
            return datetime.strptime(raw, layout)
        except ValueError:
            continue
    raise InvalidInput(
        f"timestamp {raw[:30]!r} is not a date; write it like 2026-11-23 or 2026-11-23T10:30:00"
    )


def _csv_records(filename: str, data: bytes) -> Iterator[tuple[int, Mapping[str, object]]]:
    text = decode(data, filename)
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise InvalidInput(f"{filename}: no header row; the first line must name the columns")
    _refuse_duplicates(filename, reader.fieldnames)
    try:
        for number, record in enumerate(reader, start=2):
            if any(v for v in record.values() if isinstance(v, str) and v.strip()):
                yield number, record
    except csv.Error as error:
        raise CorruptFile(f"{filename}: not a readable CSV file ({error})") from None


def _refuse_duplicates(filename: str, header: Sequence[str]) -> None:
    """Two columns of one name would silently become one (the last wins): say so instead."""
    names = [name.strip() for name in header]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise InvalidInput(f"{filename}: duplicate column name(s) in the header: {', '.join(duplicated)}")


def _xlsx_records(filename: str, data: bytes) -> Iterator[tuple[int, Mapping[str, object]]]:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise CorruptFile(f"{filename}: not a readable XLSX workbook ({error})") from None
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = [str(c).strip() if c is not None else "" for c in next(rows, ())]
    if not any(header):
        raise InvalidInput(f"{filename}: the first sheet has no header row")
    _refuse_duplicates(filename, [h for h in header if h])
    for number, values in enumerate(rows, start=2):
        if any(v is not None and str(v).strip() for v in values):
            yield number, {h: v for h, v in zip(header, values, strict=False) if h}
    book.close()


def _jsonl_records(filename: str, data: bytes) -> Iterator[tuple[int, Mapping[str, object]]]:
    text = decode(data, filename)
    for line in json_lines(text):
        if line.error is not None:
            yield line.number, {"__error__": f"not JSON ({line.error})"}
        elif isinstance(line.value, dict):
            yield line.number, line.value
        else:
            yield line.number, {"__error__": "not a JSON object"}
