"""Properties (hypothesis): sums add up, and variant order beyond control does not matter."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from splitlab.stats import ArmSums, analyze
from tests.stats.helpers import experiment, sums_from_arrays

VALUES = st.lists(
    st.floats(min_value=-1e3, max_value=1e3, allow_nan=False), min_size=0, max_size=30
)


def _close(a: Any, b: Any, path: str = "$") -> None:
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9), (path, a, b)
    elif isinstance(a, str) and isinstance(b, str) and any(c.isdigit() for c in a):
        return  # sentences quote rounded numbers; the numbers themselves are compared above
    else:
        assert a == b, (path, a, b)


@settings(max_examples=100, deadline=None)
@given(VALUES, VALUES, VALUES, VALUES)
def test_arm_sums_are_additive(y1: list, y2: list, x1: list, x2: list) -> None:
    """Sums of two shards add up to the sums of the merged data (covariate included)."""
    n1, n2 = min(len(y1), len(x1)), min(len(y2), len(x2))
    a = ArmSums.from_values(y1[:n1], covariate=x1[:n1])
    b = ArmSums.from_values(y2[:n2], covariate=x2[:n2])
    merged = ArmSums.from_values(y1[:n1] + y2[:n2], covariate=x1[:n1] + x2[:n2])
    total = a + b
    assert total.n == merged.n
    for got, want in [
        (total.sum, merged.sum),
        (total.sum_sq, merged.sum_sq),
        (total.covariate.sum_product, merged.covariate.sum_product),  # type: ignore[union-attr]
    ]:
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-6)


def _data(seed: int, n: int, lifts: tuple[float, float, float]) -> dict:
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, np.ndarray]] = {"conv": {}, "revenue": {}, "errors": {}}
    for v, lift in zip(("control", "variant-a", "variant-b"), lifts, strict=True):
        out["conv"][v] = (rng.random(n) < 0.1 + lift).astype(float)
        out["revenue"][v] = rng.gamma(2.0, 5.0 + 20 * lift, n)
        out["errors"][v] = (rng.random(n) < 0.01).astype(float)
    return out


LIFTS = st.tuples(st.just(0.0), st.sampled_from([0.0, 0.02, -0.03]), st.sampled_from([0.0, 0.04]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(300, 3000), LIFTS)
def test_merged_sums_analyse_like_merged_data(seed: int, n: int, lifts: tuple) -> None:
    """Analysing shard sums added together equals analysing the sums of all the data."""
    data = _data(seed, n, lifts)
    cut = n // 3
    first = {m: {v: x[:cut] for v, x in arms.items()} for m, arms in data.items()}
    second = {m: {v: x[cut:] for v, x in arms.items()} for m, arms in data.items()}
    merged = sums_from_arrays(first) + sums_from_arrays(second)
    whole = sums_from_arrays(data)
    exp = experiment()
    _close(analyze(exp, merged).to_dict(), analyze(exp, whole).to_dict())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, 10_000),
    LIFTS,
    st.sampled_from(["bonferroni", "holm", "benjamini_hochberg"]),
    st.sampled_from(["none", "alpha_spending", "always_valid"]),
)
def test_results_do_not_depend_on_the_order_of_variants(
    seed: int, lifts: tuple, correction: str, method: str
) -> None:
    """Swapping the non-control variants changes nothing but the order of comparisons."""
    sums = sums_from_arrays(_data(seed, 2000, lifts))
    ev = {"correction": correction, "sequential": {"method": method}}
    ab = analyze(experiment(evaluation=ev), sums).to_dict()
    ba = analyze(
        experiment(variants=["control", "variant-b", "variant-a"], evaluation=ev), sums
    ).to_dict()
    for metric in ba["metrics"]:
        metric["comparisons"].sort(key=lambda c: c["variant"])
    for key in ("counts", "expectedShares"):
        ba["srm"][key] = {k: ba["srm"][key][k] for k in ab["srm"][key]}
    ba["units"] = {k: ba["units"][k] for k in ab["units"]}
    _close(ab, ba)


SMALL = st.lists(
    st.one_of(st.integers(0, 3), st.floats(-1e6, 1e6, allow_nan=False)), min_size=0, max_size=6
)
BINARY = st.lists(st.integers(0, 1), min_size=0, max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    st.tuples(BINARY, BINARY, BINARY),
    st.tuples(SMALL, SMALL, SMALL),
    st.tuples(BINARY, BINARY, BINARY),
    st.sampled_from(["none", "alpha_spending", "always_valid"]),
    st.sampled_from(["frequentist_t_test", "frequentist_z_test", "bayesian"]),
)
def test_any_small_data_gives_strict_json(
    conv: tuple, revenue: tuple, errors: tuple, sequential: str, method: str
) -> None:
    """Tiny, empty or constant arms never crash the engine nor put NaN/inf in the JSON."""
    import json

    names = ("control", "variant-a", "variant-b")
    data = {
        "conv": {v: np.asarray(x, float) for v, x in zip(names, conv, strict=True)},
        "revenue": {v: np.asarray(x, float) for v, x in zip(names, revenue, strict=True)},
        "errors": {v: np.asarray(x, float) for v, x in zip(names, errors, strict=True)},
    }
    sums = sums_from_arrays(data)
    exp = experiment(
        evaluation={"method": method, "sequential": {"method": sequential}, "minSampleSize": 3}
    )
    result = analyze(exp, sums)
    json.dumps(result.to_dict(), allow_nan=False)
    for metric in result.metrics:
        for comp in metric.comparisons:
            assert comp.estimable or comp.reason


EXTREME = st.one_of(
    st.integers(0, 3),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    st.just(1e-200),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.data(),
    st.sampled_from(["none", "alpha_spending", "always_valid"]),
    st.sampled_from(["frequentist_t_test", "frequentist_z_test", "bayesian"]),
    st.sampled_from(["delta", "fieller"]),
    st.sampled_from(["bonferroni", "holm", "benjamini_hochberg", "none"]),
    st.sampled_from(["absolute", "relative"]),
)
def test_any_configuration_gives_strict_json(
    data: st.DataObject, seq: str, method: str, rel: str, corr: str, threshold_type: str
) -> None:
    """CUPED, ratio and relative-guardrail metrics on extreme tiny data: no exception, no NaN."""
    import json

    from splitlab.stats import ExperimentSums

    names = ("control", "variant-a", "variant-b")
    metrics: dict[str, dict[str, ArmSums]] = {}
    units: dict[str, float] = {}
    for m in ("conv", "revenue", "ctr", "errors"):
        metrics[m] = {}
        for v in names:
            n = data.draw(st.integers(0, 5))
            arrays = [
                np.asarray(data.draw(st.lists(EXTREME, min_size=n, max_size=n)), float)
                for _ in range(3)
            ]
            y, x, d = arrays
            if m in ("conv", "errors"):
                y = (np.abs(y) > 1).astype(float)
            den = d if m == "ctr" else None
            metrics[m][v] = ArmSums.from_values(y, covariate=x, denominator=den)
            units[v] = max(units.get(v, 0.0), float(n))
    exp = experiment(
        metrics={
            "primary": {"name": "conv", "type": "conversion", "cuped": True},
            "secondary": [
                {"name": "revenue", "type": "continuous", "cuped": True},
                {"name": "ctr", "type": "ratio", "numerator": "a", "denominator": "b"},
            ],
            "guardrails": [{"name": "errors", "threshold": 0.1, "thresholdType": threshold_type}],
        },
        evaluation={
            "method": method,
            "sequential": {"method": seq},
            "minSampleSize": 3,
            "relativeInterval": rel,
            "correction": corr,
        },
    )
    result = analyze(exp, ExperimentSums(units, metrics, "exp-stats", 1))
    json.dumps(result.to_dict(), allow_nan=False)
