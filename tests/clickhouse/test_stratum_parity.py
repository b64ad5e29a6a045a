"""Per-stratum sums over clusters from the allocation table: ClickHouseStore gives DuckDB's
numbers (and the pandas reference) on the same events, duplicates sent to ClickHouse."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest

from splitlab.config.models import Experiment
from splitlab.store import DuckDBStore
from splitlab.store.clickhouse import ClickHouseStore, LocalServer
from splitlab.store.clickhouse.cluster_sql import plan_clickhouse_cluster_summary
from splitlab.store.clickhouse.http import MAX_QUERY_SIZE, bind
from splitlab.store.clickhouse.sql import STRATUM_SLICE
from splitlab.tracking.events import Event
from tests.store.cluster_sim import DAY, T_BASE, simulate
from tests.store.strata_sim import (
    paired_allocation,
    reference_strata,
    stratified_allocation,
    with_allocation,
)
from tests.store.test_summary import assert_sums_equal

Stores = tuple[ClickHouseStore, DuckDBStore, list[Event]]
CUTOFF = T_BASE + 3 * DAY
METHODS = {"stratified": stratified_allocation, "pair_matched": paired_allocation}


@pytest.fixture(scope="module")
def stores(clickhouse: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    """Both stores fed the same batches; some batches twice to ClickHouse (duplicate rows)."""
    events = simulate(np.random.default_rng(20261206))
    sent = [events[i : i + 400] for i in range(0, len(events), 400)]
    tmp = tmp_path_factory.mktemp("stratum-parity")
    duck = DuckDBStore(tmp / "events.duckdb", load_interval_s=0.05)
    house = ClickHouseStore(clickhouse.url, tmp / "log", database="strata", load_interval_s=0.05)
    for batch in sent:
        duck.ingest(batch)
        house.ingest(batch)
    with ClickHouseStore(clickhouse.url, tmp / "again", database="strata") as again:
        for batch in sent[:: len(sent) // 3]:
            again.ingest(batch)
    yield house, duck, events
    house.close()
    duck.close()


def _moment(cutoff: int | None) -> datetime | None:
    return None if cutoff is None else datetime.fromtimestamp(cutoff / 1000, UTC)


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("cutoff", [None, CUTOFF], ids=["all", "cutoff"])
@pytest.mark.parametrize("segment", [None, "country"], ids=["none", "country"])
def test_stratum_sums_equal_duckdb(
    stores: Stores, method: str, cutoff: int | None, segment: str | None
) -> None:
    """Every slice (overall, segments, strata) equals DuckDB's, and the strata pandas'."""
    house, duck, events = stores
    allocation = METHODS[method](events)
    exp = with_allocation(allocation)
    expected = duck.summary(exp, cutoff=_moment(cutoff), segment=segment).to_dict()
    actual = house.summary(exp, cutoff=_moment(cutoff), segment=segment).to_dict()
    assert_sums_equal(actual, expected)
    strata = {k: v for k, v in actual["segments"].items() if k.startswith("@stratum=")}
    assert_sums_equal(strata, reference_strata(events, allocation["strata"], cutoff or 2**62))
    assert len(strata) >= 4


def _big_table(events: list[Event]) -> Experiment:
    """The stratified table plus 10,000 - n unseen clusters with 180-character ids: bound as
    array literals, the query is longer than ClickHouse parses by default."""
    allocation = stratified_allocation(events)
    filler = 10_000 - len(allocation["table"])
    for j in range(filler):
        cluster = f"unseen-{j:05d}-" + "x" * 167
        allocation["table"][cluster] = ("control", "treatment")[j % 2]
        allocation["strata"][cluster] = f"filler-{j % 7}"
    return with_allocation(allocation)


def test_a_table_of_10000_clusters_is_summed(stores: Stores) -> None:
    """The largest table allowed still runs on ClickHouse (query past max_query_size) and
    gives DuckDB's sums; strata without a seen cluster have no slice in either."""
    house, duck, events = stores
    exp = _big_table(events)
    plan = plan_clickhouse_cluster_summary("strata", exp, 2**62)
    assert len(bind(plan.sql, plan.params).encode()) > MAX_QUERY_SIZE
    assert f"[-1, {STRATUM_SLICE}]" in plan.sql
    expected = duck.summary(exp).to_dict()
    assert_sums_equal(house.summary(exp).to_dict(), expected)
    assert not any(k.startswith("@stratum=filler") for k in expected["segments"])
