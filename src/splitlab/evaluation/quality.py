"""Data-quality findings of a look, from the store's checks.

The store counts the trouble (``DuckDBStore.data_quality``): units exposed to more than one
variant (excluded from the sums), metric events from units that were never exposed (they
cannot be attributed), metric events whose claimed variant differs from the unit's first
exposure, and metric events before a unit's exposure (not counted; normal in small numbers).
The first two are symptoms of broken assignment or tracking, like a sample ratio mismatch:
when their count exceeds :data:`TOLERANCE` of the exposed units the look halts; below it the
finding is reported as context. Variant mismatches are reported as context (the store always
counts a unit under its first exposure, never under the client's claim).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

#: Share of exposed units above which a data-quality finding halts the look.
TOLERANCE = 0.01


class DataQualityCounts(Protocol):
    """What the evaluation reads from the store's report (``splitlab.store.base.DataQuality``)."""

    @property
    def multi_exposed_units(self) -> int: ...

    @property
    def unexposed_metric_events(self) -> int: ...

    @property
    def variant_mismatch_events(self) -> int: ...

    @property
    def pre_exposure_metric_events(self) -> int: ...


@dataclass(frozen=True)
class QualityReport:
    """The counts, the exposed units they are measured against, and the sentences they give."""

    exposed_units: float
    multi_exposed_units: int
    unexposed_metric_events: int
    variant_mismatch_events: int
    pre_exposure_metric_events: int
    halting: tuple[str, ...]
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "exposedUnits": self.exposed_units,
            "multiExposedUnits": self.multi_exposed_units,
            "unexposedMetricEvents": self.unexposed_metric_events,
            "variantMismatchEvents": self.variant_mismatch_events,
            "preExposureMetricEvents": self.pre_exposure_metric_events,
            "tolerance": TOLERANCE,
            "halting": list(self.halting),
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityReport:
        return cls(
            data["exposedUnits"],
            data["multiExposedUnits"],
            data["unexposedMetricEvents"],
            data["variantMismatchEvents"],
            data["preExposureMetricEvents"],
            tuple(data["halting"]),
            tuple(data["warnings"]),
        )


def assess(counts: DataQualityCounts, exposed_units: float) -> QualityReport:
    """Turn the store's counts into halting findings and warnings."""
    halting: list[str] = []
    warnings: list[str] = []
    base = max(exposed_units, 1.0)

    def judge(count: int, text: str) -> None:
        if count <= 0:
            return
        share = count / base
        sentence = f"{text} ({share:.2%} of {exposed_units:g} exposed units"
        if share > TOLERANCE:
            halting.append(f"{sentence}, above the {TOLERANCE:.0%} tolerance)")
        else:
            warnings.append(f"{sentence}, within the {TOLERANCE:.0%} tolerance)")

    judge(
        counts.multi_exposed_units,
        f"{counts.multi_exposed_units} unit(s) were exposed to more than one variant and are "
        "left out of the sums; assignment is not stable for them",
    )
    judge(
        counts.unexposed_metric_events,
        f"{counts.unexposed_metric_events} metric event(s) came from units never exposed to "
        "the experiment; exposures are being lost",
    )
    if counts.variant_mismatch_events > 0:
        warnings.append(
            f"{counts.variant_mismatch_events} metric event(s) claimed a variant other than the "
            "unit's first exposure; they were counted under the exposure's variant"
        )
    return QualityReport(
        exposed_units,
        counts.multi_exposed_units,
        counts.unexposed_metric_events,
        counts.variant_mismatch_events,
        counts.pre_exposure_metric_events,
        tuple(halting),
        tuple(warnings),
    )
