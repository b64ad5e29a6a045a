"""What is not additive over units, on a real two-shard ClickHouse 18.16 cluster (rows sharded
by ``cityHash64(unit_id)``): cluster designs (with strata), switchbacks, percentile caps,
quantile, retention and time-to-event metrics and canary judgments give DuckDB's numbers on
the same seeded events (counts exact, sums within 1e-12 relative), duplicates included."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from splitlab.config import load_experiment
from splitlab.store import DuckDBStore
from splitlab.store.clickhouse import ClickHouseClient
from splitlab.store.clickhouse import sharded_caps as caps_module
from splitlab.store.clickhouse.sharded import LocalCluster, ShardedClickHouseStore
from splitlab.tracking.events import Event
from tests.canary.canary_helpers import T0, canary_experiment
from tests.canary.test_interval_data import awkward_events
from tests.clickhouse.simulate import batches
from tests.clickhouse.test_retention_clickhouse import _same
from tests.clickhouse.test_sharded import assert_close
from tests.store import survival_data
from tests.store.capping_data import Units, capped_experiment, heavy_units, unit_events
from tests.store.cluster_sim import DAY, T_BASE
from tests.store.cluster_sim import experiment as cluster_experiment
from tests.store.cluster_sim import simulate as cluster_simulate
from tests.store.store_helpers import simulate as store_simulate
from tests.store.strata_sim import stratified_allocation, with_allocation
from tests.store.switchback_helpers import definition as switchback_definition
from tests.store.switchback_helpers import simulate as switchback_simulate
from tests.store.test_quantile_summary import quantile_experiment

Pair = tuple[DuckDBStore, ShardedClickHouseStore]
Open = Callable[[str], Pair]


@pytest.fixture(scope="module")
def pairs(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Open]:
    """Opens a DuckDB store and a sharded store (database `name`) side by side."""
    opened: list[Pair] = []

    def open_pair(name: str) -> Pair:
        tmp: Path = tmp_path_factory.mktemp(name)
        pair = (
            DuckDBStore(tmp / "events.duckdb", load_interval_s=0.05),
            ShardedClickHouseStore(cluster.urls, tmp / "log", cluster="two_shards",
                                   database=name, load_interval_s=0.05),
        )  # fmt: skip
        opened.append(pair)
        return pair

    yield open_pair
    for duck, sharded in opened:
        sharded.close()
        duck.close()


def _feed(pair: Pair, sent: list[list[Event]], again: int = 3) -> None:
    """Every batch to both stores, every `again`-th batch a second time to the sharded one."""
    duck, sharded = pair
    for k, batch in enumerate(sent):
        duck.ingest(batch)
        sharded.ingest(batch)
        if k % again == 0:
            sharded.ingest(batch)


def _moment(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def _on_both_shards(cluster: LocalCluster, db: str, sql: str) -> set[str]:
    """The values of `sql` found on both shards."""
    found = []
    for url in cluster.urls:
        client = ClickHouseClient(url)
        found.append({str(r[0]) for r in client.query(sql.format(db=db))[1]})
        client.close()
    return found[0] & found[1]


# ---------------------------------------------------------------- cluster designs


@pytest.fixture(scope="module")
def clusters(pairs: Open) -> tuple[Pair, list[Event]]:
    events = cluster_simulate(np.random.default_rng(20261205))
    pair = pairs("sh_clusters")
    _feed(pair, [events[i : i + 400] for i in range(0, len(events), 400)])
    return pair, events


@pytest.mark.parametrize("cutoff", [None, T_BASE + 3 * DAY], ids=["all", "cutoff"])
@pytest.mark.parametrize("segment", [None, "country"], ids=["none", "country"])
def test_cluster_sums_equal_duckdb(
    clusters: tuple[Pair, list[Event]], cutoff: int | None, segment: str | None
) -> None:
    """Clusters, their sizes, every metric with its denominator and CUPED cross-sums, the
    segment slices: DuckDB's, though a cluster's units sit on both shards."""
    (duck, sharded), _ = clusters
    exp = cluster_experiment()
    expected = duck.summary(exp, cutoff=_moment(cutoff), segment=segment).to_dict()
    assert_close(sharded.summary(exp, cutoff=_moment(cutoff), segment=segment).to_dict(), expected)
    assert "clusterSizes" in expected and min(expected["units"].values()) > 20
    quality = duck.data_quality(exp, _moment(cutoff))
    assert sharded.data_quality(exp, _moment(cutoff)) == quality
    assert quality.multi_variant_clusters > 0 and quality.missing_cluster_exposures > 0


def test_cluster_strata_equal_duckdb(
    clusters: tuple[Pair, list[Event]], cluster: LocalCluster
) -> None:
    """An allocation table's strata: one more slice per stratum, as on one server."""
    (duck, sharded), events = clusters
    exp = with_allocation(stratified_allocation(events))
    expected = duck.summary(exp, segment="country").to_dict()
    assert_close(sharded.summary(exp, segment="country").to_dict(), expected)
    assert sum(k.startswith("@stratum=") for k in expected["segments"]) >= 4
    spanning = _on_both_shards(
        cluster, "sh_clusters", "SELECT DISTINCT cluster_id FROM {db}.exposures"
    )
    assert len(spanning) > 50  # many clusters really have units on both shards


