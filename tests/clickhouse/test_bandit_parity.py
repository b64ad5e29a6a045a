"""A bandit's per-batch sums: ClickHouseStore == DuckDBStore == pandas on the same events."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from splitlab.store import DuckDBStore
from splitlab.store.clickhouse import ClickHouseStore, LocalServer
from tests.store.bandit_helpers import HOUR, T0, as_tuples, bandit, events, pandas_batches

BOUNDARIES = [T0 + 20 * HOUR, T0 + 41 * HOUR + 123]
CUTOFF = T0 + 60 * HOUR


@pytest.mark.parametrize("reward", ["buy", "spend"])
def test_clickhouse_duckdb_and_pandas_agree(
    clickhouse: LocalServer, tmp_path: Path, reward: str
) -> None:
    exp = bandit(reward)
    evs = events(np.random.default_rng(7))
    cutoff = datetime.fromtimestamp(CUTOFF / 1000, tz=UTC)
    with (
        DuckDBStore(tmp_path / "events.duckdb", load_interval_s=0.05) as duck,
        ClickHouseStore(
            clickhouse.url, tmp_path / "log", database=f"bandit_{reward}", load_interval_s=0.05
        ) as house,
    ):
        duck.ingest(evs)
        house.ingest(evs[:200])
        house.ingest(evs)  # some events twice: counted once
        ours = duck.bandit_data(exp, BOUNDARIES, cutoff)
        theirs = house.bandit_data(exp, BOUNDARIES, cutoff)
    rewards, exposed = pandas_batches(exp, evs, BOUNDARIES, CUTOFF)
    assert theirs.exposed == ours.exposed == exposed
    for b, batch in enumerate(rewards):
        for arm, (n, s, ss) in batch.items():
            for got in (as_tuples(ours.rewards), as_tuples(theirs.rewards)):
                assert got[b][arm] == (n, pytest.approx(s, rel=1e-12), pytest.approx(ss, rel=1e-12))
