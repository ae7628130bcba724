"""Training an intent model: a held-out fifth for the report, cross-validation on the rest to choose the
blend and calibrate the out-of-scope threshold, then a fit on every example.

The threshold is calibrated on out-of-fold predictions: the highest best-probability below which at most
``reject_share`` of the examples the model gets right would be turned away. Rejecting a message the model
would have got wrong costs nothing, so the measured drop in accuracy is usually smaller than that share.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import KFold, StratifiedKFold

from zhiwen.services.intents.classifier import IntentClassifier, Probabilities, Vectors, blend

OUT_OF_SCOPE = "out_of_scope"
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)  # the n-gram view's share of the blend
FOLDS = 3
CLEARLY_BETTER = 0.003  # accuracy a blend weight must gain over the even blend to be chosen
REJECT_SHARE = 0.01
Progress = Callable[[str, int, int], None]


@dataclass
class TrainedIntents:
    """A version's model and the data it was fitted on (reused to embed only new examples next time and to
    compare two versions on the same split)."""

    model: IntentClassifier
    texts: list[str]
    labels: list[str]
    vectors: npt.NDArray[np.float16]
    embedder: str  # the embedder's name: another one's vectors do not fit this model


def is_held_out(text: str) -> bool:
    return int(hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest(), 16) % 5 == 0


def held_out_mask(texts: Sequence[str], labels: Sequence[str]) -> npt.NDArray[np.bool_]:
    """A fifth of the examples by a hash of their text, leaving every intent two examples to learn from."""
    mask = np.array([is_held_out(t) for t in texts])
    for label, total in Counter(labels).items():
        held = [n for n, y in enumerate(labels) if y == label and mask[n]]
        short = 2 - (total - len(held))  # how many held-out examples must go back to training
        for n in held[: max(0, short)]:
            mask[n] = False
    return mask


def predictions(
    probabilities: Probabilities, classes: npt.NDArray[Any], threshold: float
) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]:
    """The best class per row and whether it is out of scope (its probability below ``threshold``)."""
    return classes[probabilities.argmax(axis=1)], probabilities.max(axis=1) < threshold


def calibrate_threshold(
    probabilities: Probabilities, classes: npt.NDArray[Any], truth: Sequence[str], reject_share: float
) -> float:
    best = probabilities.max(axis=1)
    correct = np.sort(best[classes[probabilities.argmax(axis=1)] == np.asarray(truth)])
    allowed = int(reject_share * len(truth))  # correct answers the threshold may turn away
    if len(correct) == 0 or allowed <= 0:
        return 0.0
    return float(correct[min(allowed, len(correct)) - 1])


def _out_of_fold(
    texts: Sequence[str],
    vectors: Vectors,
    labels: Sequence[str],
    classes: npt.NDArray[Any],
    progress: Progress,
) -> tuple[Probabilities, Probabilities]:
    counts = Counter(labels)
    splitter = (
        StratifiedKFold(FOLDS, shuffle=True, random_state=0)
        if min(counts.values()) >= FOLDS
        else KFold(FOLDS, shuffle=True, random_state=0)
    )
    ngram, embedding = np.zeros((len(texts), len(classes))), np.zeros((len(texts), len(classes)))
    for fold, (fit_rows, test_rows) in enumerate(splitter.split(texts, labels)):
        progress("cross-validate", fold, FOLDS)
        fit_labels = [labels[n] for n in fit_rows]
        if len(set(fit_labels)) < 2:
            continue
        model = IntentClassifier().fit([texts[n] for n in fit_rows], vectors[fit_rows], fit_labels)
        views = model.views([texts[n] for n in test_rows], vectors[test_rows])
        columns = np.searchsorted(classes, model.classes_)
        ngram[np.ix_(test_rows, columns)] = views[0]
        embedding[np.ix_(test_rows, columns)] = views[1]
    return ngram, embedding


def evaluate(
    model: IntentClassifier,
    texts: Sequence[str],
    vectors: Vectors,
    truth: Sequence[str],
    fallback: str | None,
) -> dict[str, Any]:
    """Held-out figures: accuracy without and with the out-of-scope threshold (a rejected message counts as
    ``fallback``, the intent that answers from the knowledge, when there is one), macro F1, per intent
    precision and recall, and the confusion matrix."""
    if not truth:
        return {"examples": 0}
    predicted, rejected = predictions(model.predict_proba(texts, vectors), model.classes_, model.threshold_)
    routed = np.where(rejected, fallback or OUT_OF_SCOPE, predicted)
    labels = sorted(set(truth) | set(predicted.tolist()))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    return {
        "examples": len(truth),
        "accuracy": round(float(np.mean(predicted == np.asarray(truth))), 4),
        "routed_accuracy": round(float(np.mean(routed == np.asarray(truth))), 4),
        "out_of_scope_share": round(float(rejected.mean()), 4),
        "macro_f1": round(
            float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)), 4
        ),
        "per_intent": {
            label: {
                "precision": round(float(p), 4),
                "recall": round(float(r), 4),
                "f1": round(float(f), 4),
                "support": int(s),
            }
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
        "confusion": {"labels": labels, "matrix": confusion_matrix(truth, predicted, labels=labels).tolist()},
    }


def train(
    texts: Sequence[str],
    labels: Sequence[str],
    vectors: Vectors,
    fallback: str | None = None,
    reject_share: float = REJECT_SHARE,
    progress: Progress | None = None,
) -> tuple[IntentClassifier, dict[str, Any]]:
    """Choose the blend and threshold by cross-validation, report on a held-out fifth, fit on everything."""
    started = time.perf_counter()
    progress = progress or (lambda step, done, total: None)
    held = held_out_mask(texts, labels)
    fit_rows, test_rows = np.flatnonzero(~held).tolist(), np.flatnonzero(held).tolist()
    fit_texts, fit_labels = [texts[n] for n in fit_rows], [labels[n] for n in fit_rows]
    classes = np.array(sorted(set(labels)))
    ngram, embedding = _out_of_fold(fit_texts, vectors[fit_rows], fit_labels, classes, progress)
    truth = np.asarray(fit_labels)
    scores = {w: float(np.mean(classes[blend(ngram, embedding, w).argmax(axis=1)] == truth)) for w in WEIGHTS}
    # The even blend unless another is clearly better: folds see two thirds of the data, which favours the
    # embedding view a little more than a model fitted on all of it needs.
    best = max(scores.values())
    weight = min((w for w in WEIGHTS if scores[w] >= best - CLEARLY_BETTER), key=lambda w: abs(w - 0.5))
    threshold = calibrate_threshold(blend(ngram, embedding, weight), classes, fit_labels, reject_share)
    progress("evaluate", 0, 1)
    model = IntentClassifier(weight).fit(fit_texts, vectors[fit_rows], fit_labels)
    model.threshold_ = threshold
    held_out = evaluate(
        model, [texts[n] for n in test_rows], vectors[test_rows], [labels[n] for n in test_rows], fallback
    )
    progress("fit", 0, 1)
    final = IntentClassifier(weight).fit(texts, vectors, labels)
    final.threshold_ = threshold
    report = {
        "examples": len(texts),
        "intents": Counter(labels),
        "cross_validation": {f"{w:g}": round(s, 4) for w, s in scores.items()},
        "weight": weight,
        "threshold": round(threshold, 4),
        "reject_share": reject_share,
        "held_out": held_out,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return final, report
