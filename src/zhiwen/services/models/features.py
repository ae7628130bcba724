"""Rows → a numeric matrix, learned from the training rows only: numbers as they are, categories as codes
(the most frequent ones; the rest share one code), dates as day number, month and weekday. Missing is NaN,
which LightGBM handles natively and the linear model imputes.

Every cell a person sends for a prediction is checked here, so the answer to a wrong type names the column
and the value, and an unseen category is said rather than guessed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from zhiwen.errors import InvalidInput
from zhiwen.services.models.profile import ColumnProfile
from zhiwen.services.models.table import Row, as_day, as_number, cell_text, is_missing

MAX_CATEGORIES = 100
TYPICAL_CATEGORIES = 10
TYPICAL_QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)
OTHER = "(other)"
Matrix = npt.NDArray[np.float64]


@dataclass
class EncodedColumn:
    name: str
    kind: str  # numeric, categorical or date
    categories: list[str] = field(default_factory=list)  # code i is categories[i]
    # Typical values with their weights, to explain against: the commonest categories by share, or five
    # quantiles of a number or date.
    typical: list[tuple[list[float], float]] = field(default_factory=list)

    @property
    def width(self) -> int:
        return 3 if self.kind == "date" else 1


@dataclass
class Encoded:
    matrix: Matrix
    warnings: list[list[str]]  # per row: unseen categories and the like, in words


class TableEncoder:
    """Fitted on training rows (``fit``), then the same mapping for every row after (``transform``)."""

    def __init__(self, columns: Sequence[ColumnProfile]) -> None:
        self.columns_ = [EncodedColumn(c.name, c.kind) for c in columns if c.used]

    def fit(self, rows: Sequence[Row]) -> TableEncoder:
        for col in self.columns_:
            cells = [row.get(col.name) for row in rows]
            if col.kind == "categorical":
                counts = Counter(cell_text(c) for c in cells if not is_missing(c))
                kept = [v for v, _ in counts.most_common(MAX_CATEGORIES)]
                col.categories = kept + ([OTHER] if len(counts) > len(kept) else [])
                common = counts.most_common(TYPICAL_CATEGORIES)
                total = sum(n for _, n in common)
                col.typical = [([float(col.categories.index(v))], n / total) for v, n in common]
            else:
                read = as_day if col.kind == "date" else as_number
                values = [v for v in (read(c) for c in cells) if v is not None and not math.isnan(v)]
                points = np.quantile(values, TYPICAL_QUANTILES) if values else [0.0]
                parts = _date_parts if col.kind == "date" else (lambda v: [float(v)])
                col.typical = [(parts(float(v)), 1 / len(points)) for v in points]
        return self

    @property
    def feature_names(self) -> list[str]:
        names = []
        for col in self.columns_:
            names += (
                [f"{col.name}:day", f"{col.name}:month", f"{col.name}:weekday"]
                if col.kind == "date"
                else [col.name]
            )
        return names

    @property
    def categorical_indices(self) -> list[int]:
        """Positions of category codes in the matrix (LightGBM's ``categorical_feature``)."""
        out, at = [], 0
        for col in self.columns_:
            if col.kind == "categorical":
                out.append(at)
            at += col.width
        return out

    @property
    def groups(self) -> list[tuple[str, slice]]:
        """Each input column and its slice of the matrix (importance and explanations are per column)."""
        out, at = [], 0
        for col in self.columns_:
            out.append((col.name, slice(at, at + col.width)))
            at += col.width
        return out

    def check_columns(self, rows: Sequence[Row]) -> None:
        """Refuse rows that lack a column the model reads (a value may be empty; the column must be there)."""
        needed = [c.name for c in self.columns_]
        for i, row in enumerate(rows):
            missing = [name for name in needed if name not in row]
            if missing:
                where = f"row {i + 1}" if len(rows) > 1 else "the row"
                raise InvalidInput(
                    f"{where} lacks column(s) the model reads: {', '.join(missing[:10])}"
                    " (send them empty if unknown)"
                )

    def transform(self, rows: Sequence[Row], strict: bool = False) -> Encoded:
        """The matrix; with ``strict`` (rows sent for prediction) a value of the wrong type is refused,
        naming the row, the column and the value. Training rows treat such a cell as missing."""
        matrix = np.full((len(rows), sum(c.width for c in self.columns_)), np.nan)
        warnings: list[list[str]] = [[] for _ in rows]
        codes = [{v: i for i, v in enumerate(c.categories)} for c in self.columns_]
        for r, row in enumerate(rows):
            at = 0
            for col, code_of in zip(self.columns_, codes, strict=True):
                cell = row.get(col.name)
                if col.kind == "categorical":
                    if not is_missing(cell):
                        text = cell_text(cell)
                        code = code_of.get(text, code_of.get(OTHER))
                        if code is None or text not in code_of:
                            warnings[r].append(
                                f"{col.name}: {text[:40]!r} was never seen in training; read as "
                                + ("a rare value" if code is not None else "missing")
                            )
                        matrix[r, at] = np.nan if code is None else code
                else:
                    read = as_day if col.kind == "date" else as_number
                    value = read(cell)
                    if value is None:
                        if strict:
                            expected = "a date like 2026-11-23" if col.kind == "date" else "a number"
                            where = f"row {r + 1}: " if len(rows) > 1 else ""
                            raise InvalidInput(
                                f"{where}{col.name} must be {expected}, not {str(cell)[:40]!r}"
                            )
                        value = math.nan
                    if col.kind == "date":
                        matrix[r, at : at + 3] = _date_parts(value)
                    else:
                        matrix[r, at] = value
                at += col.width
        return Encoded(matrix, warnings)

    def typical_variants(self, matrix: Matrix, index: int) -> list[tuple[Matrix, float]]:
        """``matrix`` with column ``index`` set to each of its typical values, with their weights: the
        expected output over them is what an explanation compares a row's output with."""
        _, columns = self.groups[index]
        variants = []
        for values, weight in self.columns_[index].typical:
            out = matrix.copy()
            out[:, columns] = values
            variants.append((out, weight))
        return variants


def _date_parts(day: float) -> list[float]:
    if math.isnan(day):
        return [math.nan] * 3
    moment = date(1970, 1, 1) + timedelta(days=int(day))
    return [day, float(moment.month), float(moment.weekday())]
