"""The percentile cap computed in DuckDB against numpy's inverted-CDF quantile, and the
capped per-unit values in every sum (ratio numerators too, denominators untouched)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from splitlab.config import Experiment, load_experiment
from splitlab.stats.capping import percentile_cap
from splitlab.store import DuckDBStore
from splitlab.store.errors import StoreError

from .capping_data import Units, capped_experiment, heavy_units, unit_events

PERCENTILES = [1e-6, 0.1, 1.0, 33.3, 50.0, 90.0, 99.0, 99.9, 100 - 1e-6]


def _samples() -> list[Units]:
    """Samples of many sizes, with and without ties (n = 1 and 2 included)."""
    rng = np.random.default_rng(99)
    out = []
    for n in (1, 2, 3, 5, 7, 10, 41, 100, 333):
        out.append(heavy_units(rng, n, ties=True))
        out.append(heavy_units(rng, n, ties=False))
        tied = Units(rng.integers(0, 2, n), rng.integers(1, 4, n).astype(float), np.ones(n))
        out.append(tied)  # a handful of distinct values: the percentile falls on ties
    return out


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    samples = _samples()
    store = DuckDBStore(tmp_path_factory.mktemp("capping") / "events.duckdb")
    events = []
    start = 0
    for k, units in enumerate(samples):
        events += unit_events(units, experiment_id=f"cap{k}", start=start)
        start += len(units.y)
    store.ingest(events)
    yield store, samples
    store.close()


def test_percentile_cap_equals_numpy_inverted_cdf(loaded: Any) -> None:
    """For every sample and percentile: the SQL cap is numpy's ``quantile(..., method=
    "inverted_cdf")`` (the ceil(p n)-th order statistic), as is the Python reference; the
    capped sums and the touched counts are numpy's on ``minimum(y, cap)``."""
    store, samples = loaded
    checked = 0
    for k, units in enumerate(samples):
        for pct in PERCENTILES:
            rule = {"type": "percentile", "percentile": pct}
            exp = capped_experiment(rule, cuped=True, experiment_id=f"cap{k}")
            sums = store.summary(exp)
            value_cap, covariate_cap = sums.capping
            expected = np.quantile(units.y, pct / 100, method="inverted_cdf")
            assert value_cap.value == expected, (k, pct)
            assert percentile_cap(list(units.y), pct) == expected
            assert covariate_cap.value == np.quantile(units.x, pct / 100, method="inverted_cdf")
            capped = np.minimum(units.y, expected)
            for a, arm in enumerate(["control", "treatment"]):
                mine = units.arm == a
                s = sums.metrics["revenue"][arm]
                assert s.n == mine.sum()
                assert s.sum == pytest.approx(capped[mine].sum(), rel=1e-12, abs=1e-12)
                assert s.sum_sq == pytest.approx((capped[mine] ** 2).sum(), rel=1e-12, abs=1e-12)
                assert value_cap.touched[arm] == int((units.y[mine] > expected).sum())
            checked += 1
    assert checked == len(samples) * len(PERCENTILES)


def test_ratio_caps_the_numerator_not_the_denominator(tmp_path: Path) -> None:
    """A ratio metric's cap applies to the per-unit numerator; the denominator is summed as
    it is (capping it would change what a unit's exposure to the metric counts)."""
    rng = np.random.default_rng(3)
    units = heavy_units(rng, 300, ties=False)
    exp = load_experiment({
        "experimentId": "cap", "status": "running", "variants": ["control", "treatment"],
        "assignment": {"salt": "s"},
        "metrics": {"primary": {"name": "aov", "type": "ratio", "numerator": "revenue",
                                "denominator": "revenue", "cap": {"type": "fixed", "value": 9.0}}},
    })  # fmt: skip
    with DuckDBStore(tmp_path / "e.duckdb") as store:
        store.ingest(unit_events(units))
        sums = store.summary(exp)
    for a, arm in enumerate(["control", "treatment"]):
        mine = units.arm == a
        s = sums.metrics["aov"][arm]
        assert s.sum == pytest.approx(np.minimum(units.y[mine], 9.0).sum(), rel=1e-12)
        assert s.denominator is not None
        assert s.denominator.sum == pytest.approx(units.y[mine].sum(), rel=1e-12)
        assert s.denominator.sum_product == pytest.approx(
            (np.minimum(units.y[mine], 9.0) * units.y[mine]).sum(), rel=1e-12
        )


def test_known_cap_is_applied_as_given(loaded: Any) -> None:
    """A percentile cap recorded at an earlier look is applied as given, not recomputed."""
    store, samples = loaded
    exp = capped_experiment({"type": "percentile", "percentile": 50}, experiment_id="cap25")
    sums = store.summary(exp, known_caps={("revenue", "value"): 2.5})
    units = samples[25]
    assert sums.capping[0].value == 2.5
    total = sums.metrics["revenue"]["control"].sum + sums.metrics["revenue"]["treatment"].sum
    assert total == pytest.approx(np.minimum(units.y, 2.5).sum(), rel=1e-12)


def test_cap_is_refused_where_it_is_not_applied(store: DuckDBStore) -> None:
    """A cluster design does not apply caps: the definition is refused
    (tests/config/test_capping_definition.py); one built past those checks gets a clear
    error from the store, never uncapped sums."""
    raw = capped_experiment({"type": "fixed", "value": 5}).to_wire()
    raw["assignment"] = {"strategy": "consistent_hash", "hashKey": "accountId", "salt": "cl"}
    raw["design"] = {"type": "cluster", "analysisUnit": "userId"}
    with pytest.raises(StoreError, match="'revenue' has a cap, which a cluster design"):
        store.summary(Experiment.model_validate(raw, context={"skip_checks": True}))


def test_covariate_cap_alone(loaded: Any) -> None:
    """Only the covariate capped (``covariateCap`` without ``cap``): the value is summed as
    it is, the covariate capped at its own percentile."""
    store, samples = loaded
    raw = capped_experiment(None, cuped=True, experiment_id="cap24").to_wire()
    raw["metrics"]["primary"]["covariateCap"] = {"type": "percentile", "percentile": 75}
    sums = store.summary(load_experiment(raw))
    units = samples[24]
    (cap,) = sums.capping
    assert cap.target == "covariate"
    assert cap.value == np.quantile(units.x, 0.75, method="inverted_cdf")
    both = [sums.metrics["revenue"][arm] for arm in ("control", "treatment")]
    assert sum(s.sum for s in both) == pytest.approx(units.y.sum(), rel=1e-12, abs=1e-12)
    assert sum(s.covariate.sum for s in both if s.covariate) == pytest.approx(
        np.minimum(units.x, cap.value).sum(), rel=1e-12, abs=1e-12
    )
