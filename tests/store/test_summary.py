"""Summary SQL against an independent Python computation on the same simulated events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from splitlab.store import DuckDBStore

from .store_helpers import DAY, T0, data_quality, expected_sums, experiment, simulate


def assert_sums_equal(actual: Any, expected: Any, where: str = "$") -> None:
    """Same keys everywhere and numbers equal up to floating-point summation order."""
    if isinstance(expected, str | None):
        assert actual == expected, where
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), where
        assert set(actual) == set(expected), f"{where}: {set(actual) ^ set(expected)}"
        for key in expected:
            assert_sums_equal(actual[key], expected[key], f"{where}.{key}")
    else:
        assert actual == pytest.approx(float(expected), rel=1e-9, abs=1e-9), where


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One store holding one simulation (seeded), shared by the tests of this module."""
    rng = np.random.default_rng(20260301)
    events = simulate(rng)
    store = DuckDBStore(tmp_path_factory.mktemp("summary") / "sim.duckdb")
    store.ingest(events)
    yield store, events
    store.close()


def test_summary_matches_independent_computation(loaded: Any) -> None:
    """Conversion, sum/count/max, ratio and CUPED sums equal the Python reference."""
    store, events = loaded
    exp = experiment()
    actual = store.summary(exp).to_dict()
    expected = expected_sums(events, exp)
    assert actual["experimentId"] == "sim"
    assert_sums_equal({k: actual[k] for k in ("units", "metrics")}, expected)


def test_summary_with_cutoff(loaded: Any) -> None:
    """A cut-off drops later exposures and events, as the reference does."""
    store, events = loaded
    exp = experiment()
    cutoff = T0 + 3 * DAY
    actual = store.summary(exp, cutoff=datetime.fromtimestamp(cutoff / 1000, UTC)).to_dict()
    expected = expected_sums(events, exp, cutoff=cutoff)
    assert_sums_equal({k: actual[k] for k in ("units", "metrics")}, expected)
    assert sum(actual["units"].values()) < sum(store.summary(exp).units.values())


def test_segment_sums_use_the_first_exposure(loaded: Any) -> None:
    """Per-segment sums follow the first exposure's attribute and add up to the total."""
    store, events = loaded
    exp = experiment()
    actual = store.summary(exp, segment="region").to_dict()
    expected = expected_sums(events, exp, segment="region")
    assert "region=other" not in actual["segments"]  # later exposures never set the segment
    assert "region=(none)" in actual["segments"]  # first exposures without attributes
    assert_sums_equal(actual["segments"], expected["segments"])
    total = sum(s["units"]["a"] for s in actual["segments"].values())
    assert total == actual["units"]["a"]


def test_data_quality_counts(loaded: Any) -> None:
    """Multi-exposed units and misfit metric events are counted as the reference counts them."""
    store, events = loaded
    quality = store.data_quality(experiment()).to_dict()
    expected = data_quality(events)
    assert quality == {"experimentId": "sim", **expected}
    assert expected["multiExposedUnits"] > 0 and expected["unexposedMetricEvents"] == 20


def test_simulation_exercises_every_rule(loaded: Any) -> None:
    """The simulated data has pre-exposure, late, foreign and windowed events (not vacuous)."""
    _, events = loaded
    metric = [e for e in events if e.type == "metric"]
    assert any(e.experiment_id == "other" for e in metric)
    quality = data_quality(events)
    assert quality["preExposureMetricEvents"] > 50 and quality["variantMismatchEvents"] > 10


def test_empty_experiment_has_zero_sums(store: DuckDBStore) -> None:
    """With no events, every variant is present with zero units and zero sums."""
    sums = store.summary(experiment())
    assert sums.units == {"control": 0.0, "a": 0.0, "b": 0.0}
    assert sums.metrics["revenue"]["a"].n == 0 and sums.metrics["revenue"]["a"].covariate


@pytest.mark.parametrize("segment", [None, "region"], ids=["overall", "segmented"])
@pytest.mark.parametrize("cutoff", [None, T0 + 3 * DAY], ids=["all", "cutoff"])
def test_data_quality_after_summary_comes_from_the_same_pass(
    loaded: Any, segment: str | None, cutoff: int | None
) -> None:
    """The counts a summary computed on the way equal the reference and the standalone query."""
    store, events = loaded
    exp = experiment()
    moment = None if cutoff is None else datetime.fromtimestamp(cutoff / 1000, UTC)
    expected = {"experimentId": "sim", **data_quality(events, cutoff or 2**62)}
    standalone = store.data_quality(exp, moment).to_dict()  # no summary before: one pass
    store.summary(exp, cutoff=moment, segment=segment)
    assert store._quality is not None  # the summary kept its counts for the next call
    assert store.data_quality(exp, moment).to_dict() == expected == standalone
    assert store._quality is None  # used once


def test_data_quality_is_recomputed_after_new_events_load(tmp_path: Any) -> None:
    """Counts kept by a summary are not reused once more events have been loaded."""
    rng = np.random.default_rng(20261124)
    events = simulate(rng, units=60)
    with DuckDBStore(tmp_path / "events.duckdb") as store:
        store.ingest(events[: len(events) // 2])
        store.summary(experiment())
        store.ingest(events[len(events) // 2 :])
        assert store.data_quality(experiment()).to_dict() == {
            "experimentId": "sim",
            **data_quality(events),
        }
        store.summary(experiment())
        other = experiment().model_copy(update={"experiment_id": "other"})
        assert store.data_quality(other).to_dict()["experimentId"] == "other"
