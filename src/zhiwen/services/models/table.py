"""A company's table (CSV, XLSX or JSONL) as named columns of cells, and the kind of each column.

Cells keep what the file said (text, or the numbers and dates an XLSX holds); reading them as numbers or
dates is the column kind's job, so one odd cell in a numeric column is named rather than silently lost.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from zhiwen.errors import InvalidInput
from zhiwen.services.records import read_records

MAX_COLUMNS = 500
MAX_ROWS = 1_000_000
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "?", "#n/a"})

Cell = object  # str, int, float, date, datetime or None
Row = Mapping[str, Cell]


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[dict[str, Cell]]
    line_numbers: list[int]  # the spreadsheet's row number of each row, for messages


def read_table(filename: str, data: bytes) -> Table:
    """The file's rows; refuse what cannot be a table (no rows, duplicate or too many columns, a row with
    more values than the header)."""
    records = read_records(filename, data)
    if not records:
        raise InvalidInput(f"{filename}: no rows under the header")
    columns: list[str] = []
    for _, record in records:
        for name in record:
            if name is None:
                continue
            if str(name) not in columns:
                columns.append(str(name))
        if len(columns) > MAX_COLUMNS:
            raise InvalidInput(f"{filename}: more than {MAX_COLUMNS} columns")
    rows, numbers = [], []
    for number, record in records:
        if "__error__" in record:
            raise InvalidInput(f"{filename}: row {number}: {record['__error__']}")
        if None in record:
            raise InvalidInput(f"{filename}: row {number} has more values than the header has columns")
        rows.append({str(k): v for k, v in record.items()})
        numbers.append(number)
    if len(rows) > MAX_ROWS:
        raise InvalidInput(f"{filename}: {len(rows):,} rows is over the {MAX_ROWS:,}-row limit; sample it")
    return Table(columns, rows, numbers)


def is_missing(cell: Cell) -> bool:
    if cell is None:
        return True
    if isinstance(cell, float):
        return math.isnan(cell)
    return isinstance(cell, str) and cell.strip().lower() in MISSING


_NUMBER = re.compile(r"[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?([eE][-+]?\d+)?%?|[-+]?\.\d+")


def as_number(cell: Cell) -> float | None:
    """The cell as a number ("1,234.5", "12%", 7), or None when it is not one (infinities and numbers
    past a float's range included). Missing is NaN."""
    if is_missing(cell):
        return math.nan
    if isinstance(cell, bool):
        return None  # a yes/no column is a category, however the file spelled it
    if isinstance(cell, int | float):
        try:
            value = float(cell)
        except OverflowError:
            return None
    else:
        text = str(cell).strip()
        if not _NUMBER.fullmatch(text):
            return None
        value = float(text.rstrip("%").replace(",", ""))
        value = value / 100 if text.endswith("%") else value
    return value if math.isfinite(value) else None


_DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2})?)?")


def as_day(cell: Cell) -> float | None:
    """The cell as days since 1970-01-01, or None when it is not a date. Missing is NaN."""
    if is_missing(cell):
        return math.nan
    if isinstance(cell, datetime):
        return (
            cell.timestamp() / 86400 if cell.tzinfo else (cell - datetime(1970, 1, 1)).total_seconds() / 86400
        )
    if isinstance(cell, date):
        return float((cell - date(1970, 1, 1)).days)
    text = str(cell).strip()
    if not _DATE.fullmatch(text):
        return None
    year, month, day = (int(p) for p in re.split(r"[-/.]", text.split()[0].split("T")[0]))
    try:
        return float((date(year, month, day) - date(1970, 1, 1)).days)
    except ValueError:
        return None


def cell_text(cell: Cell) -> str:
    """The cell as a category: its text, trimmed; numbers written without a spurious '.0'."""
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"  # as a spreadsheet writes it
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    text = str(cell).strip()
    return text.upper() if text.lower() in ("true", "false") else text  # True, true, TRUE: one value


def column(rows: Sequence[Row], name: str) -> list[Cell]:
    return [row.get(name) for row in rows]
