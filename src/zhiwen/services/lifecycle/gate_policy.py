"""A gate's policy, shared by every gated family (answer releases, sentiment, recommender and intent
models): the lowest acceptable value of each gated metric, and the largest acceptable drop against what is
live."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zhiwen.errors import InvalidInput

DEFAULT_TOLERANCE = 0.02


@dataclass
class GatePolicy:
    minimum: dict[str, float] = field(default_factory=dict)  # metric -> lowest acceptable value
    tolerance: float = DEFAULT_TOLERANCE  # largest acceptable drop against the live release

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> GatePolicy:
        data = data or {}
        return cls(dict(data.get("minimum", {})), float(data.get("tolerance", DEFAULT_TOLERANCE)))

    def to_dict(self) -> dict[str, Any]:
        return {"minimum": self.minimum, "tolerance": self.tolerance}

    def below_minimum(self, figures: Mapping[str, float | None]) -> list[str]:
        """Each gated figure under its minimum, in words (a missing figure counts as 0)."""
        return [
            f"{metric} {figures.get(metric) or 0.0:.4f} is below the minimum {lowest:.4f}"
            for metric, lowest in self.minimum.items()
            if (figures.get(metric) or 0.0) < lowest
        ]

    def drops(
        self,
        candidate: Mapping[str, float | None],
        live: Mapping[str, float],
        metrics: Sequence[str],
        live_version: int,
    ) -> list[str]:
        """Each of ``metrics`` that falls more than the tolerance below the live version's, in words."""
        failures = []
        for metric in metrics:
            measured = candidate.get(metric) or 0.0
            if live[metric] - measured > self.tolerance:
                failures.append(
                    f"{metric} drops {live[metric] - measured:.4f} against live v{live_version}"
                    f" ({measured:.4f} < {live[metric]:.4f}; tolerance {self.tolerance})"
                )
        return failures

    def updated(
        self, minimum: Mapping[str, float], tolerance: float | None, gated: Sequence[str]
    ) -> GatePolicy:
        """This policy with new minimums (for metrics in ``gated`` only) and, if given, a new tolerance."""
        unknown = sorted(set(minimum) - set(gated))
        if unknown:
            raise InvalidInput(f"unknown gated metric(s) {', '.join(unknown)}; gated: {', '.join(gated)}")
        if any(not 0.0 <= v <= 1.0 for v in minimum.values()) or (
            tolerance is not None and not 0 <= tolerance <= 1
        ):
            raise InvalidInput("thresholds and the tolerance are fractions between 0 and 1")
        return GatePolicy({**self.minimum, **minimum}, self.tolerance if tolerance is None else tolerance)
