"""A bandit's per-batch sums in DuckDB against the same rules computed in pandas."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from splitlab.store import DuckDBStore
from splitlab.store.errors import StoreError
from tests.store.bandit_helpers import HOUR, T0, as_tuples, bandit, events, pandas_batches

BOUNDARIES = [T0 + 20 * HOUR, T0 + 41 * HOUR + 123]
CUTOFF = T0 + 60 * HOUR


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@pytest.mark.parametrize("reward", ["buy", "spend"])
def test_duckdb_matches_pandas(tmp_path: Path, reward: str) -> None:
    exp = bandit(reward)
    evs = events(np.random.default_rng(5))
    with DuckDBStore(tmp_path / "e.duckdb", load_interval_s=0.05) as store:
        store.ingest(evs)
        got = store.bandit_data(exp, BOUNDARIES, _at(CUTOFF))
    rewards, exposed = pandas_batches(exp, evs, BOUNDARIES, CUTOFF)
    assert got.exposed == exposed
    ours = as_tuples(got.rewards)
    for b, batch in enumerate(rewards):
        for arm, (n, s, ss) in batch.items():
            assert ours[b][arm] == (n, pytest.approx(s, rel=1e-12), pytest.approx(ss, rel=1e-12))
    # Windows still open are left out: the last batch has exposures but fewer rewards.
    last = len(BOUNDARIES)
    assert sum(got.exposed[last].values()) > sum(x.n for x in got.rewards[last].values())
    assert sum(x.n for x in got.rewards[0].values()) == sum(got.exposed[0].values())


def test_without_boundaries_everything_is_batch_zero(tmp_path: Path) -> None:
    exp = bandit()
    evs = events(np.random.default_rng(6), units=300)
    with DuckDBStore(tmp_path / "e.duckdb", load_interval_s=0.05) as store:
        store.ingest(evs)
        got = store.bandit_data(exp, [], _at(CUTOFF))
    rewards, exposed = pandas_batches(exp, evs, [], CUTOFF)
    assert got.exposed == exposed and len(got.rewards) == 1
    assert as_tuples(got.rewards)[0] == {
        a: (n, pytest.approx(s), pytest.approx(ss)) for a, (n, s, ss) in rewards[0].items()
    }


def test_not_a_bandit_is_refused(tmp_path: Path) -> None:
    from splitlab.config import load_experiment

    raw = bandit().to_wire()
    raw.pop("design")
    with (
        DuckDBStore(tmp_path / "e.duckdb", load_interval_s=0.05) as store,
        pytest.raises(StoreError, match="not a bandit"),
    ):
        store.bandit_data(load_experiment(raw), [], _at(CUTOFF))
