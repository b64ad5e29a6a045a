"""The data-quality panel of cluster and switchback looks: lines that apply to the design,
each with the total it is measured against; a classic look's panel is unchanged."""

from __future__ import annotations

from dataclasses import dataclass

from splitlab.evaluation.quality import assess
from splitlab.server.dashboard.looks import quality


@dataclass(frozen=True)
class Counts:
    multi_exposed_units: int = 0
    unexposed_metric_events: int = 0
    variant_mismatch_events: int = 0
    pre_exposure_metric_events: int = 0
    multi_variant_clusters: int = 0
    missing_cluster_exposures: int = 0
    analysis_units: int | None = None
    exposures: int | None = None
    clusters: int | None = None
    metric_events: int | None = None


def test_a_switchback_panel_has_no_units_exposed_twice() -> None:
    report = assess(Counts(0, 14, 3, metric_events=64_000), 1344, "switchback").to_dict()
    panel = quality(report)
    assert [line["key"] for line in panel["lines"]] == [
        "unexposedMetricEvents",
        "variantMismatchEvents",
    ]
    assert panel["lines"][0]["text"] == (
        "metric events carried no clusterId (the switchback unit's value) (they cannot be "
        "placed in a cell and are left out); of 64,000 metric events"
    )
    assert panel["lines"][1]["text"] == (
        "metric events named another variant than their cell's (counted under the cell's variant)"
    )
    assert not any("units saw" in line["text"] for line in panel["lines"])
    assert panel["exposed"] is None
    assert panel["basis"] == (
        "a finding that can halt does so above 1% of its own total (shown beside it)"
    )


def test_a_cluster_panel_names_each_total() -> None:
    counts = Counts(6, 0, 0, 0, 2, 0, 4000, 4006, 400, 900)
    panel = quality(assess(counts, 400, "cluster").to_dict())
    text = {line["key"]: line["text"] for line in panel["lines"]}
    assert text["multiExposedUnits"].endswith("; of 4,000 analysis units")
    assert text["multiVariantClusters"].endswith("; of 400 clusters")
    assert text["missingClusterExposures"].endswith("; of 4,006 exposures")
    assert panel["clean"] is False


def test_a_classic_panel_is_as_before() -> None:
    panel = quality(assess(Counts(1, 2, 3, 4), 1000).to_dict())
    assert panel["exposed"] == 1000 and panel["basis"] is None
    assert panel["lines"][0]["text"] == (
        "units saw more than one variant (left out of the results; assignment is not stable "
        "for them)"
    )
    assert len(panel["lines"]) == 4
