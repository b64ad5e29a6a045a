"""One experiment summarised by DuckDB, one ClickHouse 18.16 server, chDB (ClickHouse 26
in-process) and a real two-shard 18.16 cluster (local tables plus ``Distributed`` tables
sharded by ``cityHash64(unit_id)``): counts exact, sums within 1e-12 relative."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from splitlab.config.models import Experiment
from splitlab.store import DuckDBStore
from splitlab.store.clickhouse import (
    ClickHouseClient,
    ClickHouseError,
    ClickHouseStore,
    LocalServer,
)
from splitlab.store.clickhouse.sharded import LocalCluster, ShardedClickHouseStore
from splitlab.tracking.events import Event
from tests.clickhouse.simulate import DAY, T_BASE, batches, experiment, simulate
from tests.clickhouse.test_bandit_parity import BOUNDARIES as BANDIT_BOUNDARIES
from tests.clickhouse.test_bandit_parity import CUTOFF as BANDIT_CUTOFF
from tests.store.bandit_helpers import as_tuples, bandit, pandas_batches
from tests.store.bandit_helpers import events as bandit_events
from tests.store.store_helpers import experiment as sticky_experiment
from tests.store.store_helpers import simulate as sticky_simulate
from tests.store.test_version_sums import BOUNDARIES as VERSION_BOUNDARIES
from tests.store.test_version_sums import reference

CUTOFF = datetime.fromtimestamp((T_BASE + 6 * DAY) / 1000, tz=UTC)
#: Keys whose values are counts (compared exactly); every other number is a float sum.
COUNTS = {"n", "units"}


Stores = dict[str, Any]


@pytest.fixture(scope="module")
def stores(
    clickhouse: LocalServer, cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stores]:
    """The four stores fed the same shuffled batches (a tenth sent twice); metric values get a
    random fraction, so that sums depend on the order of addition."""
    rng = np.random.default_rng(20261204)
    events = [
        e if e.value is None else msgspec.structs.replace(e, value=e.value + rng.random())
        for e in simulate(rng)
    ]
    sent = batches(rng, events)
    tmp: Path = tmp_path_factory.mktemp("four")
    made: Stores = {
        "duckdb": DuckDBStore(tmp / "events.duckdb", load_interval_s=0.05),
        "server": ClickHouseStore(clickhouse.url, tmp / "log1", database="four",
                                  load_interval_s=0.05),
        "chdb": ClickHouseStore(f"chdb:{tmp / 'chdb'}", tmp / "log2", database="four",
                                load_interval_s=0.05),
        "sharded": ShardedClickHouseStore(cluster.urls, tmp / "log3", cluster="two_shards",
                                          database="four", load_interval_s=0.05),
    }  # fmt: skip
    for batch in sent:
        for store in made.values():
            store.ingest(batch)
    yield made
    for store in made.values():
        store.close()


def assert_close(actual: Any, expected: Any, where: str = "$") -> None:
    """Same keys; counts equal; other numbers within 1e-12 relative (0 only equals 0)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and set(actual) == set(expected), where
        for key in expected:
            assert_close(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list) and expected and isinstance(expected[0], float):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for k, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_close(a, e, f"{where}[{k}]")
    elif (
        isinstance(expected, int | float)
        and where.rsplit(".", 2)[-1] not in COUNTS
        and (".units." not in where)
    ):
        assert math.isclose(actual, expected, rel_tol=1e-12, abs_tol=0.0), (where, actual)
    else:
        assert actual == expected, where


@pytest.mark.parametrize("cutoff", [None, CUTOFF], ids=["all", "cutoff"])
@pytest.mark.parametrize("segment", [None, ["country", "tier", "mobile"]], ids=["none", "three"])
def test_four_stores_agree(stores: Stores, cutoff: datetime | None, segment: Any) -> None:
    """Conversion, sum, count, max and ratio metrics, windows, CUPED and segment slices."""
    exp: Experiment = experiment()
    expected = stores["duckdb"].summary(exp, cutoff=cutoff, segment=segment).to_dict()
    assert min(expected["units"].values()) > 100
    for name in ("server", "chdb", "sharded"):
        got = stores[name].summary(exp, cutoff=cutoff, segment=segment).to_dict()
        assert_close(got, expected, name)
    quality = stores["duckdb"].data_quality(exp, cutoff)
    for name in ("server", "chdb", "sharded"):
        assert stores[name].data_quality(exp, cutoff) == quality, name


def test_rows_are_sharded_by_unit(stores: Stores, cluster: LocalCluster) -> None:
    """Both shards hold rows, no unit's rows are on two shards, and every retried event is
    on its unit's shard (so FINAL on one shard removes it)."""
    stores["sharded"].flush()
    units: list[set[str]] = []
    for url in cluster.urls:
        client = ClickHouseClient(url)
        _, rows = client.query(
            "SELECT DISTINCT unit_id FROM four.exposures UNION ALL "
            "SELECT DISTINCT unit_id FROM four.metric_events"
        )
        client.close()
        units.append({str(r[0]) for r in rows})
    assert min(len(u) for u in units) > 500
    assert not units[0] & units[1]


