"""Data-quality findings of a look, from the store's checks.

The store counts the trouble (``DuckDBStore.data_quality``): units exposed to more than one
variant (excluded from the sums), metric events from units that were never exposed (they
cannot be attributed), metric events whose claimed variant differs from the unit's first
exposure, and metric events before a unit's exposure (not counted; normal in small numbers).
The first two are symptoms of broken assignment or tracking, like a sample ratio mismatch:
when their count exceeds :data:`TOLERANCE` of the exposed units the look halts; below it the
finding is reported as context. Variant mismatches are reported as context (the store always
counts a unit under its first exposure, never under the client's claim).

Cluster designs add two counts judged the same way: clusters served more than one variant
(left out with all their units) and exposures without a ``clusterId`` (left out: their
cluster is unknown, which means the tracking does not send it).
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

    @property
    def multi_variant_clusters(self) -> int: ...

    @property
    def missing_cluster_exposures(self) -> int: ...


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
    #: Cluster designs only (0 otherwise); looks recorded before they existed read as 0.
    multi_variant_clusters: int = 0
    missing_cluster_exposures: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "exposedUnits": self.exposed_units,
            "multiExposedUnits": self.multi_exposed_units,
            "unexposedMetricEvents": self.unexposed_metric_events,
            "variantMismatchEvents": self.variant_mismatch_events,
            "preExposureMetricEvents": self.pre_exposure_metric_events,
            "multiVariantClusters": self.multi_variant_clusters,
            "missingClusterExposures": self.missing_cluster_exposures,
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
            data.get("multiVariantClusters", 0),
            data.get("missingClusterExposures", 0),
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
    judge(
        counts.multi_variant_clusters,
        f"{counts.multi_variant_clusters} cluster(s) were served more than one variant and "
        "are left out of the sums with all their units; assignment is not stable for them",
    )
    judge(
        counts.missing_cluster_exposures,
        f"{counts.missing_cluster_exposures} exposure(s) carry no clusterId and are left out "
        "of the sums; every event of a cluster experiment must carry its cluster (the "
        "assignment.hashKey value) as clusterId",
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
        counts.multi_variant_clusters,
        counts.missing_cluster_exposures,
    )
