"""The settings and models that decide how a question is answered: what a release freezes and `zhiwen
tune` searches. Plain data, validated when read, so a stored release can never carry a setting the code
no longer understands without saying so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from zhiwen.errors import InvalidInput
from zhiwen.services.answers.synonyms import checked as checked_synonyms
from zhiwen.services.knowledge.fusion import KEYWORD_WEIGHT, SPREAD_REFERENCE

RetrievalMode = Literal["keyword", "vector", "hybrid"]
_BOUNDS: dict[str, tuple[float, float]] = {
    "keyword_weight": (0.0, 2.0),
    "spread_reference": (1, 50),
    "candidates": (5, 500),
    "top_k": (1, 20),
    "faq_direct_above": (0.0, 1.0),
    "handoff_below": (0.0, 1.0),
    "curated_match_above": (0.0, 1.0),
    "related_products": (0, 10),
}
MODELS = ("confidence_model", "choice_model", "reranker")  # fitted models among the settings
LISTS = ("synonyms",)  # edited by their own commands, not name=value


@dataclass(frozen=True)
class AnswerConfig:
    retrieval_mode: RetrievalMode = "hybrid"
    keyword_weight: float = KEYWORD_WEIGHT
    spread_reference: int = SPREAD_REFERENCE
    candidates: int = 50
    top_k: int = 5
    faq_direct_above: float = 0.6
    handoff_below: float = 0.5  # hand off when P(answer is right) is below this
    curated_match_above: float = 0.94  # cosine of the question to a curated question that counts as "same"
    related_products: int = 0  # catalogue items shown with answers that name a product; 0: off
    confidence_model: dict[str, Any] | None = None  # None: the bundled default
    choice_model: dict[str, Any] | None = None  # which passage answers; None: the bundled default
    reranker: dict[str, Any] | None = None  # None: fused scores rank
    # The customer's word → the documents' word (services/answers/synonyms.py); `zhiwen synonyms`.
    synonyms: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnswerConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInput(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        config = cls(**dict(data))
        config.validate()
        return config

    def with_overrides(self, pairs: Mapping[str, str]) -> AnswerConfig:
        """Apply ``name=value`` strings from the command line, converted to each setting's type."""
        changes: dict[str, Any] = {}
        for name, raw in pairs.items():
            if name in LISTS:
                raise InvalidInput(f"{name} are edited with `zhiwen {name}` or /v1/{name}")
            if name in MODELS:
                if raw.lower() not in ("none", "default", ""):
                    raise InvalidInput(f"{name} can only be reset (=none) from the command line")
                changes[name] = None
                continue
            current = getattr(self, name, None) if name in _BOUNDS or name == "retrieval_mode" else None
            if current is None:
                raise InvalidInput(f"unknown setting {name!r}; known: retrieval_mode, {', '.join(_BOUNDS)}")
            try:
                changes[name] = type(current)(raw)
            except ValueError:
                raise InvalidInput(f"{name}={raw!r}: expected a {type(current).__name__}") from None
        config = dataclasses.replace(self, **changes)
        config.validate()
        return config

    def validate(self) -> None:
        if self.retrieval_mode not in get_args(RetrievalMode):
            raise InvalidInput(f"retrieval_mode must be one of {', '.join(get_args(RetrievalMode))}")
        for name, (low, high) in _BOUNDS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                raise InvalidInput(f"{name} must be a number between {low:g} and {high:g}, not {value!r}")
        if not isinstance(self.synonyms, dict):
            raise InvalidInput("synonyms must map the customer's word to the documents' word")
        try:
            checked_synonyms(self.synonyms)
        except ValueError as error:
            raise InvalidInput(str(error)) from None

    def settings(self) -> dict[str, Any]:
        """The scalar settings, without the fitted models or the synonyms (for tables and reports)."""
        return {k: v for k, v in self.to_dict().items() if k not in MODELS + LISTS}

    def summary(self) -> dict[str, Any]:
        """The settings, and which models are in use (not their weights)."""
        confidence = self.confidence_model or {}
        return {
            **self.settings(),
            "confidence_model": {"fitted_on": confidence.get("fitted_on"), "C": confidence.get("C", 1.0)}
            if self.confidence_model
            else "bundled default",
            "choice_model": (
                {"fitted_on": (self.choice_model or {}).get("fitted_on")}
                if self.choice_model
                else "bundled default"
            ),
            "reranker": (self.reranker or {}).get("fingerprint"),
            "synonyms": len(self.synonyms),
        }
