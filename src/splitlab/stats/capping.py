"""Outlier capping (winsorization) of per-unit values: the caps a look applied.

The store caps each unit's value (``min(value, cap)``) before it forms the sums, so the
statistics engine analyses capped sums exactly as it analyses any others; this module only
carries what was applied, for the look document and the rendered results
(docs/statistics.md, "Outlier capping").

A percentile cap is the ``ceil(p * n)``-th smallest of the ``n`` pooled per-unit values of
every arm (:func:`percentile_cap`; numpy's ``quantile(..., method="inverted_cdf")``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from splitlab.config.models import Cap


def percentile_cap(values: Sequence[float], percentile: float) -> float | None:
    """The reference definition: the ``ceil(p * n)``-th order statistic (1-based), p = percentile
    / 100 (None without values). The stores compute the same in SQL."""
    if not values:
        return None
    p = percentile / 100.0
    rank = min(max(math.ceil(len(values) * p), 1), len(values))
    return sorted(values)[rank - 1]


@dataclass(frozen=True)
class AppliedCap:
    """One cap applied at a look: to a metric's value (a ratio's numerator) or its covariate."""

    metric: str
    #: ``"value"`` or ``"covariate"``.
    target: str
    rule: Cap
    #: The cap (None when no unit was exposed yet).
    value: float | None
    #: Units per arm whose value was above the cap (and so was set to it).
    touched: Mapping[str, int]
    #: The planned look at which a percentile cap was fixed; None while it is provisional
    #: (computed afresh at each look) and for a fixed cap.
    fixed_at: int | None = None

    @property
    def provisional(self) -> bool:
        return self.rule.type == "percentile" and self.fixed_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "target": self.target,
            "rule": self.rule.model_dump(by_alias=True, exclude_none=True),
            "value": self.value,
            "touched": dict(self.touched),
            "fixedAtLook": self.fixed_at,
            "provisional": self.provisional,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AppliedCap:
        return cls(
            str(data["metric"]),
            str(data["target"]),
            Cap.model_validate(data["rule"]),
            None if data["value"] is None else float(data["value"]),
            {str(k): int(v) for k, v in data["touched"].items()},
            data.get("fixedAtLook"),
        )

    def short(self) -> str:
        """``capped at 1,234.5 (99th percentile, fixed at look 2): 812 units touched``."""
        how = self.rule.describe()
        if self.rule.type == "percentile":
            how += (
                f", fixed at look {self.fixed_at}"
                if self.fixed_at
                else ", provisional: recomputed at each look until every arm has minSampleSize units"
            )
        what = "covariate capped" if self.target == "covariate" else "capped"
        if self.value is None:
            return f"{what} ({how}): no units yet"
        touched = sum(self.touched.values())
        return f"{what} at {self.value:,.6g} ({how}): {touched:,} units touched"

    def line(self) -> str:
        """:meth:`short` with the metric's name and the touched units per arm."""
        arms = ", ".join(f"{k} {v:,}" for k, v in self.touched.items())
        return f"{self.metric}: {self.short()}" + (f" ({arms})" if self.value is not None else "")
