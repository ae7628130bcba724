"""A trained table model as it is stored and served: the encoder, the estimator, the calibration of its
probabilities, and what a prediction says (the value, its probability, the columns that drove it).

Explanations compare the output with its expectation when one column at a time takes its typical values
instead (a one-column marginal effect, the idea behind SHAP without its cost), so every candidate —
linear, trees, a baseline — is explained the same way and in the units a
person reads: "Contract = Month-to-month raised the probability of Yes by 0.21".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from zhiwen.services.models.drift import DriftReference
from zhiwen.services.models.features import Matrix, TableEncoder
from zhiwen.services.models.table import Row, cell_text

Task = Literal["classification", "regression"]
DRIVERS = 5
EXPLAINED_CELLS = 2_000_000  # matrix cells of variants per model call (16 MB of float64)


@dataclass
class Platt:
    """Probabilities calibrated by a logistic fit on the out-of-fold scores (order kept, so ROC-AUC is
    unchanged; Platt 1999)."""

    slope: float = 1.0
    intercept: float = 0.0

    def __call__(self, p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        clipped = np.clip(p, 1e-6, 1 - 1e-6)
        z = self.slope * np.log(clipped / (1 - clipped)) + self.intercept
        return np.asarray(1 / (1 + np.exp(-z)), dtype=np.float64)


@dataclass
class Prediction:
    value: str | float  # the predicted class, or the predicted quantity
    probability: float | None  # of that class
    probabilities: dict[str, float] | None
    drivers: list[dict[str, Any]]  # {"column", "value", "effect"}, strongest first
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "prediction": self.value,
            "probability": self.probability,
            "probabilities": self.probabilities,
            "drivers": self.drivers,
            "warnings": self.warnings,
        }


@dataclass
class TableModel:
    task: Task
    target: str
    kind: str  # the winning candidate: lightgbm, linear or baseline
    encoder: TableEncoder
    estimator: Any
    classes: list[str]  # classification: classes[i] is the estimator's class i
    positive: str | None  # binary: the class whose probability is calibrated and explained
    calibration: Platt | None
    drift_reference: DriftReference
    held_out_rows: list[dict[str, Any]] = field(default_factory=list)  # raw, for the gate's side-by-side
    held_out_truth: list[str | float] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return [c.name for c in self.encoder.columns_]

    def scores(self, matrix: Matrix) -> npt.NDArray[np.float64]:
        """Classification: calibrated class probabilities (rows × classes); regression: the values."""
        if self.task == "regression":
            return np.asarray(self.estimator.predict(matrix), dtype=np.float64)
        proba = np.asarray(self.estimator.predict_proba(matrix), dtype=np.float64)
        if self.calibration is not None and proba.shape[1] == 2:
            positive = self.calibration(proba[:, 1])
            proba = np.column_stack([1 - positive, positive])
        return proba

    def predict(self, rows: Sequence[Row], explain: bool = True) -> list[Prediction]:
        self.encoder.check_columns(rows)
        encoded = self.encoder.transform(rows, strict=True)
        scores = self.scores(encoded.matrix)
        effects = self._effects(encoded.matrix, scores) if explain else None
        out = []
        for i, row in enumerate(rows):
            if self.task == "regression":
                value: str | float = round(float(scores[i]), 6)
                probability, probabilities = None, None
            else:
                best = int(np.argmax(scores[i]))
                value = self.classes[best]
                probability = round(float(scores[i, best]), 4)
                probabilities = {c: round(float(p), 4) for c, p in zip(self.classes, scores[i], strict=True)}
            drivers = [] if effects is None else self._drivers(row, effects[i])
            out.append(Prediction(value, probability, probabilities, drivers, encoded.warnings[i]))
        return out

    def _output(
        self, scores: npt.NDArray[np.float64], chosen: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64]:
        """The number explained: the value, the positive class's probability, or the predicted class's."""
        if self.task == "regression":
            return scores
        if self.positive is not None:
            return scores[:, self.classes.index(self.positive)]
        return scores[np.arange(len(scores)), chosen]

    def _effects(self, matrix: Matrix, scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Each column's effect on each row: the output minus its expected value when that column takes
        its typical values instead (weighted by how often it takes them). Rows go in chunks, so the
        variants of a 10,000-row batch never sit in memory at once."""
        variants = sum(len(c.typical) for c in self.encoder.columns_)
        chunk = max(1, EXPLAINED_CELLS // max(variants * matrix.shape[1], 1))
        parts = [
            self._chunk_effects(matrix[i : i + chunk], scores[i : i + chunk])
            for i in range(0, len(matrix), chunk)
        ]
        return np.vstack(parts)

    def _chunk_effects(self, matrix: Matrix, scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        chosen = np.zeros(len(matrix), dtype=np.int64) if self.task == "regression" else scores.argmax(axis=1)
        base = self._output(scores, chosen)
        variants = [
            (j, weight, variant)
            for j in range(len(self.encoder.groups))
            for variant, weight in self.encoder.typical_variants(matrix, j)
        ]
        # One model call for every variant: a call costs more than the rows in it.
        outputs = self._output(
            self.scores(np.vstack([v for _, _, v in variants])), np.tile(chosen, len(variants))
        )
        expected = np.zeros((len(matrix), len(self.encoder.groups)))
        for k, (j, weight, _) in enumerate(variants):
            expected[:, j] += weight * outputs[k * len(matrix) : (k + 1) * len(matrix)]
        return base[:, None] - expected

    def _drivers(self, row: Row, effects: npt.NDArray[np.float64]) -> list[dict[str, Any]]:
        order = np.argsort(-np.abs(effects))[:DRIVERS]
        names = self.columns
        return [
            {
                "column": names[j],
                "value": cell_text(row.get(names[j], "")),
                "effect": round(float(effects[j]), 4),
            }
            for j in order
            if abs(effects[j]) >= 1e-4
        ]
