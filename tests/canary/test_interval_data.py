"""DuckDBStore.canary_intervals: a canary's events per interval and arm, its
step totals and clustered quantile sums, as by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pytest

from splitlab.stats.intervals import IntervalArm
from splitlab.stats.quantile import clustered_sums, quantile_bucket
from splitlab.stats.sketch import Sketch
from splitlab.store import DuckDBStore
from splitlab.store.errors import StoreError
from splitlab.tracking.events import Event
from tests.canary.canary_helpers import (
    EXPERIMENT_ID,
    MINUTE,
    T0,
    T0_MS,
    canary_experiment,
    exposure,
    metric,
    requests,
)
from tests.canary.interval_reference import reference_intervals, reference_rows


def awkward_events(seed: int = 7) -> list[Event]:
    """Requests of 300 units plus every case a rule decides: a unit exposed to both arms, a
    unit exposed after some of its events, events of another experiment and of other names,
    events at the window's edges, negative values and zeros, and a duplicated event id."""
    rng = np.random.default_rng(seed)
    units = {f"u{i}": ("baseline", "canary")[i % 2] for i in range(300)}
    events: list[Event] = [
        exposure(u, v, T0_MS - MINUTE + i) for i, (u, v) in enumerate(units.items())
    ]
    events += list(requests(rng, units, T0_MS - 2 * MINUTE, 24, 3.0, slow=3.0))
    events += [exposure("u0", "canary", T0_MS + 3 * MINUTE)]  # u0 in both arms: left out
    events += [exposure("late", "canary", T0_MS + 7 * MINUTE)]
    events += [metric("late", "canary", T0_MS + 6 * MINUTE, "latency", 50.0)]  # before exposure
    events += [metric("late", "canary", T0_MS + 8 * MINUTE, "latency", 60.0)]
    events += [metric("u1", "canary", T0_MS + 1, "latency", 70.0, experiment_id="other")]
    events += [
        metric("u3", "canary", T0_MS, "latency", -3.5),
        metric("u3", "canary", T0_MS, "latency", 0.0),
    ]
    events += [metric("u5", "canary", T0_MS + 20 * MINUTE, "latency", 99.0)]  # end: excluded
    events += [metric("u7", "canary", T0_MS + 20 * MINUTE - 1, "latency", -0.25)]
    events.append(events[-1])  # a retried event: counted once
    return events  # fmt: skip


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DuckDBStore, list[Event]]]:
    events = awkward_events()
    store = DuckDBStore(tmp_path_factory.mktemp("iv") / "e.duckdb", load_interval_s=0.05)
    store.ingest(events)
    yield store, events
    store.close()


def per_event(arm: IntervalArm) -> IntervalArm:
    """An interval's arm with every event its own observation (what canary_intervals gives)."""
    return IntervalArm(
        arm.n, arm.n, float(arm.n), arm.sum, arm.event_sum_sq, arm.sum, arm.event_sum_sq, arm.sketch
    )


@pytest.mark.parametrize("name", ["errors", "latency", "latency_shift"])
def test_one_metric_equals_a_computation_by_hand(
    loaded: tuple[DuckDBStore, list[Event]], name: str
) -> None:
    store, events = loaded
    exp = canary_experiment()
    design = exp.design
    assert design is not None and design.type == "canary"
    m = next(m for m in design.metrics if m.name == name)
    got = store.canary_intervals(
        exp, [m], start=T0, end=T0 + timedelta(minutes=20), interval_seconds=300
    ).intervals[m.name]
    expected = reference_intervals(
        events, EXPERIMENT_ID, m, T0_MS, T0_MS + 20 * MINUTE, 300_000, exp.variant_names
    )
    assert got == {k: {v: per_event(a) for v, a in arms.items()} for k, arms in expected.items()}
    assert sorted(got) == [0, 1, 2, 3]
    assert all(set(arms) == {"baseline", "canary"} for arms in got.values())
    if m.kind != "proportion":
        sketch = got[0]["canary"].sketch
        assert sketch is not None and sketch.zeros >= 1 and sketch.negative
    else:
        assert got[0]["canary"].sketch is None


def test_an_empty_window_and_a_bad_one(loaded: tuple[DuckDBStore, list[Event]]) -> None:
    store, _ = loaded
    exp = canary_experiment()
    assert exp.design is not None and exp.design.type == "canary"
    m = exp.design.metrics[:1]
    empty = store.canary_intervals(exp, m, start=T0, end=T0, interval_seconds=300)
    assert empty.intervals == {"errors": {}} and empty.steps == {"errors": {}}
    with pytest.raises(StoreError, match="expected at or after start"):
        store.canary_intervals(exp, m, start=T0, end=T0 - timedelta(1), interval_seconds=300)
    with pytest.raises(StoreError, match="interval_seconds"):
        store.canary_intervals(exp, m, start=T0, end=T0, interval_seconds=0)


