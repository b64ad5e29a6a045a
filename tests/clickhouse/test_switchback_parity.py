"""The switchback cell table: ClickHouseStore and DuckDBStore agree on the same events."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from splitlab.config import load_experiment
from splitlab.store import DuckDBStore
from splitlab.store.clickhouse import ClickHouseStore, LocalServer
from tests.store.switchback_helpers import definition, simulate

CUTOFF = datetime(2026, 3, 3, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize("unit", ["region", None])
def test_cells_and_quality_agree(clickhouse: LocalServer, tmp_path: Path, unit: str | None) -> None:
    exp = load_experiment(definition(unit))
    events = simulate(exp, np.random.default_rng(17), ["north", "south", None])
    db = "sb_" + ("unit" if unit else "global")
    with (
        DuckDBStore(tmp_path / "events.duckdb", load_interval_s=0.05) as duck,
        ClickHouseStore(
            clickhouse.url, tmp_path / "log", database=db, load_interval_s=0.05
        ) as house,
    ):
        duck.ingest(events)
        house.ingest(events[:100])
        house.ingest(events)  # some events twice: counted once
        ours, theirs = duck.switchback_cells(exp, CUTOFF), house.switchback_cells(exp, CUTOFF)
        assert (theirs.unit_names, theirs.first_period, theirs.periods) == (
            ours.unit_names, ours.first_period, ours.periods
        )  # fmt: skip
        assert theirs.variants == ours.variants
        for name in ours.values:
            np.testing.assert_allclose(theirs.outcome(name), ours.outcome(name), rtol=1e-12)
        for name, column in ours.denominators.items():
            np.testing.assert_allclose(theirs.denominators[name], column, rtol=1e-12)
        assert house.data_quality(exp, CUTOFF) == duck.data_quality(exp, CUTOFF)
        house_sums, duck_sums = house.summary(exp, CUTOFF), duck.summary(exp, CUTOFF)
        assert house_sums.units == duck_sums.units
        for name, arms in duck_sums.metrics.items():
            for variant, arm in arms.items():
                other = house_sums.metrics[name][variant]
                assert (other.n, other.sum, other.sum_sq) == pytest.approx(
                    (arm.n, arm.sum, arm.sum_sq), rel=1e-12
                )
