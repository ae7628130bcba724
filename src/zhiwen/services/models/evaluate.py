"""Held-out figures of a table model: accuracy, ROC-AUC, F1, log loss, Brier and the calibration curve for
classes; RMSE, MAE and R² for quantities; a bootstrap 95 % interval for the headline figure; and which
columns matter (permutation importance on the held-out rows, per input column)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from zhiwen.services.models.model import TableModel

BOOTSTRAP = 1000
CALIBRATION_BINS = 10
PERMUTATION_REPEATS = 5


def held_out_figures(
    task: str, classes: Sequence[str], y: npt.NDArray[Any], scores: npt.NDArray[np.float64], seed: int = 0
) -> dict[str, Any]:
    if task == "regression":
        return _regression(y.astype(float), scores.reshape(-1), seed)
    return _classification(list(classes), y.astype(int), scores, seed)


def _classification(
    classes: list[str], y: npt.NDArray[np.int64], proba: npt.NDArray[np.float64], seed: int
) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

    labels = list(range(len(classes)))
    predicted = proba.argmax(axis=1)
    binary = len(classes) == 2
    figures: dict[str, Any] = {
        "rows": len(y),
        "accuracy": round(float(accuracy_score(y, predicted)), 4),
        "f1": round(
            float(f1_score(y, predicted, average="binary" if binary else "macro", zero_division=0)), 4
        ),
        "log_loss": round(float(log_loss(y, proba, labels=labels)), 4),
    }
    if len(set(y.tolist())) < len(classes):
        # A class with no held-out row has no ROC-AUC (scikit-learn gives NaN): say there is none.
        figures["roc_auc"] = None
        figures["missing_classes"] = [c for i, c in enumerate(classes) if i not in set(y.tolist())]
        return figures

    def auc(idx: npt.NDArray[np.int64]) -> float:
        if binary:
            return binary_auc(y[idx], proba[idx, 1])
        return float(roc_auc_score(y[idx], proba[idx], multi_class="ovr", labels=labels))

    everything = np.arange(len(y))
    figures["roc_auc"] = round(auc(everything), 4)
    figures["roc_auc_ci95"] = _bootstrap(auc, y, seed)
    if binary:
        figures["brier"] = round(float(np.mean((proba[:, 1] - y) ** 2)), 4)
        figures["calibration"] = calibration_curve(proba[:, 1], y)
        figures["ece"] = round(
            sum(b["rows"] * abs(b["predicted"] - b["observed"]) for b in figures["calibration"]) / len(y), 4
        )
    return figures


def _regression(y: npt.NDArray[np.float64], predicted: npt.NDArray[np.float64], seed: int) -> dict[str, Any]:
    def rmse(idx: npt.NDArray[np.int64]) -> float:
        return float(np.sqrt(np.mean((predicted[idx] - y[idx]) ** 2)))

    variance = float(np.var(y))
    everything = np.arange(len(y))
    return {
        "rows": len(y),
        "rmse": round(rmse(everything), 4),
        "rmse_ci95": _bootstrap(rmse, y, seed, stratified=False),
        "mae": round(float(np.mean(np.abs(predicted - y))), 4),
        "r2": round(1 - float(np.mean((predicted - y) ** 2)) / variance, 4) if variance else None,
    }


def binary_auc(y: npt.NDArray[np.int64], score: npt.NDArray[np.float64]) -> float:
    """ROC-AUC as the Mann-Whitney statistic (ties count half): the same figure as scikit-learn's, in a
    fraction of its time, which a thousand bootstrap resamples need."""
    from scipy.stats import rankdata

    positives = y == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    ranks = rankdata(score)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _bootstrap(metric: Any, y: npt.NDArray[Any], seed: int, stratified: bool = True) -> list[float]:
    """The 2.5th and 97.5th percentiles of the figure over resamples of the held-out rows (each class
    resampled within itself, so every resample has both)."""
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratified else [np.arange(len(y))]
    values = []
    for _ in range(BOOTSTRAP):
        idx = np.concatenate([rng.choice(g, len(g)) for g in groups])
        values.append(metric(idx))
    return [round(float(np.percentile(values, 2.5)), 4), round(float(np.percentile(values, 97.5)), 4)]


def calibration_curve(p: npt.NDArray[np.float64], y: npt.NDArray[np.int64]) -> list[dict[str, float]]:
    """Equal-width bins of the predicted probability: mean predicted, share observed, rows."""
    bins = np.minimum((p * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    return [
        {
            "predicted": round(float(p[bins == b].mean()), 4),
            "observed": round(float(y[bins == b].mean()), 4),
            "rows": int((bins == b).sum()),
        }
        for b in range(CALIBRATION_BINS)
        if (bins == b).any()
    ]


def importance(
    model: TableModel, x: npt.NDArray[np.float64], y: npt.NDArray[Any], seed: int = 0
) -> list[dict[str, Any]]:
    """How much the held-out figure (ROC-AUC, or R²) falls when one input column is shuffled, the mean of
    a few shuffles: larger means the model leans on it more. Largest first."""
    rng = np.random.default_rng(seed)

    from sklearn.metrics import r2_score, roc_auc_score

    def figure(matrix: npt.NDArray[np.float64]) -> float:
        scores = model.scores(matrix)
        if model.task == "regression":
            return float(r2_score(y, scores))
        if len(model.classes) == 2:
            return float(roc_auc_score(y, scores[:, 1]))
        return float(roc_auc_score(y, scores, multi_class="ovr", labels=list(range(len(model.classes)))))

    classes_needed = 1 if model.task == "regression" else len(model.classes)
    if len(y) < 10 or len(set(y.tolist())) < max(2, classes_needed):
        return []
    base = figure(x)
    out = []
    for name, columns in model.encoder.groups:
        drops = []
        for _ in range(PERMUTATION_REPEATS):
            shuffled = x.copy()
            shuffled[:, columns] = x[rng.permutation(len(x))][:, columns]
            drops.append(base - figure(shuffled))
        out.append({"column": name, "importance": round(float(np.mean(drops)), 4)})
    return sorted(out, key=lambda c: -c["importance"])
