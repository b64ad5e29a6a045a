"""Capping in ClickHouse: the same caps, touched counts and capped sums as DuckDB and numpy
(percentile computed in the query, fixed, and recorded at an earlier look)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from splitlab.store import DuckDBStore
from splitlab.store.clickhouse import ClickHouseStore, LocalServer
from tests.store.capping_data import Units, capped_experiment, heavy_units, unit_events

PERCENTILES = [1e-6, 1.0, 50.0, 90.0, 99.0, 100 - 1e-6]


def test_capping_equals_duckdb_and_numpy(clickhouse: LocalServer, tmp_path: Path) -> None:
    rng = np.random.default_rng(404)
    samples: list[Units] = [heavy_units(rng, n, ties=t) for n in (1, 2, 9, 250) for t in (1, 0)]
    duck = DuckDBStore(tmp_path / "events.duckdb", load_interval_s=0.05)
    house = ClickHouseStore(clickhouse.url, tmp_path / "log", database="capping",
                            load_interval_s=0.05)  # fmt: skip
    try:
        start = 0
        for k, units in enumerate(samples):
            events = unit_events(units, experiment_id=f"cap{k}", start=start)
            start += len(units.y)
            duck.ingest(events)
            house.ingest(events)
        for k, units in enumerate(samples):
            rules = [{"type": "percentile", "percentile": p} for p in PERCENTILES]
            for rule in [*rules, {"type": "fixed", "value": 3.5}]:
                exp = capped_experiment(rule, cuped=True, experiment_id=f"cap{k}")
                d, h = duck.summary(exp), house.summary(exp)
                assert [c.to_dict() for c in h.capping] == [c.to_dict() for c in d.capping]
                if rule["type"] == "percentile":
                    p = float(rule["percentile"]) / 100
                    assert h.capping[0].value == np.quantile(units.y, p, method="inverted_cdf")
                    assert h.capping[1].value == np.quantile(units.x, p, method="inverted_cdf")
                for arm in exp.variant_names:
                    da, ha = (
                        d.metrics["revenue"][arm].to_dict(),
                        h.metrics["revenue"][arm].to_dict(),
                    )
                    assert ha.pop("sum") == pytest.approx(da.pop("sum"), rel=1e-12, abs=1e-12)
                    assert ha.pop("sumSq") == pytest.approx(da.pop("sumSq"), rel=1e-12, abs=1e-12)
                    assert ha["n"] == da["n"]
                    assert ha["covariate"] == pytest.approx(da["covariate"], rel=1e-12, abs=1e-12)
            recorded = {("revenue", "value"): 2.0, ("revenue", "covariate"): 4.0}
            exp = capped_experiment(PCT99, cuped=True, experiment_id=f"cap{k}")
            d = duck.summary(exp, known_caps=recorded)
            h = house.summary(exp, known_caps=recorded)
            assert [c.to_dict() for c in h.capping] == [c.to_dict() for c in d.capping]
            assert h.metrics["revenue"]["control"].sum == pytest.approx(
                d.metrics["revenue"]["control"].sum, rel=1e-12, abs=1e-12
            )
    finally:
        house.close()
        duck.close()


PCT99 = {"type": "percentile", "percentile": 99}
