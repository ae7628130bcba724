"""What a table holds before anything is learned from it: each column's kind (numeric, categorical, date,
free text, identifier, constant), its missing values, the task its target sets (classification or
regression), columns that would leak the answer, and a refusal, in words, when nothing can be learned.

A person reads this before training (`zhiwen models profile`), so every judgement says why.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from zhiwen.errors import InvalidInput
from zhiwen.services.models.table import Row, Table, as_day, as_number, cell_text, column, is_missing

Kind = Literal["numeric", "categorical", "date", "text", "identifier", "constant", "empty"]
Task = Literal["classification", "regression"]

MIN_ROWS = 50  # fewer labelled rows cannot be split into folds and a held-out part worth the name
MIN_CLASS_ROWS = 5
MAX_CLASSES = 50
REGRESSION_DISTINCT = 15  # a numeric target with more distinct values than this is a quantity to predict
LEAKAGE_AUC = 0.98
LEAKAGE_CORRELATION = 0.98
# "id", "customer_id", "Order-ID", "customerID", "客户编号"; not "Bid" or "Amount Paid".
_ID_NAME = re.compile(r"(?i:(^|[\s_\-])(id|uuid|key)$|^id[\s_\-])|[a-z]I[dD]$|编号$|号码$")


@dataclass
class ColumnProfile:
    name: str
    kind: Kind
    missing: float  # share of rows without a value
    distinct: int
    examples: list[str]
    used: bool  # a feature of the model
    note: str = ""  # why it is not used, or what to check

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TableProfile:
    rows: int
    target: str
    task: Task
    classes: list[str]  # classification only, the most frequent first
    class_counts: dict[str, int]
    rows_without_target: int
    columns: list[ColumnProfile]
    warnings: list[str] = field(default_factory=list)

    @property
    def features(self) -> list[ColumnProfile]:
        return [c for c in self.columns if c.used]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "target": self.target,
            "task": self.task,
            "classes": self.classes,
            "class_counts": self.class_counts,
            "rows_without_target": self.rows_without_target,
            "columns": [c.to_dict() for c in self.columns],
            "warnings": self.warnings,
        }


def column_kind(name: str, cells: Sequence[object]) -> tuple[Kind, str]:
    """The kind of a column from its cells (and, for identifiers, its name), with the reason when that
    kind keeps it out of the model."""
    present = [c for c in cells if not is_missing(c)]
    if not present:
        return "empty", "no values"
    distinct = len({cell_text(c) for c in present})
    if distinct == 1 and len(present) == len(cells):
        return "constant", f"always {cell_text(present[0])!r}: nothing to learn from"
    if distinct == 1:
        return "categorical", ""  # filled in or not: that can say something
    numbers = [as_number(c) for c in present]
    if sum(n is not None for n in numbers) >= 0.98 * len(present):
        if _ID_NAME.search(name.strip()) and distinct >= 0.95 * len(present):
            return "identifier", "a unique number per row (an id): it cannot generalise"
        return "numeric", ""
    if sum(as_day(c) is not None for c in present) >= 0.98 * len(present):
        return "date", ""
    texts = [cell_text(c) for c in present]
    if distinct >= 0.95 * len(present) and len(present) >= 20:
        mean_length = sum(len(t) for t in texts) / len(texts)
        if mean_length >= 30 or sum(" " in t for t in texts) > 0.5 * len(texts):
            return "text", "free text: not used by tabular models yet"
        return "identifier", "a unique value per row (an id): it cannot generalise"
    if _ID_NAME.search(name.strip()) and distinct >= 0.5 * len(present):
        return "identifier", "named as an id, with a value for nearly every row: it cannot generalise"
    return "categorical", ""


def profile_table(table: Table, target: str, drop: Sequence[str] = ()) -> TableProfile:
    """Profile ``table`` for predicting ``target``; :class:`InvalidInput` when it cannot be learned."""
    if target not in table.columns:
        raise InvalidInput(
            f"no column {target!r} to predict; the columns are: {', '.join(table.columns[:40])}"
        )
    unknown = sorted(set(drop) - set(table.columns))
    if unknown:
        raise InvalidInput(f"cannot drop unknown column(s): {', '.join(unknown)}")
    labelled = [row for row in table.rows if not is_missing(row.get(target))]
    task, labels = _target_task(target, labelled)
    columns = []
    for name in table.columns:
        if name == target:
            continue
        cells = column(labelled, name)
        kind, note = column_kind(name, cells)
        present = [c for c in cells if not is_missing(c)]
        used = kind in ("numeric", "categorical", "date") and name not in drop
        if name in drop:
            note = "dropped on request"
        columns.append(
            ColumnProfile(
                name,
                kind,
                round(1 - len(present) / max(len(cells), 1), 4),
                len({cell_text(c) for c in present}),
                []
                if kind in ("identifier", "text")
                else [cell_text(c)[:40] for c in _first_distinct(present, 3)],
                used,
                note,
            )
        )
    profile = TableProfile(
        rows=len(labelled),
        target=target,
        task=task,
        classes=[label for label, _ in Counter(labels).most_common()] if task == "classification" else [],
        class_counts=dict(Counter(labels).most_common()) if task == "classification" else {},
        rows_without_target=len(table.rows) - len(labelled),
        columns=columns,
    )
    _mark_leakage(profile, labelled, labels)
    if not profile.features:
        raise InvalidInput(
            f"no column can be learned from to predict {target!r}: "
            + "; ".join(f"{c.name}: {c.note or c.kind}" for c in columns[:10])
        )
    for c in profile.columns:
        if c.used and c.missing > 0.5:
            profile.warnings.append(f"{c.name} is missing in {c.missing:.0%} of rows")
    if profile.rows_without_target:
        profile.warnings.append(f"{profile.rows_without_target} row(s) have no {target} and are left out")
    return profile


def _target_task(target: str, labelled: Sequence[Row]) -> tuple[Task, list[str]]:
    cells = column(labelled, target)
    if len(cells) < MIN_ROWS:
        raise InvalidInput(
            f"only {len(cells)} row(s) have a value in {target!r}; at least {MIN_ROWS} are needed to train"
            " and to hold some out for an honest evaluation"
        )
    texts = [cell_text(c) for c in cells]
    counts = Counter(texts)
    if len(counts) == 1:
        raise InvalidInput(
            f"{target!r} has one value ({texts[0]!r}) in every row: there is nothing to predict"
        )
    numbers = [as_number(c) for c in cells]
    numeric = all(n is not None for n in numbers)
    if numeric and len(counts) > REGRESSION_DISTINCT:
        return "regression", texts
    if len(counts) > MAX_CLASSES:
        raise InvalidInput(
            f"{target!r} has {len(counts)} different values; a classifier predicts at most {MAX_CLASSES}"
        )
    rare = [f"{label!r} ({n})" for label, n in counts.items() if n < MIN_CLASS_ROWS]
    if rare:
        raise InvalidInput(
            f"{target!r} has too few rows of {', '.join(rare[:5])}: each value needs at least"
            f" {MIN_CLASS_ROWS}; merge rare values or add rows"
        )
    return "classification", texts


def _mark_leakage(profile: TableProfile, labelled: Sequence[Row], labels: Sequence[str]) -> None:
    """A column that alone predicts the target almost perfectly was most likely recorded after the outcome
    (a cancellation date for churn, a refund id for returns): it is left out, and said. A column named
    after the target is only a warning."""
    target_key = re.sub(r"\W+", "", profile.target.lower())
    for c in profile.columns:
        if not c.used:
            continue
        strength = _alone(profile.task, column(labelled, c.name), c.kind, labels)
        if strength >= (LEAKAGE_AUC if profile.task == "classification" else LEAKAGE_CORRELATION):
            c.used = False
            c.note = (
                f"likely leakage: alone it predicts {profile.target} almost perfectly ({strength:.3f});"
                " was it recorded after the outcome? Left out"
            )
            profile.warnings.append(f"{c.name}: {c.note}")
        elif target_key and target_key in re.sub(r"\W+", "", c.name.lower()):
            c.note = f"named like the target: check it is known before {profile.target} is"
            profile.warnings.append(f"{c.name}: {c.note}")


def _alone(task: Task, cells: Sequence[object], kind: str, labels: Sequence[str]) -> float:
    """How well the column alone predicts the target: for classes, the best one-vs-rest ROC-AUC of its
    values (categories by their share of each class); for quantities, |correlation|."""
    from sklearn.metrics import roc_auc_score

    if kind == "categorical":
        keys = [cell_text(c) if not is_missing(c) else "" for c in cells]
        if len(set(keys)) > 0.5 * len(keys):
            return 0.0  # nearly one row per value: in-sample shares would look perfect and mean nothing
    if task == "regression":
        y = np.array([as_number(v) for v in labels], dtype=float)
        if kind == "categorical":
            means = _group_means(keys, y)
            x = np.array([means[k] for k in keys])
        else:
            x = _numbers(cells, kind)
        ok = ~np.isnan(x)
        if ok.sum() < 3 or np.std(x[ok]) == 0:
            return 0.0
        return float(abs(np.corrcoef(x[ok], y[ok])[0, 1]))
    best = 0.0
    for label in set(labels):
        truth = np.array([v == label for v in labels], dtype=float)
        if kind == "categorical":
            means = _group_means(keys, truth)
            views = [np.array([means[k] for k in keys])]
        else:
            numbers = _numbers(cells, kind)
            views = [numbers, np.isnan(numbers).astype(float)]  # the value, and whether there is one
        for x in views:
            ok = ~np.isnan(x)
            if len(set(truth[ok])) < 2 or len(set(x[ok])) < 2:
                continue
            auc = float(roc_auc_score(truth[ok], x[ok]))
            best = max(best, auc, 1 - auc)
    return best


def _numbers(cells: Sequence[object], kind: str) -> np.ndarray:
    read = as_day if kind == "date" else as_number
    return np.array([(read(c) if read(c) is not None else math.nan) for c in cells], dtype=float)


def _group_means(keys: Sequence[str], y: np.ndarray) -> dict[str, float]:
    sums: dict[str, float] = {}
    counts: Counter[str] = Counter()
    for key, value in zip(keys, y, strict=True):
        sums[key] = sums.get(key, 0.0) + float(value)
        counts[key] += 1
    return {k: sums[k] / counts[k] for k in sums}


def _first_distinct(cells: Sequence[object], n: int) -> list[object]:
    seen: dict[str, object] = {}
    for c in cells:
        seen.setdefault(cell_text(c), c)
        if len(seen) == n:
            break
    return list(seen.values())