# ---------------------------------------------------------------- switchback designs


def _switchback_events(exp: Any) -> list[Event]:
    """The shared simulation with nine revenue events in ten left out and the rest shifted
    below zero: a cell's largest revenue is negative, and a shard often holds a cell's orders
    but none of its revenue (its ``max`` there must not count as 0)."""
    events = switchback_simulate(exp, np.random.default_rng(17), ["north", "south", None])
    revenue = [e for e in events if e.metric == "revenue"]
    kept = {e.event_id: msgspec.structs.replace(e, value=e.value - 200.0) for e in revenue[::10]}
    return [kept.get(e.event_id, e) for e in events if e.metric != "revenue" or e.event_id in kept]


@pytest.mark.parametrize("unit", ["region", None])
def test_switchback_cells_equal_duckdb(pairs: Open, unit: str | None) -> None:
    exp = load_experiment(switchback_definition(unit))
    events = _switchback_events(exp)
    pair = pairs("sh_sb_" + ("unit" if unit else "global"))
    _feed(pair, [events[i : i + 500] for i in range(0, len(events), 500)])
    duck, sharded = pair
    at = datetime(2026, 3, 3, 7, 30, tzinfo=UTC)
    ours, theirs = duck.switchback_cells(exp, at), sharded.switchback_cells(exp, at)
    assert (theirs.unit_names, theirs.first_period, theirs.periods, theirs.variants) == (
        ours.unit_names, ours.first_period, ours.periods, ours.variants
    )  # fmt: skip
    for name in ours.values:
        np.testing.assert_allclose(theirs.outcome(name), ours.outcome(name), rtol=1e-12)
    for name, column in ours.denominators.items():
        np.testing.assert_allclose(theirs.denominators[name], column, rtol=1e-12)
    assert min(ours.outcome("biggest")) < 0  # the largest value of some cells is negative
    assert sharded.data_quality(exp, at) == duck.data_quality(exp, at)
    expected = duck.summary(exp, at).to_dict()
    assert_close(sharded.summary(exp, at).to_dict(), expected)


# ---------------------------------------------------------------- percentile caps

PERCENTILES = [1e-6, 1.0, 50.0, 90.0, 99.0, 100 - 1e-6]


