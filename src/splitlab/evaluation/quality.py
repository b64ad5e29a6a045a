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

Each count is measured against a total at its own level when the store reports one (cluster
and switchback designs): units exposed to two variants against the analysis units, exposures
without a ``clusterId`` against all the experiment's exposures, clusters served two variants
against the clusters, metric events that cannot be placed against all the experiment's metric
events. Without it (classic experiments, and looks recorded before the totals existed) every
count is measured against the exposed units, as the analysis counts them. A switchback's
counts are about cells: metric events without the switchback unit's ``clusterId`` cannot be
placed in a cell, and events claiming another variant than their cell's are counted under the
cell's variant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

#: Share of its own total above which a data-quality finding halts the look.
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


#: The denominators a store may report, by attribute, with their JSON key and their noun.
_TOTALS = (
    ("analysis_units", "analysisUnits", "analysis units"),
    ("exposures", "exposures", "exposures"),
    ("clusters", "clusters", "clusters"),
    ("metric_events", "metricEvents", "metric events"),
)


def _totals(counts: DataQualityCounts) -> dict[str, int]:
    """The denominators the store reported (absent ones left out: classic experiments)."""
    found: dict[str, int] = {}
    for attribute, _, _ in _TOTALS:
        value = getattr(counts, attribute, None)
        if isinstance(value, int):
            found[attribute] = value
    return found


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
    #: "cluster" or "switchback"; None for a classic experiment (and older looks).
    design: str | None = None
    #: Each count's own total, when the store reported it (None: measured against
    #: ``exposed_units``, as for classic experiments and looks recorded before).
    analysis_units: int | None = None
    exposures: int | None = None
    clusters: int | None = None
    metric_events: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
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
        if self.design is not None:
            data["design"] = self.design
        for attribute, key, _ in _TOTALS:
            value = getattr(self, attribute)
            if value is not None:
                data[key] = value
        return data

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
            data.get("design"),
            data.get("analysisUnits"),
            data.get("exposures"),
            data.get("clusters"),
            data.get("metricEvents"),
        )


def assess(
    counts: DataQualityCounts, exposed_units: float, design: str | None = None
) -> QualityReport:
    """Turn the store's counts into halting findings and warnings.

    `exposed_units` (the units or clusters or cells the analysis counts) is the total of every
    count the store gave no total of its own; `design` ("cluster", "switchback" or None)
    chooses the sentences.
    """
    halting: list[str] = []
    warnings: list[str] = []
    totals = _totals(counts)

    def judge(count: int, text: str, total: str | None = None) -> None:
        if count <= 0:
            return
        if total is not None and total in totals:
            of: float = totals[total]
            noun = next(n for a, _, n in _TOTALS if a == total)
        else:
            of, noun = exposed_units, "exposed units"
        share = count / max(of, 1.0)
        sentence = f"{text} ({share:.2%} of {of:g} {noun}"
        if share > TOLERANCE:
            halting.append(f"{sentence}, above the {TOLERANCE:.0%} tolerance)")
        else:
            warnings.append(f"{sentence}, within the {TOLERANCE:.0%} tolerance)")

    switchback = design == "switchback"
    if not switchback:
        judge(
            counts.multi_exposed_units,
            f"{counts.multi_exposed_units} unit(s) were exposed to more than one variant and "
            "are left out of the sums; assignment is not stable for them",
            "analysis_units",
        )
    if switchback:
        judge(
            counts.unexposed_metric_events,
            f"{counts.unexposed_metric_events} metric event(s) carry no clusterId (the "
            "switchback unit's value) and cannot be placed in a cell; they are left out of "
            "the sums",
            "metric_events",
        )
    else:
        judge(
            counts.unexposed_metric_events,
            f"{counts.unexposed_metric_events} metric event(s) came from units never exposed "
            "to the experiment; exposures are being lost",
            "metric_events",
        )
    judge(
        counts.multi_variant_clusters,
        f"{counts.multi_variant_clusters} cluster(s) were served more than one variant and "
        "are left out of the sums with all their units; assignment is not stable for them",
        "clusters",
    )
    judge(
        counts.missing_cluster_exposures,
        f"{counts.missing_cluster_exposures} exposure(s) carry no clusterId and are left out "
        "of the sums; every event of a cluster experiment must carry its cluster (the "
        "assignment.hashKey value) as clusterId",
        "exposures",
    )
    if counts.variant_mismatch_events > 0:
        if switchback:
            warnings.append(
                f"{counts.variant_mismatch_events} metric event(s) claimed a variant other "
                "than their cell's; they were counted under the cell's variant"
            )
        else:
            warnings.append(
                f"{counts.variant_mismatch_events} metric event(s) claimed a variant other "
                "than the unit's first exposure; they were counted under the exposure's "
                "variant"
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
        design,
        totals.get("analysis_units"),
        totals.get("exposures"),
        totals.get("clusters"),
        totals.get("metric_events"),
    )