def test_canary_intervals_equal_a_computation_by_hand(
    loaded: tuple[DuckDBStore, list[Event]],
) -> None:
    """All metrics at once (two of the three on the same event, read once): the intervals as
    for one metric (event sums); the step totals are the events grouped by unit over the whole step (one
    interval as long as the step, by hand); the quantile's clustered sums are numpy's per-unit
    counts at the bucket of each arm's step quantile."""
    store, events = loaded
    exp = canary_experiment()
    design = exp.design
    assert design is not None and design.type == "canary"
    span = 20 * MINUTE
    got = store.canary_intervals(
        exp, design.metrics, start=T0, end=T0 + timedelta(minutes=20), interval_seconds=300
    )
    for m in design.metrics:
        by_hand = reference_intervals(
            events, EXPERIMENT_ID, m, T0_MS, T0_MS + span, 300_000, exp.variant_names
        )
        assert got.intervals[m.name] == {
            k: {v: per_event(a) for v, a in arms.items()} for k, arms in by_hand.items()
        }
        whole = reference_intervals(
            events, EXPERIMENT_ID, m, T0_MS, T0_MS + span, span, exp.variant_names
        )[0]
        assert got.steps[m.name] == {
            v: IntervalArm(*(getattr(a, f) for f in IntervalArm.__slots__[:-1]))  # no sketch
            for v, a in whole.items()
        }
    # units send several requests, so the step has fewer units than events
    step = got.steps["errors"]["canary"]
    assert step.units < step.n < step.n_sq
    q = next(m for m in design.metrics if m.kind == "quantile")
    assert q.quantile is not None
    rows = reference_rows(events, EXPERIMENT_ID, q, T0_MS, T0_MS + span, span, exp.variant_names)
    assert set(got.clustered) == {q.name}
    for variant in exp.variant_names:
        values = np.array([v for _, var, _, v in rows if var == variant])
        units = np.array([u for _, var, u, _ in rows if var == variant])
        bucket = quantile_bucket(Sketch.from_values(values), q.quantile)
        assert got.clustered[q.name][variant] == clustered_sums(values, units, bucket)


def test_a_canary_without_metrics_reads_nothing(loaded: tuple[DuckDBStore, list[Event]]) -> None:
    store, _ = loaded
    exp = canary_experiment()
    got = store.canary_intervals(exp, [], start=T0, end=T0, interval_seconds=300)
    assert (got.intervals, got.steps, got.clustered) == ({}, {}, {})


#: Several quantile metrics on one event (one pass counts them all) and one on a 0/1 event
#: whose quantile bucket is the zeros (the threshold of sign 0).
QUANTILES = [
    {"name": "p50", "event": "latency", "kind": "quantile", "quantile": 0.5, "tolerance": 0.2},
    {"name": "p99", "event": "latency", "kind": "quantile", "quantile": 0.99, "tolerance": 0.2},
    {"name": "errors_p50", "event": "errors", "kind": "quantile", "quantile": 0.5,
     "tolerance": 0.2, "toleranceType": "absolute"},
    {"name": "latency_mean", "event": "latency", "kind": "mean", "tolerance": 0.1},
]  # fmt: skip


def test_several_quantiles_and_a_zero_threshold_by_hand(
    loaded: tuple[DuckDBStore, list[Event]],
) -> None:
    store, events = loaded
    exp = canary_experiment(metrics=QUANTILES)
    design = exp.design
    assert design is not None and design.type == "canary"
    span = 20 * MINUTE
    got = store.canary_intervals(
        exp, design.metrics, start=T0, end=T0 + timedelta(minutes=20), interval_seconds=300
    )
    assert set(got.clustered) == {"p50", "p99", "errors_p50"}
    for m in design.metrics:
        if m.kind != "quantile":
            continue
        assert m.quantile is not None
        rows = reference_rows(
            events, EXPERIMENT_ID, m, T0_MS, T0_MS + span, span, exp.variant_names
        )
        for variant in exp.variant_names:
            values = np.array([v for _, var, _, v in rows if var == variant])
            units = np.array([u for _, var, u, _ in rows if var == variant])
            bucket = quantile_bucket(Sketch.from_values(values), m.quantile)
            assert got.clustered[m.name][variant] == clustered_sums(values, units, bucket)
    assert got.clustered["errors_p50"]["canary"].bucket == (0, 0)
    assert got.clustered["p50"]["canary"].bucket != got.clustered["p99"]["canary"].bucket
