"""Answer confidence: features of a retrieval, mapped to P(answer is right) by a calibrated logistic model.

Raw E5 cosines are compressed (unrelated text scores ~0.8) and BM25 is unbounded, so neither is a threshold a
user can set. The model is fitted on a golden set (``zhiwen calibrate``); its output is a probability, so
``ZHIWEN_HANDOFF_BELOW=0.5`` means "hand off when the answer is more likely wrong than right".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression

from zhiwen.services.fusion import Candidate
from zhiwen.text.tokenize import keyword_tokens
from zhiwen.types import Hit

FEATURES = ("vector_top", "vector_gap", "coverage", "is_faq", "keyword_hit")
Matrix = npt.NDArray[np.float64]


def _weight(token: str) -> float:
    return float(len(token)) if not token.isascii() else 1.0


def coverage(question: str, text: str) -> float:
    """Share of the question's keyword weight found in ``text`` (Chinese words weigh by length)."""
    wanted = set(keyword_tokens(question))
    if not wanted:
        return 0.0
    present = set(keyword_tokens(text))
    return sum(_weight(t) for t in wanted & present) / sum(_weight(t) for t in wanted)


def confidence_features(question: str, hits: Sequence[Hit], candidates: Sequence[Candidate]) -> list[float]:
    if not hits:
        return [0.0] * len(FEATURES)
    top = hits[0]
    cosines = sorted((c.vector for c in candidates if c.vector is not None), reverse=True)
    background = float(np.mean(cosines[4:20])) if len(cosines) > 4 else (cosines[-1] if cosines else 0.0)
    vector_top = top.vector_score if top.vector_score is not None else background
    matched = top.chunk.question if top.chunk.kind == "faq" and top.chunk.question else top.chunk.text
    return [
        vector_top,
        vector_top - background,
        coverage(question, f"{top.chunk.title_path} {matched}"),
        1.0 if top.chunk.kind == "faq" else 0.0,
        1.0 if top.keyword_score is not None else 0.0,
    ]


@dataclass
class ConfidenceModel:
    """Logistic regression over :data:`FEATURES`, in scikit-learn style (``fit`` returns self)."""

    coef_: Matrix | None = None
    intercept_: float = 0.0
    fitted_on_: int = 0

    def fit(self, features: Matrix, correct: npt.NDArray[np.int_]) -> ConfidenceModel:
        if len(set(correct.tolist())) < 2:
            raise ValueError("calibration needs both right and wrong (or unanswerable) examples")
        model = LogisticRegression(C=1.0, max_iter=1000).fit(features, correct)
        self.coef_ = model.coef_[0].astype(np.float64)
        self.intercept_ = float(model.intercept_[0])
        self.fitted_on_ = len(correct)
        return self

    def predict_proba(self, features: Matrix) -> npt.NDArray[np.float64]:
        if self.coef_ is None:
            raise ValueError("the confidence model is not fitted")
        logits = features @ self.coef_ + self.intercept_
        return np.asarray(1.0 / (1.0 + np.exp(-logits)), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(FEATURES),
            "coef": [] if self.coef_ is None else self.coef_.tolist(),
            "intercept": self.intercept_,
            "fitted_on": self.fitted_on_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConfidenceModel:
        if list(data.get("features", [])) != list(FEATURES):
            raise ValueError("stored confidence model uses other features; run `zhiwen calibrate` again")
        return cls(np.asarray(data["coef"], dtype=np.float64), float(data["intercept"]), int(data["fitted_on"]))


def expected_calibration_error(probs: Sequence[float], correct: Sequence[int], bins: int = 10) -> float:
    """ECE with equal-width bins (Guo et al., ICML 2017)."""
    p, y = np.asarray(probs, dtype=float), np.asarray(correct, dtype=float)
    if len(p) == 0:
        return 0.0
    edges = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum(abs(p[edges == b].mean() - y[edges == b].mean()) * (edges == b).sum() for b in range(bins) if (edges == b).any()) / len(p))


def reliability_table(probs: Sequence[float], correct: Sequence[int], bins: int = 5) -> list[dict[str, float]]:
    p, y = np.asarray(probs, dtype=float), np.asarray(correct, dtype=float)
    edges = np.minimum((p * bins).astype(int), bins - 1)
    return [
        {
            "from": b / bins,
            "to": (b + 1) / bins,
            "count": int((edges == b).sum()),
            "mean_confidence": float(p[edges == b].mean()),
            "accuracy": float(y[edges == b].mean()),
        }
        for b in range(bins)
        if (edges == b).any()
    ]
