"""Answer confidence: features of the chosen passage, mapped to P(answer is right) by a calibrated logistic
model.

Raw E5 cosines are compressed (unrelated text scores ~0.8) and BM25 is unbounded, so neither is a threshold a
user can set. The model is fitted on a golden set (``zhiwen calibrate``); its output is a probability, so
``ZHIWEN_HANDOFF_BELOW=0.5`` means "hand off when the answer is more likely wrong than right".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression

from zhiwen.errors import InvalidInput

FEATURES = (
    # Of the chosen passage (see :mod:`zhiwen.services.answers.choice` for each one's meaning):
    "vector",
    "vector_over_background",
    "coverage",
    "coverage_own",
    "unknown_terms",
    "any_unknown",
    "answer_support",
    "is_faq",
    "keyword_hit",
    "sentence",
    "rarest_missing",
    # … and of the choice itself:
    "choice",  # the chooser's score of the chosen passage
    "choice_margin",  # … above the runner-up's
)
# Those that compare the question's words with the passage's: they say nothing of a passage in the other
# language than the question's, which shares none of its words.
WORD_MATCHES = ("coverage", "coverage_own", "answer_support", "keyword_hit", "rarest_missing")
Matrix = npt.NDArray[np.float64]
log = logging.getLogger(__name__)


Model = TypeVar("Model", bound="LogisticModel")


@dataclass
class LogisticModel:
    """Logistic regression over standardised named features, in scikit-learn style (``fit`` returns
    self), stored as plain numbers so releases freeze it. Subclasses name their features."""

    FEATURE_NAMES: ClassVar[tuple[str, ...]] = ()
    C: float = 1.0  # inverse regularisation strength; `zhiwen tune` searches it
    coef_: Matrix | None = None  # per standardised feature
    intercept_: float = 0.0
    mean_: Matrix | None = None
    scale_: Matrix | None = None
    fitted_on_: int = 0

    def fit(self: Model, features: Matrix, correct: npt.NDArray[np.int_]) -> Model:
        if len(set(correct.tolist())) < 2:
            raise InvalidInput(
                "calibration needs both right and wrong answers: add unanswerable questions (ones the "
                "knowledge does not answer) or harder ones to the golden set"
            )
        self.mean_ = features.mean(axis=0)
        self.scale_ = np.where(features.std(axis=0) > 1e-9, features.std(axis=0), 1.0)
        model = LogisticRegression(C=self.C, max_iter=2000).fit(
            (features - self.mean_) / self.scale_, correct
        )
        self.coef_ = model.coef_[0].astype(np.float64)
        self.intercept_ = float(model.intercept_[0])
        self.fitted_on_ = len(correct)
        return self

    def logits(self, features: Matrix) -> npt.NDArray[np.float64]:
        if self.coef_ is None or self.mean_ is None or self.scale_ is None:
            raise ValueError("the model is not fitted")
        return np.asarray(
            ((features - self.mean_) / self.scale_) @ self.coef_ + self.intercept_, dtype=np.float64
        )

    def predict_proba(self, features: Matrix) -> npt.NDArray[np.float64]:
        return np.asarray(1.0 / (1.0 + np.exp(-self.logits(features))), dtype=np.float64)

    def unread(self, features: Matrix, names: Collection[str]) -> Matrix:
        """``features`` with the named ones set to their mean in the fitting data, where they count
        neither for nor against: for what cannot be measured."""
        if self.mean_ is None:
            raise ValueError("the model is not fitted")
        columns = [i for i, name in enumerate(self.FEATURE_NAMES) if name in names]
        unread = np.array(features, dtype=np.float64)
        unread[..., columns] = self.mean_[columns]
        return unread

    def to_dict(self) -> dict[str, Any]:
        if self.coef_ is None or self.mean_ is None or self.scale_ is None:
            raise ValueError("the model is not fitted")
        return {
            "features": list(self.FEATURE_NAMES),
            "coef": self.coef_.tolist(),
            "intercept": self.intercept_,
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
            "fitted_on": self.fitted_on_,
            "C": self.C,
        }

    @classmethod
    def from_dict(cls: type[Model], data: dict[str, Any]) -> Model:
        if list(data.get("features", [])) != list(cls.FEATURE_NAMES):
            raise ValueError("stored model uses other features; run `zhiwen calibrate` again")
        return cls(
            C=float(data.get("C", 1.0)),
            coef_=np.asarray(data["coef"], dtype=np.float64),
            intercept_=float(data["intercept"]),
            mean_=np.asarray(data["mean"], dtype=np.float64),
            scale_=np.asarray(data["scale"], dtype=np.float64),
            fitted_on_=int(data["fitted_on"]),
        )


def stored_or_default(cls: type[Model], stored: dict[str, Any] | None, default: Callable[[], Model]) -> Model:
    """The model stored in a release or the working settings, or ``default()`` when there is none or it was
    fitted for other features (an upgrade changed them: `zhiwen calibrate` fits it again)."""
    if stored:
        try:
            return cls.from_dict(stored)
        except (ValueError, KeyError):
            if cls.__name__ not in _WARNED:
                _WARNED.add(cls.__name__)
                log.warning("a stored %s uses other features; using the bundled default", cls.__name__)
    return default()


_WARNED: set[str] = set()


@dataclass
class ConfidenceModel(LogisticModel):
    """P(the answer is right) from the features of the chosen passage and of the choice (:data:`FEATURES`)."""

    FEATURE_NAMES: ClassVar[tuple[str, ...]] = FEATURES


def expected_calibration_error(probs: Sequence[float], correct: Sequence[int], bins: int = 10) -> float:
    """ECE with equal-width bins (Guo et al., ICML 2017)."""
    p, y = np.asarray(probs, dtype=float), np.asarray(correct, dtype=float)
    if len(p) == 0:
        return 0.0
    edges = np.minimum((p * bins).astype(int), bins - 1)
    return float(
        sum(
            abs(p[edges == b].mean() - y[edges == b].mean()) * (edges == b).sum()
            for b in range(bins)
            if (edges == b).any()
        )
        / len(p)
    )


def reliability_table(
    probs: Sequence[float], correct: Sequence[int], bins: int = 5
) -> list[dict[str, float]]:
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
