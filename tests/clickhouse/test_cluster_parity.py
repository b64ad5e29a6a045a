"""Sums over clusters: ClickHouseStore gives DuckDBStore's numbers (and the pandas reference)
on the same users within accounts, with duplicates sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest

from splitlab.config.models import Experiment
from splitlab.store import DuckDBStore
from splitlab.store.clickhouse import ClickHouseStore, LocalServer
from splitlab.tracking.events import Event
from tests.store.cluster_sim import DAY, T_BASE, experiment, reference_sums, simulate
from tests.store.test_summary import assert_sums_equal

Stores = tuple[ClickHouseStore, DuckDBStore, Experiment, list[Event]]
CUTOFF = T_BASE + 3 * DAY


@pytest.fixture(scope="module")
def stores(clickhouse: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    """Both stores fed the same batches; a tenth of them again to a second ClickHouse store,
    so that ClickHouse really holds duplicate rows of exposures and metric events."""
    rng = np.random.default_rng(20261205)
    events = simulate(rng)
    sent = [events[i : i + 400] for i in range(0, len(events), 400)]
    tmp = tmp_path_factory.mktemp("cluster-parity")
    duck = DuckDBStore(tmp / "events.duckdb", load_interval_s=0.05)
    house = ClickHouseStore(clickhouse.url, tmp / "log", database="clusters", load_interval_s=0.05)
    for batch in sent:
        duck.ingest(batch)
        house.ingest(batch)
    with ClickHouseStore(clickhouse.url, tmp / "again", database="clusters") as again:
        for batch in sent[:: len(sent) // 3]:
            again.ingest(batch)
    yield house, duck, experiment(), events
    house.close()
    duck.close()


def _moment(cutoff: int | None) -> datetime | None:
    return None if cutoff is None else datetime.fromtimestamp(cutoff / 1000, UTC)


@pytest.mark.parametrize("cutoff", [None, CUTOFF], ids=["all", "cutoff"])
@pytest.mark.parametrize("segment", [None, "country"], ids=["none", "country"])
def test_cluster_sums_equal_duckdb(stores: Stores, cutoff: int | None, segment: str | None) -> None:
    """Clusters, sizes, metrics with denominators and CUPED cross-sums, segments: DuckDB's."""
    house, duck, exp, _ = stores
    expected = duck.summary(exp, cutoff=_moment(cutoff), segment=segment).to_dict()
    actual = house.summary(exp, cutoff=_moment(cutoff), segment=segment).to_dict()
    assert_sums_equal(actual, expected)
    assert "clusterSizes" in actual and min(actual["units"].values()) > 20


def test_cluster_sums_equal_the_reference(stores: Stores) -> None:
    """ClickHouse's sums equal the pandas computation too (not only DuckDB's)."""
    house, _, exp, events = stores
    actual = house.summary(exp, segment="country").to_dict()
    expected = reference_sums(events)
    assert_sums_equal({k: actual[k] for k in expected}, expected)


@pytest.mark.parametrize("cutoff", [None, CUTOFF], ids=["all", "cutoff"])
def test_cluster_data_quality_equals_duckdb(stores: Stores, cutoff: int | None) -> None:
    """Multi-variant clusters, exposures without a clusterId (duplicates counted once) and
    the usual counts equal DuckDB's."""
    house, duck, exp, _ = stores
    expected = duck.data_quality(exp, _moment(cutoff))
    assert house.data_quality(exp, _moment(cutoff)) == expected
    assert expected.multi_variant_clusters > 0 and expected.missing_cluster_exposures > 0
