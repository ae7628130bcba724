"""Drift of a model's inputs: the rows it is asked about now against the rows it learned from, column by
column, by the population stability index (PSI; Yurdakul 2018): under 0.1 stable, 0.1-0.25 moderate,
over 0.25 a shift worth retraining for, once the PSI two samples of one distribution show anyway is taken
off. Numbers are compared in the training deciles, categories by share;
a missing value is a bin of its own, so a column that stops being filled in shows as drift too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zhiwen.services.models.table import Row, as_day, as_number, cell_text, is_missing

MODERATE, SHIFTED = 0.1, 0.25
LEVELS = ("stable", "moderate", "shifted")
MIN_ROWS = 30  # fewer predictions say nothing about a distribution


@dataclass
class ColumnReference:
    name: str
    kind: str
    edges: list[float] = field(default_factory=list)  # numbers and dates: inner decile edges
    categories: list[str] = field(default_factory=list)
    shares: list[float] = field(default_factory=list)  # per bin; the last bin is "missing"


@dataclass
class DriftReference:
    columns: list[ColumnReference]
    rows: int

    @classmethod
    def of(cls, kinds: Sequence[tuple[str, str]], rows: Sequence[Row]) -> DriftReference:
        refs = []
        for name, kind in kinds:
            cells = [row.get(name) for row in rows]
            ref = ColumnReference(name, kind)
            if kind == "categorical":
                counts: dict[str, int] = {}
                for c in cells:
                    if not is_missing(c):
                        counts[cell_text(c)] = counts.get(cell_text(c), 0) + 1
                ref.categories = [k for k, _ in sorted(counts.items(), key=lambda kv: -kv[1])[:50]]
            else:
                values = _numbers(cells, kind)
                present = values[~np.isnan(values)]
                if len(present):
                    ref.edges = sorted(set(np.quantile(present, np.linspace(0.1, 0.9, 9)).tolist()))
            ref.shares = _shares(ref, cells)
            refs.append(ref)
        return cls(refs, len(rows))

    def report(self, rows: Sequence[Row]) -> dict[str, Any]:
        """Each column's PSI between the training rows and ``rows``, worst first, and a verdict."""
        if len(rows) < MIN_ROWS:
            return {
                "rows": len(rows),
                "verdict": "too_few",
                "message": f"{len(rows)} logged prediction(s); drift is judged from {MIN_ROWS}",
                "columns": [],
            }
        columns: list[dict[str, Any]] = []
        for ref in self.columns:
            now = _shares(ref, [row.get(ref.name) for row in rows])
            psi = sum((n - t) * math.log(n / t) for t, n in zip(ref.shares, now, strict=True))
            # Two samples of one distribution still differ: PSI's expectation then is about
            # (bins - 1) × (1/n + 1/N), which is judged against the thresholds no more.
            noise = (len(ref.shares) - 1) * (1 / len(rows) + 1 / max(self.rows, 1))
            beyond = psi - noise
            level = "shifted" if beyond > SHIFTED else "moderate" if beyond > MODERATE else "stable"
            columns.append(
                {"column": ref.name, "psi": round(psi, 4), "noise": round(noise, 4), "level": level}
            )
        columns.sort(key=lambda c: -(float(c["psi"]) - float(c["noise"])))  # by what is judged
        worst = max((c["level"] for c in columns), key=LEVELS.index, default="stable")
        return {"rows": len(rows), "verdict": worst, "message": _message(columns), "columns": columns}


def _message(columns: Sequence[dict[str, Any]]) -> str:
    shifted = [c["column"] for c in columns if c["level"] == "shifted"]
    if shifted:
        return f"inputs have shifted in {', '.join(shifted[:5])}: check the data, and retrain on recent rows"
    moderate = [c["column"] for c in columns if c["level"] == "moderate"]
    if moderate:
        return f"moderate change in {', '.join(moderate[:5])}: watch it"
    return "inputs look like the training data"


def _numbers(cells: Sequence[object], kind: str) -> np.ndarray:
    read = as_day if kind == "date" else as_number
    out = []
    for c in cells:
        value = read(c)
        out.append(math.nan if value is None else value)
    return np.array(out, dtype=float)


def _shares(ref: ColumnReference, cells: Sequence[object]) -> list[float]:
    """Shares of ``cells`` in the reference's bins (plus "other" for categories, and "missing")."""
    if ref.kind == "categorical":
        index = {c: i for i, c in enumerate(ref.categories)}
        counts = np.zeros(len(ref.categories) + 2)
        for c in cells:
            counts[-1 if is_missing(c) else index.get(cell_text(c), len(ref.categories))] += 1
    else:
        values = _numbers(cells, ref.kind)
        counts = np.zeros(len(ref.edges) + 2)
        present = values[~np.isnan(values)]
        np.add.at(counts, np.searchsorted(ref.edges, present, side="right"), 1)
        counts[-1] = np.isnan(values).sum()
    # Half a row in every bin (Laplace smoothing): with a few dozen rows an empty bin is chance, not a
    # distribution that lost a value, and an unsmoothed zero weighs log(1/floor) in the index.
    counts += 0.5
    return [float(v) for v in counts / counts.sum()]
