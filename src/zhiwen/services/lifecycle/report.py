"""Evaluation reports: Markdown for reading in a terminal or a pull request, HTML with plots for a browser.

Plots (matplotlib, headless): confidence distributions of right and wrong answers, the reliability diagram,
and accuracy per category.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from zhiwen.types import EvalRun

_SUMMARY_ROWS = (
    ("answer_accuracy", "answer accuracy"),
    ("exact_match", "exact match"),
    ("token_f1", "token F1"),
    ("judge_accuracy", "LLM judge accuracy"),
    ("citation_accuracy", "citation accuracy"),
    ("handoff_precision", "handoff precision"),
    ("handoff_recall", "handoff recall"),
    ("handoff_f1", "handoff F1"),
    ("recall_at_k", "Recall@k (documents)"),
    ("mrr", "MRR"),
    ("ndcg_at_k", "nDCG@k"),
    ("ece", "expected calibration error"),
    ("latency_p50_ms", "latency p50 (ms)"),
    ("latency_p95_ms", "latency p95 (ms)"),
)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def plots(run: EvalRun, results: Sequence[dict[str, Any]]) -> dict[str, bytes]:
    """PNG images by name."""
    images = {}
    figure, axis = plt.subplots(figsize=(5.5, 3.2))
    right = [r["confidence"] for r in results if r.get("composed_right", r["right"])]
    wrong = [r["confidence"] for r in results if not r.get("composed_right", r["right"])]
    axis.hist(
        [right, wrong],
        bins=10,
        range=(0, 1),
        label=["right", "wrong or unanswerable"],
        color=["#2a9d8f", "#e76f51"],
    )
    axis.set_xlabel("confidence")
    axis.set_ylabel("questions")
    axis.set_title("Confidence of right and wrong answers (before the handoff decision)")
    axis.legend()
    images["confidence.png"] = _png(figure)

    figure, axis = plt.subplots(figsize=(4, 4))
    table = run.summary.get("reliability", [])
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    axis.plot(
        [b["mean_confidence"] for b in table],
        [b["accuracy"] for b in table],
        marker="o",
        color="#264653",
        label="this run",
    )
    for b in table:
        axis.annotate(
            str(b["count"]),
            (b["mean_confidence"], b["accuracy"]),
            fontsize=8,
            textcoords="offset points",
            xytext=(4, -10),
        )
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.set_xlabel("mean confidence")
    axis.set_ylabel("share right")
    axis.set_title(f"Reliability (ECE {run.summary.get('ece', 0):.3f})")
    axis.legend(loc="upper left")
    images["reliability.png"] = _png(figure)

    categories = {  # a category of unanswerable questions has no answer accuracy to draw
        name: c for name, c in run.summary.get("by_category", {}).items() if c["answer_accuracy"] is not None
    }
    if categories:
        figure, axis = plt.subplots(figsize=(6, 0.35 * len(categories) + 1.2))
        names = list(categories)
        axis.barh(names, [categories[n]["answer_accuracy"] for n in names], color="#2a9d8f")
        axis.set_xlim(0, 1)
        axis.set_xlabel("answer accuracy (answerable questions)")
        axis.set_title("Per category")
        axis.invert_yaxis()
        images["categories.png"] = _png(figure)
    return images


def _failures(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r
        for r in results
        if (r["answerable"] and not r["right"]) or (not r["answerable"] and not r["handoff"])
    ]


def markdown(run: EvalRun, results: Sequence[dict[str, Any]], image_dir: str | None = None) -> str:
    """``image_dir``: where :func:`plots` were written, relative to the Markdown file (omit for no images)."""
    s = run.summary
    lines = [
        f"# Evaluation {run.id}",
        "",
        f"{run.target}, split {run.split}, {s['questions']} questions ({s['answerable']} answerable, "
        f"{s['unanswerable']} unanswerable), {run.created_at[:19]}.",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {label} | {_fmt(s.get(key))} |" for key, label in _SUMMARY_ROWS]
    lines += ["", f"k = {s.get('k')}. Settings: `{s.get('settings')}`", ""]
    if image_dir is not None:
        lines += [f"![{name}]({image_dir}/{name})" for name in plots(run, results)] + [""]
    lines += [
        "## Per category",
        "",
        "| category | questions | answer accuracy | handoffs |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {c['questions']} | {_fmt(c['answer_accuracy'])} | {c['handoffs']} |"
        for name, c in s.get("by_category", {}).items()
    ]
    lines += [
        "",
        "## Reliability",
        "",
        "| confidence | questions | mean confidence | share right |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {b['from']:.1f}–{b['to']:.1f} | {b['count']} | {b['mean_confidence']:.2f} | {b['accuracy']:.2f} |"
        for b in s.get("reliability", [])
    ]
    failures = _failures(results)
    lines += [
        "",
        f"## Questions it got wrong ({len(failures)})",
        "",
        "| question | expected | answer | confidence |",
        "|---|---|---|---|",
    ]
    for r in failures:
        expected = " / ".join(r["expected_answers"]) or (
            "(hand off)" if not r["answerable"] else "(documents)"
        )
        answer = r["answer"].replace("\n", " ").replace("|", "\\|")[:160]
        lines.append(f"| {r['question']} | {expected} | {answer} | {r['confidence']:.2f} |")
    return "\n".join(lines) + "\n"


def html_report(run: EvalRun, results: Sequence[dict[str, Any]]) -> str:
    """One self-contained page: figures inline as data URLs."""
    s = run.summary
    images = "".join(
        f'<img alt="{name}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'
        for name, data in plots(run, results).items()
    )
    rows = "".join(f"<tr><td>{label}</td><td>{_fmt(s.get(key))}</td></tr>" for key, label in _SUMMARY_ROWS)
    failures = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(v))}</td>"
            for v in (
                r["question"],
                " / ".join(r["expected_answers"]) or ("(hand off)" if not r["answerable"] else "–"),
                r["answer"][:200],
                f"{r['confidence']:.2f}",
            )
        )
        + "</tr>"
        for r in _failures(results)
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Evaluation {html.escape(run.id)}</title>
<style>body{{font-family:system-ui,"Noto Sans CJK SC",sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ddd;padding:4px 8px;text-align:left}}
img{{max-width:48%;margin:4px}}</style></head><body>
<h1>Evaluation {html.escape(run.id)}</h1>
<p>{html.escape(run.target)}, split {html.escape(run.split)}, {s["questions"]} questions
({s["answerable"]} answerable, {s["unanswerable"]} unanswerable), {html.escape(run.created_at[:19])}.</p>
<table><tr><th>metric</th><th>value</th></tr>{rows}</table>
<div>{images}</div>
<h2>Questions it got wrong</h2>
<table><tr><th>question</th><th>expected</th><th>answer</th><th>confidence</th></tr>{failures}</table>
</body></html>
"""
