"""Quantile metrics: ClickHouse gives the same sketches and clustered sums as DuckDB, and
both equal Sketch.from_values of the values in Python (duplicated deliveries included)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from splitlab.store import DuckDBStore
from splitlab.store.clickhouse import ClickHouseStore, LocalServer
from tests.clickhouse.simulate import batches
from tests.store.store_helpers import simulate
from tests.store.test_quantile_summary import expected, quantile_experiment


@pytest.mark.parametrize("dedup", ["final", "limit_by"])
def test_quantile_sums_equal_duckdb_and_python(
    clickhouse: LocalServer, tmp_path: Path, dedup: str
) -> None:
    rng = np.random.default_rng(20261204)
    events = simulate(rng, units=600)
    sent = batches(rng, events)
    exp = quantile_experiment()
    duck = DuckDBStore(tmp_path / "events.duckdb", load_interval_s=0.05)
    house = ClickHouseStore(
        clickhouse.url, tmp_path / "log", database=f"quantile_{dedup}", load_interval_s=0.05,
        dedup=dedup,  # type: ignore[arg-type]
    )  # fmt: skip
    try:
        for batch in sent:
            duck.ingest(batch)
            house.ingest(batch)
        from_duck, from_house = duck.summary(exp), house.summary(exp)
    finally:
        house.close()
        duck.close()
    for name in ("revenue_p90", "basket_p50"):
        for variant in exp.variant_names:
            duck_arm = from_duck.metrics[name][variant].to_dict()
            house_arm = from_house.metrics[name][variant].to_dict()
            # float sums differ in the last bits (summation order); the rest exactly
            for key in ("sum", "sumSq"):
                assert house_arm.pop(key) == pytest.approx(duck_arm.pop(key), rel=1e-12)
            assert house_arm == duck_arm, (name, variant)
    for name, arms in expected(events, exp).items():
        for variant, (n, _, sketch, clustered) in arms.items():
            arm = from_house.metrics[name][variant]
            assert (arm.n, arm.sketch, arm.clustered) == (n, sketch, clustered), (name, variant)
            assert sketch.count > 10
