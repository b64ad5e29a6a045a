"""Data-quality counts measured at their own level: cluster and switchback looks through the
real DuckDB store, and the sentences a switchback's findings give.

A cluster design's analysis counts clusters and a switchback's counts cells, while the
data-quality counts are of users, exposures or metric events: each must be measured against a
total of its own kind, or a handful of stray users or events halts a healthy experiment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from splitlab.evaluation import run_look
from splitlab.evaluation.look import results_view
from splitlab.evaluation.quality import QualityReport, assess
from splitlab.store.duckdb_store import DuckDBStore
from splitlab.tracking.events import Event

from .conftest import T0, register
from .test_switchback_look import ORIGIN
from .test_switchback_look import _definition as _switchback_definition
from .test_switchback_look import _traffic as _switchback_traffic

#: 400 accounts holding 4,000 users: two of 30 users (where the faulty users are), 358 of 10
#: and 40 of 9.
SIZES = [30, 30] + [10] * 358 + [9] * 40


def _cluster_definition() -> dict[str, Any]:
    return {
        "experimentId": "exp-acct",
        "status": "running",
        "variants": ["control", "treatment"],
        "assignment": {"hashKey": "accountId", "salt": "acct"},
        "design": {"type": "cluster", "analysisUnit": "userId"},
        "metrics": {"primary": {"name": "upgrade", "type": "conversion"}},
        "evaluation": {"maxPeeks": 2, "minSampleSize": 100, "sequential": {"method": "none"}},
    }


def _cluster_traffic(store: DuckDBStore, bad_users: int) -> None:
    """Accounts alternate between the arms (200 each); `bad_users` users of the two large
    accounts are also exposed to the other variant afterwards."""
    assert sum(SIZES) == 4000 and len(SIZES) == 400
    rng = np.random.default_rng(5)
    base = int(T0.timestamp() * 1000)
    variants = ("control", "treatment")
    events: list[Event] = []
    bad = 0
    for a, size in enumerate(SIZES):
        account, variant = f"acct-{a}", variants[a % 2]
        for u in range(size):
            user = f"{account}-u{u}"
            ts = base + int(rng.integers(0, 3_600_000))
            events.append(
                Event(f"x-{user}", "exposure", "exp-acct", variant, user, ts, cluster_id=account)
            )
            if rng.random() < 0.2:
                events.append(Event(f"c-{user}", "metric", "exp-acct", variant, user, ts + 1,
                                    "upgrade", 1.0, cluster_id=account))  # fmt: skip
            if a < 2 and bad < bad_users and u < bad_users // 2:
                bad += 1
                other = variants[1 - a % 2]
                events.append(Event(f"y-{user}", "exposure", "exp-acct", other, user, ts + 5,
                                    cluster_id=account))  # fmt: skip
    assert bad == bad_users
    store.ingest(events)


@pytest.mark.parametrize(("bad_users", "halts"), [(6, False), (60, True)])
def test_multi_exposed_users_are_measured_against_users_not_clusters(
    store: DuckDBStore, bad_users: int, halts: bool
) -> None:
    """6 users exposed twice among 4,000 (0.15%) in 400 accounts do not halt (they read 1.5%
    against the 400 clusters before); 60 (1.5% of the users) do. Their two accounts (0.5% of
    the clusters) stay within the tolerance either way."""
    registry = register(store, _cluster_definition())
    _cluster_traffic(store, bad_users)
    cutoff = T0 + timedelta(hours=2)
    record = run_look(store, registry, "exp-acct", cutoff=cutoff, now=cutoff)
    quality = results_view(record)["dataQuality"]
    assert quality["multiExposedUnits"] == bad_users
    assert quality["analysisUnits"] == 4000
    assert quality["clusters"] == 400 and quality["multiVariantClusters"] == 2
    assert quality["exposures"] == 4000 + bad_users
    assert quality["design"] == "cluster"
    share = f"{bad_users / 4000:.2%} of 4000 analysis units"
    units_line = [s for s in quality["halting"] + quality["warnings"] if "unit(s) were" in s]
    assert len(units_line) == 1 and share in units_line[0], units_line
    assert any("(0.50% of 400 clusters, within" in s for s in quality["warnings"])
    assert (record.action == "halt") is halts
    if halts:
        assert quality["halting"] == units_line
    else:
        assert quality["halting"] == []


def test_a_switchback_with_a_few_stray_events_does_not_halt(store: DuckDBStore) -> None:
    """14 metric events without the region's clusterId among ~64,000 do not halt a look over
    1,344 cells (they read 1.04% of the cells before); the sentence says what they mean for a
    switchback and no line about units exposed twice appears."""
    registry = register(store, _switchback_definition())
    exp = registry.get("exp-sb")
    _switchback_traffic(store, exp, np.random.default_rng(3), hours=168)
    origin = int(ORIGIN.timestamp() * 1000)
    stray = [
        Event(f"s{i}", "metric", "exp-sb", "control", f"c{i}", origin + i * 3_600_000 + 900_000,
              "delivery", 1.0)
        for i in range(14)
    ]  # fmt: skip
    store.ingest(stray)
    cutoff = ORIGIN + timedelta(hours=168)
    record = run_look(store, registry, "exp-sb", cutoff=cutoff, now=cutoff)
    view = results_view(record)
    quality = view["dataQuality"]
    assert sum(view["design"]["cells"].values()) == 1344
    assert quality["design"] == "switchback" and quality["unexposedMetricEvents"] == 14
    assert quality["metricEvents"] > 50_000
    assert quality["halting"] == []
    assert record.action == "ship"
    (line,) = [w for w in quality["warnings"] if w.startswith("14 metric event(s)")]
    assert "carry no clusterId (the switchback unit's value) and cannot be placed in a cell" in (
        line
    )
    assert f"of {quality['metricEvents']} metric events, within the 1% tolerance" in line
    assert not any("unit(s) were exposed" in s for s in quality["warnings"])


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


def test_classic_sentences_and_json_are_unchanged() -> None:
    """Without totals of their own (a classic experiment) the counts are measured against the
    exposed units, in the same words, and the report's JSON has no new key."""
    report = assess(Counts(200, 50, 7), 10_000)
    assert report.halting == (
        "200 unit(s) were exposed to more than one variant and are left out of the sums; "
        "assignment is not stable for them (2.00% of 10000 exposed units, above the 1% "
        "tolerance)",
    )
    assert report.warnings == (
        "50 metric event(s) came from units never exposed to the experiment; exposures are "
        "being lost (0.50% of 10000 exposed units, within the 1% tolerance)",
        "7 metric event(s) claimed a variant other than the unit's first exposure; they were "
        "counted under the exposure's variant",
    )
    assert set(report.to_dict()) == {
        "exposedUnits", "multiExposedUnits", "unexposedMetricEvents", "variantMismatchEvents",
        "preExposureMetricEvents", "multiVariantClusters", "missingClusterExposures",
        "tolerance", "halting", "warnings",
    }  # fmt: skip


