"""Review analytics as pictures: satisfaction and volume trends per product, complaint topics, and a
sentiment model's confusion matrix. PNG for embedding anywhere, HTML for a browser."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from typing import Any

from zhiwen.services.charts import plt, png, style

MAX_PRODUCTS = 6  # lines on one trend chart before it becomes unreadable


def trend_png(summary: dict[str, Any]) -> bytes:
    """Satisfaction per period (lines) over review volume (bars), for the busiest products."""
    products = summary["products"][:MAX_PRODUCTS]
    periods = sorted({p["period"] for product in products for p in product["periods"]})
    with style():
        figure, (top, bottom) = plt.subplots(
            2, 1, figsize=(8, 5.5), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
        )
        index = {period: i for i, period in enumerate(periods)}
        width = 0.8 / max(len(products), 1)
        for n, product in enumerate(products):
            points = [
                (index[p["period"]], p["satisfaction"])
                for p in product["periods"]
                if p["satisfaction"] is not None
            ]
            if points:
                top.plot([x for x, _ in points], [y for _, y in points], marker="o", label=product["product"])
            bottom.bar(
                [index[p["period"]] + (n - (len(products) - 1) / 2) * width for p in product["periods"]],
                [p["reviews"] for p in product["periods"]],
                width=width,
                label=product["product"],
            )
        top.set_ylabel("satisfaction (positive share)")
        top.set_ylim(0, 1.02)
        top.set_title(f"Satisfaction and volume per {summary['period']}")
        if top.get_lines():
            top.legend(fontsize=8, loc="lower left", ncols=min(3, len(products)))
        bottom.set_ylabel("reviews")
        bottom.set_xticks(range(len(periods)), periods, rotation=45 if len(periods) > 8 else 0, fontsize=8)
        return png(figure)


def topics_png(summary: dict[str, Any]) -> bytes:
    """Negative reviews per complaint topic."""
    topics = summary["topics"]
    with style():
        figure, axis = plt.subplots(figsize=(7, 0.45 * max(len(topics), 2) + 1))
        names = [t["name"] for t in topics][::-1]
        axis.barh(names, [t["size"] for t in topics][::-1], color="#c0504d")
        axis.set_xlabel("negative reviews (clustered sample)")
        axis.set_title("Complaint topics")
        return png(figure)


def confusion_png(labels: Sequence[str], confusion: Sequence[Sequence[int]], title: str) -> bytes:
    with style():
        figure, axis = plt.subplots(figsize=(1.3 * len(labels) + 2, 1.1 * len(labels) + 1.6))
        image = axis.imshow(confusion, cmap="Blues")
        axis.set_xticks(range(len(labels)), labels)
        axis.set_yticks(range(len(labels)), labels)
        axis.set_xlabel("predicted")
        axis.set_ylabel("true label")
        axis.set_title(title)
        peak = max((max(row) for row in confusion), default=0)
        for i, row in enumerate(confusion):
            for j, count in enumerate(row):
                axis.text(
                    j, i, str(count), ha="center", va="center", color="white" if count > peak / 2 else "black"
                )
        figure.colorbar(image, ax=axis, fraction=0.046)
        return png(figure)


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def summary_html(summary: dict[str, Any]) -> str:
    rows = "".join(
        "<tr>"
        f"<td>{html.escape(p['product'])}</td><td>{p['reviews']}</td><td>{p['scored']}</td>"
        f"<td>{_pct(p['satisfaction'])}</td><td>{p['negative']}</td>"
        f"<td>{html.escape(', '.join(str(t['name']) for t in p['top_topics']))}</td>"
        "</tr>"
        for p in summary["products"]
    )
    topics = "".join(
        f"<li><b>{html.escape(t['name'])}</b> ({t['size']}): "
        f"{html.escape(' · '.join(t['keywords']))}"
        f"<br><small>{html.escape(' | '.join(t['examples']))}</small></li>"
        for t in summary["topics"]
    )
    overall = summary["overall"]
    parts = [
        '<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>Review analytics</title>',
        "<style>body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;max-width:960px;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left}"
        "img{max-width:100%}</style></head><body>",
        "<h1>Review analytics</h1>",
        f"<p>{overall['reviews']} reviews, {overall['scored']} scored, "
        f"satisfaction {_pct(overall['satisfaction'])}.</p>",
        _img(trend_png(summary), "satisfaction and volume trend"),
        "<h2>Products</h2><table><tr><th>product</th><th>reviews</th><th>scored</th><th>satisfaction</th>"
        f"<th>negative</th><th>top complaints</th></tr>{rows}</table>",
    ]
    if summary["topics"]:
        parts += [
            "<h2>Complaint topics</h2>",
            _img(topics_png(summary), "complaint topics"),
            f"<ol>{topics}</ol>",
        ]
    parts.append("</body></html>")
    return "\n".join(parts)
