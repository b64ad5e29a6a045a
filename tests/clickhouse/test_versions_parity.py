"""Per weights version sums: ClickHouseStore == DuckDBStore == plain Python on the same events."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from splitlab.store import DuckDBStore
from splitlab.store.clickhouse import ClickHouseStore, LocalServer
from tests.store.store_helpers import experiment, simulate
from tests.store.test_summary import assert_sums_equal
from tests.store.test_version_sums import BOUNDARIES, reference


def test_clickhouse_duckdb_and_python_agree(clickhouse: LocalServer, tmp_path: Path) -> None:
    events = simulate(np.random.default_rng(20261205))
    exp = experiment()
    with (
        DuckDBStore(tmp_path / "events.duckdb", load_interval_s=0.05) as duck,
        ClickHouseStore(
            clickhouse.url, tmp_path / "log", database="versions", load_interval_s=0.05
        ) as house,
    ):
        duck.ingest(events)
        house.ingest(events[:150])
        house.ingest(events)  # some events twice: counted once
        ours = duck.weights_version_sums(exp, BOUNDARIES)
        theirs = house.weights_version_sums(exp, BOUNDARIES)
    expected = reference(events, BOUNDARIES, 2**62)
    for k, ref in enumerate(expected):
        assert_sums_equal(ours[k].to_dict(), ref, f"$.duckdb.v{k}")
        assert_sums_equal(theirs[k].to_dict(), ref, f"$.clickhouse.v{k}")