def test_each_count_uses_its_own_total() -> None:
    """Exposures without a clusterId against all exposures, clusters against clusters, stray
    metric events against all metric events; the totals survive the ledger."""
    counts = Counts(0, 15, 0, 0, 5, 15, 4000, 1000, 400, 1000)
    report = assess(counts, 400, "cluster")
    assert report.halting == (
        "15 metric event(s) came from units never exposed to the experiment; exposures are "
        "being lost (1.50% of 1000 metric events, above the 1% tolerance)",
        "5 cluster(s) were served more than one variant and are left out of the sums with all "
        "their units; assignment is not stable for them (1.25% of 400 clusters, above the 1% "
        "tolerance)",
        "15 exposure(s) carry no clusterId and are left out of the sums; every event of a "
        "cluster experiment must carry its cluster (the assignment.hashKey value) as clusterId "
        "(1.50% of 1000 exposures, above the 1% tolerance)",
    )
    assert QualityReport.from_dict(report.to_dict()) == report


def test_switchback_mismatches_are_counted_under_the_cell() -> None:
    """A switchback's variant mismatch names the cell, not an exposure."""
    report = assess(Counts(variant_mismatch_events=3, metric_events=900), 96, "switchback")
    assert report.warnings == (
        "3 metric event(s) claimed a variant other than their cell's; they were counted under "
        "the cell's variant",
    )


def test_looks_recorded_before_the_totals_read_them_as_absent() -> None:
    """An old report (no design, no totals) reads back with them absent, as it was judged."""
    old = assess(Counts(2, 3), 100).to_dict()
    read = QualityReport.from_dict(old)
    assert read.design is None
    assert (read.analysis_units, read.exposures, read.clusters, read.metric_events) == (
        None,
        None,
        None,
        None,
    )
