"""DuckDBStore.interval_data: a canary metric's events per interval and arm, as by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pytest

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
from tests.canary.interval_reference import reference_intervals


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


@pytest.mark.parametrize("name", ["errors", "latency", "latency_shift"])
def test_interval_data_equals_a_computation_by_hand(
    loaded: tuple[DuckDBStore, list[Event]], name: str
) -> None:
    store, events = loaded
    exp = canary_experiment()
    design = exp.design
    assert design is not None and design.type == "canary"
    m = next(m for m in design.metrics if m.name == name)
    got = store.interval_data(
        exp, m, start=T0, end=T0 + timedelta(minutes=20), interval_seconds=300
    )
    expected = reference_intervals(
        events, EXPERIMENT_ID, m, T0_MS, T0_MS + 20 * MINUTE, 300_000, exp.variant_names
    )
    assert got == expected
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
    m = exp.design.metrics[0]
    assert store.interval_data(exp, m, start=T0, end=T0, interval_seconds=300) == {}
    with pytest.raises(StoreError, match="expected at or after start"):
        store.interval_data(exp, m, start=T0, end=T0 - timedelta(1), interval_seconds=300)
    with pytest.raises(StoreError, match="interval_seconds"):
        store.interval_data(exp, m, start=T0, end=T0, interval_seconds=0)
