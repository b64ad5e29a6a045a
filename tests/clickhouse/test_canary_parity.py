"""ClickHouseStore.canary_intervals gives DuckDB's data (interval sums, sketch buckets, step
totals, clustered quantile sums) on the same events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from splitlab.config.models import Experiment
from splitlab.store import DuckDBStore
from splitlab.store.clickhouse import ClickHouseStore, LocalServer
from tests.canary.canary_helpers import T0, canary_experiment
from tests.canary.test_interval_data import awkward_events

Stores = tuple[ClickHouseStore, DuckDBStore, Experiment]


@pytest.fixture(scope="module")
def stores(clickhouse: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    """Both stores fed the same events (one of them twice)."""
    events = awkward_events(seed=11)
    tmp: Path = tmp_path_factory.mktemp("canary_parity")
    duck = DuckDBStore(tmp / "events.duckdb", load_interval_s=0.05)
    house = ClickHouseStore(clickhouse.url, tmp / "log", database="canary", load_interval_s=0.05)
    for batch in (events[: len(events) // 2], events[len(events) // 2 :]):
        duck.ingest(batch)
        house.ingest(batch)
    yield house, duck, canary_experiment()
    house.close()
    duck.close()


@pytest.mark.parametrize("name", ["errors", "latency", "latency_shift"])
@pytest.mark.parametrize("interval", [60, 300])
def test_one_metric_equals_duckdb(stores: Stores, name: str, interval: int) -> None:
    house, duck, exp = stores
    assert exp.design is not None and exp.design.type == "canary"
    m = [m for m in exp.design.metrics if m.name == name]
    window = {"start": T0, "end": T0 + timedelta(minutes=20), "interval_seconds": interval}
    expected = duck.canary_intervals(exp, m, **window)  # type: ignore[arg-type]
    assert house.canary_intervals(exp, m, **window) == expected  # type: ignore[arg-type]
    intervals = expected.intervals[name]
    assert len(intervals) == 20 * 60 // interval
    if m[0].kind != "proportion":
        assert sum(len(a["canary"].sketch.positive) for a in intervals.values()) > 20  # type: ignore[union-attr]


@pytest.mark.parametrize("interval", [60, 300])
def test_canary_intervals_equal_duckdb(stores: Stores, interval: int) -> None:
    """The whole canary at once: intervals, step totals and clustered quantile sums."""
    house, duck, exp = stores
    assert exp.design is not None and exp.design.type == "canary"
    metrics = exp.design.metrics
    window = {"start": T0, "end": T0 + timedelta(minutes=20), "interval_seconds": interval}
    expected = duck.canary_intervals(exp, metrics, **window)  # type: ignore[arg-type]
    assert house.canary_intervals(exp, metrics, **window) == expected  # type: ignore[arg-type]
    assert set(expected.steps) == {m.name for m in metrics}
    assert set(expected.clustered) == {"latency"}
    assert set(expected.clustered["latency"]) == {"baseline", "canary"}


def test_several_quantiles_equal_duckdb(stores: Stores) -> None:
    from tests.canary.test_interval_data import QUANTILES

    house, duck, _ = stores
    exp = canary_experiment(metrics=QUANTILES)
    assert exp.design is not None and exp.design.type == "canary"
    window = {"start": T0, "end": T0 + timedelta(minutes=20), "interval_seconds": 300}
    expected = duck.canary_intervals(exp, exp.design.metrics, **window)  # type: ignore[arg-type]
    got = house.canary_intervals(exp, exp.design.metrics, **window)  # type: ignore[arg-type]
    assert got == expected
    assert set(expected.clustered) == {"p50", "p99", "errors_p50"}