def test_an_event_ingested_later_is_in_the_next_summary(stores: Stores) -> None:
    """A summary waits for the loader: an event ingested just before it is counted (the
    synchronous insert through the Distributed table has reached its shard)."""
    store = stores["sharded"]
    exp = experiment()
    before = store.summary(exp).to_dict()["units"]
    store.ingest([Event("late-x", "exposure", exp.experiment_id, "a", "late-unit", T_BASE)])
    after = store.summary(exp).to_dict()["units"]
    assert after["a"] == before["a"] + 1


def test_a_shard_down_delays_loading_and_loses_nothing(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    """With one shard stopped, events are still acknowledged, reads fail naming ClickHouse,
    and once the shard is back every acknowledged event is counted exactly once."""
    exp = experiment()
    rng = np.random.default_rng(5)
    sent = batches(rng, simulate(rng, units=200))
    with (
        DuckDBStore(tmp_path / "d.duckdb") as duck,
        ShardedClickHouseStore(cluster.urls, tmp_path / "log", cluster="two_shards",
                               database="fault", load_interval_s=0.05) as store,
    ):  # fmt: skip
        store.ingest(sent[0])
        store.flush()
        cluster.servers[1].stop(timeout=5.0)
        try:
            for batch in sent[1:]:
                result = store.ingest(batch)
                assert result.accepted + result.duplicates == len(batch)
            with pytest.raises(ClickHouseError):
                store.summary(exp)
        finally:
            cluster.servers[1].start()
        for batch in sent:
            duck.ingest(batch)
        assert_close(store.summary(exp).to_dict(), duck.summary(exp).to_dict())


def test_bandit_and_weights_version_sums_add_over_shards(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    """A bandit's per-batch sums and per-weights-version sums equal DuckDB's and the
    independent references of tests/store (pandas, plain Python)."""
    exp = bandit("spend")
    evs = bandit_events(np.random.default_rng(7))
    cutoff = datetime.fromtimestamp(BANDIT_CUTOFF / 1000, tz=UTC)
    sticky = sticky_experiment()
    sticky_events = sticky_simulate(np.random.default_rng(20261205))
    with (
        DuckDBStore(tmp_path / "d.duckdb") as duck,
        ShardedClickHouseStore(cluster.urls, tmp_path / "log", cluster="two_shards",
                               database="additive", load_interval_s=0.05) as store,
    ):  # fmt: skip
        for sent in (evs, sticky_events):
            duck.ingest(sent)
            store.ingest(sent[:150])
            store.ingest(sent)  # some events twice: counted once
        ours = duck.bandit_data(exp, BANDIT_BOUNDARIES, cutoff)
        theirs = store.bandit_data(exp, BANDIT_BOUNDARIES, cutoff)
        versions = store.weights_version_sums(sticky, VERSION_BOUNDARIES)
    rewards, exposed = pandas_batches(exp, evs, BANDIT_BOUNDARIES, BANDIT_CUTOFF)
    assert theirs.exposed == ours.exposed == exposed
    assert sum(sum(batch.values()) for batch in exposed) > 100
    for b, batch in enumerate(rewards):
        for arm, (n, s, ss) in batch.items():
            got = as_tuples(theirs.rewards)[b][arm]
            assert got == (n, pytest.approx(s, rel=1e-12), pytest.approx(ss, rel=1e-12))
    for k, ref in enumerate(reference(sticky_events, VERSION_BOUNDARIES, 2**62)):
        assert_close(versions[k].to_dict(), ref, f"$.v{k}")


def test_a_shard_without_the_experiment_adds_nothing(cluster: LocalCluster, tmp_path: Path) -> None:
    """One unit lives on one shard; the other shard's empty answer adds zero everywhere."""
    exp = experiment()
    evs = [
        Event("x1", "exposure", exp.experiment_id, "a", "only", T_BASE, attributes={"country": "US"}),
        Event("m1", "metric", exp.experiment_id, "a", "only", T_BASE + 5, "revenue", 2.5),
    ]  # fmt: skip
    with (
        DuckDBStore(tmp_path / "d.duckdb") as duck,
        ShardedClickHouseStore(cluster.urls, tmp_path / "log", cluster="two_shards",
                               database="one_unit", load_interval_s=0.05) as store,
    ):  # fmt: skip
        duck.ingest(evs)
        store.ingest(evs)
        for segment in (None, "country"):
            expected = duck.summary(exp, segment=segment).to_dict()
            assert store.summary(exp, segment=segment).to_dict() == expected
        assert store.data_quality(exp) == duck.data_quality(exp)