@pytest.mark.parametrize("sample", [caps_module.SAMPLE, 4])
def test_percentile_caps_equal_duckdb_and_numpy(
    pairs: Open, monkeypatch: pytest.MonkeyPatch, sample: int
) -> None:
    """The caps (numpy's inverted-CDF quantile of every unit pooled), the units they touched
    and the capped sums, for samples of 1 to 400 units with and without ties; with the
    first round's sample cut to 4 values per shard the bracketing round does the work."""
    monkeypatch.setattr(caps_module, "SAMPLE", sample)
    rng = np.random.default_rng(404)
    samples: list[Units] = [heavy_units(rng, n, ties=t) for n in (1, 2, 9, 400) for t in (1, 0)]
    duck, sharded = pairs(f"sh_caps_{sample}")
    start = 0
    for k, units in enumerate(samples):
        events = unit_events(units, experiment_id=f"cap{k}", start=start)
        start += len(units.y)
        duck.ingest(events)
        sharded.ingest(events)
    for k, units in enumerate(samples):
        for p in PERCENTILES:
            exp = capped_experiment(
                {"type": "percentile", "percentile": p},
                cuped=True,
                experiment_id=f"cap{k}",
            )
            d, s = duck.summary(exp), sharded.summary(exp)
            assert [c.to_dict() for c in s.capping] == [c.to_dict() for c in d.capping]
            # numpy, independently: method="inverted_cdf" is the ceil(n p)-th order statistic
            assert s.capping[0].value == np.quantile(units.y, p / 100, method="inverted_cdf")
            assert s.capping[1].value == np.quantile(units.x, p / 100, method="inverted_cdf")
            assert_close(s.to_dict(), d.to_dict(), f"cap{k}@{p}")
    recorded = {("revenue", "value"): 2.0}  # a cap fixed at an earlier look; the other found
    exp = capped_experiment({"type": "percentile", "percentile": 99}, cuped=True,
                            covariate_cap={"type": "percentile", "percentile": 90},
                            experiment_id="cap6")  # fmt: skip
    d, s = duck.summary(exp, known_caps=recorded), sharded.summary(exp, known_caps=recorded)
    assert [c.to_dict() for c in s.capping] == [c.to_dict() for c in d.capping]
    assert_close(s.to_dict(), d.to_dict())


# ---------------------------------------------------------------- quantile and survival


def test_quantile_metrics_equal_duckdb(pairs: Open) -> None:
    """Sketches (bucket counts added over the shards), their thresholds and the clustered
    sums at them: DuckDB's."""
    rng = np.random.default_rng(20261204)
    events = store_simulate(rng, units=600)
    pair = pairs("sh_quantile")
    _feed(pair, batches(rng, events))
    duck, sharded = pair
    exp = quantile_experiment()
    expected, got = duck.summary(exp), sharded.summary(exp)
    for name in ("revenue_p90", "basket_p50"):
        for variant in exp.variant_names:
            want, have = expected.metrics[name][variant], got.metrics[name][variant]
            assert (have.n, have.sketch, have.clustered) == (want.n, want.sketch, want.clustered)
            assert want.sketch is not None and want.sketch.count > 10
    assert_close(got.to_dict(), expected.to_dict())


def test_retention_and_time_to_event_equal_duckdb(pairs: Open) -> None:
    """Retention curves and survival tables (rows added per duration over the shards),
    overall and per segment."""
    rng = np.random.default_rng(20261204)
    events = survival_data.simulate(rng)
    pair = pairs("sh_survival")
    _feed(pair, batches(rng, events))
    duck, sharded = pair
    exp = survival_data.experiment()
    at = datetime.fromtimestamp(survival_data.CUTOFF / 1000, tz=UTC)
    for cutoff in (at, None):
        _same(sharded.summary(exp, cutoff, "region"), duck.summary(exp, cutoff, "region"))


# ---------------------------------------------------------------- canary judgments


@pytest.mark.parametrize("interval", [60, 300])
def test_canary_intervals_equal_duckdb(pairs: Open, interval: int) -> None:
    """Interval sums, sketches, step totals and clustered quantile sums of every metric."""
    events = awkward_events(seed=11)
    pair = pairs(f"sh_canary_{interval}")
    _feed(pair, [events[: len(events) // 2], events[len(events) // 2 :]], again=2)
    duck, sharded = pair
    exp = canary_experiment()
    assert exp.design is not None and exp.design.type == "canary"
    window = {"start": T0, "end": T0 + timedelta(minutes=20), "interval_seconds": interval}
    expected = duck.canary_intervals(exp, exp.design.metrics, **window)  # type: ignore[arg-type]
    got = sharded.canary_intervals(exp, exp.design.metrics, **window)  # type: ignore[arg-type]
    assert got == expected
    assert set(expected.clustered) == {"latency"}
