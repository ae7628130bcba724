"""A table model version as pictures: its calibration curve (predicted probability against what happened on
the held-out rows) and which columns it leans on."""

from __future__ import annotations

from typing import Any

from zhiwen.errors import NotFound
from zhiwen.services.charts import plt, png, style

TOP_COLUMNS = 15


def calibration_png(report: dict[str, Any], title: str) -> bytes:
    curve = (report.get("held_out") or {}).get("calibration")
    if not curve:
        raise NotFound(
            "this version has no calibration curve (only two-class models on held-out rows have one)"
        )
    with style():
        figure, axis = plt.subplots(figsize=(5, 4.6))
        axis.plot([0, 1], [0, 1], linestyle="--", color="#999999", label="perfectly calibrated")
        axis.plot(
            [b["predicted"] for b in curve], [b["observed"] for b in curve], marker="o", label="this model"
        )
        for b in curve:
            axis.annotate(
                str(b["rows"]),
                (b["predicted"], b["observed"]),
                fontsize=7,
                xytext=(3, -9),
                textcoords="offset points",
                color="#555555",
            )
        axis.set_xlabel(f"predicted probability of {report.get('positive')}")
        axis.set_ylabel("observed share (held-out rows)")
        axis.set_xlim(0, 1)
        axis.set_ylim(0, 1)
        axis.set_title(title)
        axis.legend(fontsize=8, loc="upper left")
        return png(figure)


def importance_png(report: dict[str, Any], title: str) -> bytes:
    columns = (report.get("importance") or [])[:TOP_COLUMNS]
    if not columns:
        raise NotFound("this version has no importance figures (too few held-out rows)")
    metric = "R²" if report.get("task") == "regression" else "ROC-AUC"
    with style():
        figure, axis = plt.subplots(figsize=(7, 0.4 * len(columns) + 1.2))
        axis.barh([c["column"] for c in columns][::-1], [c["importance"] for c in columns][::-1])
        axis.set_xlabel(f"{metric} lost when the column is shuffled")
        axis.set_title(title)
        return png(figure)


CHARTS = {"calibration": calibration_png, "importance": importance_png}
