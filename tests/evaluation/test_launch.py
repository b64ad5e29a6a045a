"""The launch check on dry runs in a real store: ready, or the list of what failed."""

from __future__ import annotations

import numpy as np
import pytest

from splitlab.assignment import ExperimentAssignmentService
from splitlab.evaluation import launch_check
from splitlab.evaluation.launch import next_step
from splitlab.store.duckdb_store import DuckDBStore
from splitlab.tracking.events import Event

from .conftest import T0, definition, register
from .simulate import Traffic, ms, send

#: Units u10000..u13999 split 2036 / 1964 (chi-square p = 0.25, scipy.stats.chisquare), within
#: the launch SRM threshold; assignment is deterministic, so this holds on every run.
START = 10_000
HEALTHY = {
    "checkout": {"control": 0.1, "treatment": 0.1},
    "error_rate": {"control": 0.01, "treatment": 0.01},
}


@pytest.mark.parametrize(
    ("current", "target", "expected"),
    [(0.01, 1.0, 0.05), (0.05, 1.0, 0.25), (0.25, 1.0, 0.5), (0.01, 0.03, 0.03), (0.5, 0.5, None)],
)
def test_traffic_ladder(current: float, target: float, expected: float | None) -> None:
    """Steps go 1% -> 5% -> 25% -> 50% -> 100%, never past the target."""
    assert next_step(current, target) == expected


def test_healthy_dry_run_is_ready_with_next_step(store: DuckDBStore) -> None:
    """A clean 1% dry run passes every check and recommends 5%."""
    registry = register(store, definition(status="running", trafficAllocation=0.01))
    experiment = registry.get("exp-eval")
    send(store, experiment, Traffic(0, 200_000, HEALTHY), T0, np.random.default_rng(1))
    report = launch_check(store, experiment, target=0.25)
    assert report.ready, report.to_dict()
    assert [c.name for c in report.checks] == [
        "exposures",
        "srm",
        "event_metadata",
        "guardrails",
        "metric_data",
    ]
    assert (report.traffic, report.next_traffic) == (0.01, 0.05)
    assert "raise traffic from 1% to 5%" in report.recommendation


def test_srm_at_launch_threshold_and_missing_metric_fail(store: DuckDBStore) -> None:
    """Losing 3% of one arm fails p > 0.05; a metric with no events fails metric_data."""
    registry = register(store, definition(status="running"))
    experiment = registry.get("exp-eval")
    rates = {"checkout": HEALTHY["checkout"]}
    traffic = Traffic(0, 12_000, rates, lose_exposures={"treatment": 0.03})
    send(store, experiment, traffic, T0, np.random.default_rng(7))
    report = launch_check(store, experiment, traffic=0.01)
    assert not report.ready
    assert [c.name for c in report.failures] == ["srm", "metric_data"]
    assert "launchSrmThreshold 0.05" in report.failures[0].detail
    assert "error_rate" in report.failures[1].detail
    assert report.next_traffic is None and "stay at 1%" in report.recommendation


def test_wrong_variant_metadata_and_breached_guardrail_fail(store: DuckDBStore) -> None:
    """Metric events claiming the other variant fail event_metadata; 8% errors fail guardrails."""
    registry = register(store, definition(status="running"))
    experiment = registry.get("exp-eval")
    rates = {
        "checkout": HEALTHY["checkout"],
        "error_rate": {"control": 0.01, "treatment": 0.08},
    }
    send(store, experiment, Traffic(START, 4000, rates), T0, np.random.default_rng(9))
    unit = f"u{START}"
    actual = ExperimentAssignmentService([experiment]).assign(unit, "exp-eval").variant
    claimed = "treatment" if actual == "control" else "control"
    store.ingest(
        [Event("bad-1", "metric", "exp-eval", claimed, unit, ms(T0) + 120_000, "checkout", 1.0)]
    )
    report = launch_check(store, experiment, traffic=0.01)
    names = [c.name for c in report.failures]
    assert names == ["event_metadata", "guardrails"]
    assert "1 metric event(s) claim a variant" in report.failures[0].detail
    assert "error_rate (treatment)" in report.failures[1].detail
