"""Data-quality findings: which counts halt a look and which are context."""

from __future__ import annotations

from dataclasses import dataclass

from splitlab.evaluation.quality import TOLERANCE, QualityReport, assess


@dataclass(frozen=True)
class Counts:
    multi_exposed_units: int = 0
    unexposed_metric_events: int = 0
    variant_mismatch_events: int = 0
    pre_exposure_metric_events: int = 0
    multi_variant_clusters: int = 0
    missing_cluster_exposures: int = 0


def test_clean_data_has_no_findings() -> None:
    """Zero counts give neither halting findings nor warnings."""
    report = assess(Counts(), 10_000)
    assert report.halting == () and report.warnings == ()


def test_above_tolerance_halts_and_below_is_context() -> None:
    """More than 1% of exposed units halts; at or below 1% is a warning."""
    assert TOLERANCE == 0.01
    over = assess(Counts(multi_exposed_units=101), 10_000)
    assert len(over.halting) == 1 and "above the 1% tolerance" in over.halting[0]
    under = assess(Counts(unexposed_metric_events=100), 10_000)
    assert under.halting == () and "within the 1% tolerance" in under.warnings[0]


def test_variant_mismatches_are_reported_but_never_halt() -> None:
    """Mismatched claims are counted under the exposure's variant: context, not a halt."""
    report = assess(Counts(variant_mismatch_events=5000), 10_000)
    assert report.halting == () and "claimed a variant" in report.warnings[0]


def test_report_round_trips_through_its_json() -> None:
    """to_dict/from_dict keep every field (the ledger stores the report)."""
    report = assess(Counts(2, 3, 4, 5), 100)
    assert QualityReport.from_dict(report.to_dict()) == report


def test_cluster_counts_are_judged_like_multi_exposed_units() -> None:
    """Multi-variant clusters and exposures without a clusterId halt above the tolerance and
    are context below it, each named in words a user can act on."""
    over = assess(Counts(missing_cluster_exposures=30), 1_000)
    assert len(over.halting) == 1
    assert over.halting[0].startswith("30 exposure(s) carry no clusterId and are left out")
    assert "above the 1% tolerance" in over.halting[0]
    under = assess(Counts(multi_variant_clusters=3), 1_000)
    assert under.halting == ()
    assert under.warnings[0].startswith("3 cluster(s) were served more than one variant")


def test_cluster_counts_round_trip_and_old_reports_read_as_zero() -> None:
    """The new counts survive the ledger; a report stored before them reads them as 0."""
    report = assess(Counts(2, 3, 4, 5, 6, 7), 100)
    assert QualityReport.from_dict(report.to_dict()) == report
    old = report.to_dict()
    del old["multiVariantClusters"], old["missingClusterExposures"]
    read = QualityReport.from_dict(old)
    assert (read.multi_variant_clusters, read.missing_cluster_exposures) == (0, 0)
