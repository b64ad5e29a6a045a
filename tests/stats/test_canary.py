"""Canary judgment: each formula against an independent reference, verdict rules, bad data."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import integrate, optimize
from scipy import stats as sps

from splitlab.config.adaptive import CanaryDesign
from splitlab.stats import canary_boundary as cb
from splitlab.stats import canary_means as cm
from splitlab.stats import canary_power as cp
from splitlab.stats import canary_ranks, msprt
from splitlab.stats.canary import judge
from splitlab.stats.errors import StatsError
from splitlab.stats.intervals import IntervalArm
from splitlab.stats.mannwhitney import shift_interval
from splitlab.stats.sketch import Sketch


def design(metrics: list[dict[str, Any]], min_requests: int = 1000) -> CanaryDesign:
    return CanaryDesign.model_validate(
        {
            "type": "canary",
            "ramp": [
                {"percent": 5, "minMinutes": 10, "minRequests": min_requests},
                {"percent": 25, "minMinutes": 10, "minRequests": min_requests},
                {"percent": 100},
            ],
            "metrics": metrics,
        }
    )


def per_request(values: np.ndarray) -> IntervalArm:
    """One event per unit."""
    y = np.asarray(values, dtype=float)
    s, ss = float(y.sum()), float((y * y).sum())
    return IntervalArm(y.size, y.size, float(y.size), s, ss, s, ss)


def per_unit(units: list[np.ndarray]) -> IntervalArm:
    """Several events per unit: the ratio-metric sums."""
    y = np.array([u.sum() for u in units])
    n = np.array([u.size for u in units], dtype=float)
    return IntervalArm(
        len(units),
        int(n.sum()),
        float((n * n).sum()),
        float(y.sum()),
        float((y * y).sum()),
        float((y * n).sum()),
        float(sum((u * u).sum() for u in units)),
    )


ERRORS = {"name": "errors", "kind": "proportion", "tolerance": 0.01, "toleranceType": "absolute"}
LATENCY = {"name": "latency", "kind": "mean", "tolerance": 0.1}


def test_one_event_per_unit_is_welch() -> None:
    """Reference: scipy.stats.ttest_ind(equal_var=False): se = difference / t."""
    rng = np.random.default_rng(1)
    b, c = rng.lognormal(3, 1, 400), rng.lognormal(3.1, 1, 300)
    est, var, _, _ = cm.effect(
        cm.ArmArrays.of(per_request(b)), cm.ArmArrays.of(per_request(c)), False, False
    )
    t = sps.ttest_ind(c, b, equal_var=False).statistic
    assert float(est) == pytest.approx(c.mean() - b.mean(), rel=1e-12)
    assert math.sqrt(float(var)) == pytest.approx((c.mean() - b.mean()) / t, rel=1e-10)


def test_ratio_metric_variance_is_the_linearised_unit_variance() -> None:
    """Reference, numpy by hand: L_u = (Y_u - m N_u) / Nbar, Var(m) = var(L, ddof=1) / U
    (Deng, Knoblich & Lu 2018)."""
    rng = np.random.default_rng(2)
    units = [rng.exponential(2.0, rng.integers(1, 8)) for _ in range(250)]
    y = np.array([u.sum() for u in units])
    n = np.array([u.size for u in units], dtype=float)
    m = y.sum() / n.sum()
    lin = (y - m * n) / n.mean()
    mean, var = cm.arm_mean_variance(cm.ArmArrays.of(per_unit(units)), proportion=False)
    assert float(mean) == pytest.approx(m, rel=1e-12)
    assert float(var) == pytest.approx(lin.var(ddof=1) / len(units), rel=1e-9)


def test_relative_variance_matches_the_spread_of_simulated_ratios() -> None:
    """Reference: the empirical sd of m_c / m_b - 1 over 20,000 numpy-simulated data sets
    (tolerance 3 %: the Monte Carlo sd of an sd estimate is 1/sqrt(2 * 20000) = 0.5 %)."""
    rng = np.random.default_rng(3)
    runs, size = 20_000, 200
    b = rng.gamma(2.0, 5.0, (runs, size))
    c = rng.gamma(2.0, 6.0, (runs, size))
    arrays = [
        cm.ArmArrays.per_request(np.full(runs, float(size)), x.sum(1), (x * x).sum(1))
        for x in (b, c)
    ]
    est, var, _, _ = cm.effect(arrays[0], arrays[1], proportion=False, relative=True)
    assert np.sqrt(np.mean(var)) == pytest.approx(np.std(est), rel=0.03)


def test_optimal_ratio_minimises_the_width() -> None:
    """Reference: scipy.optimize.minimize_scalar of c(r) (the width at a fixed sample size is
    sqrt(V) c(r), with r = tau^2 / V set by the mixing variance); Waudby-Smith et al. 2024's
    closed form -2 ln a + ln(1 - 2 ln a) is close."""
    for alpha in (0.05, 0.004, 1e-4):
        res = optimize.minimize_scalar(
            lambda r, a=alpha: float(cb.critical(r, a)),
            bounds=(0.01, 500.0),
            method="bounded",
            options={"xatol": 1e-9},
        )
        assert cb.optimal_ratio(alpha) == pytest.approx(res.x, rel=1e-4)
        big_l = -2 * math.log(alpha)
        assert cb.optimal_ratio(alpha) == pytest.approx(big_l + math.log1p(big_l), rel=0.05)


@pytest.mark.parametrize("v,r,alpha", [(0.01, 8.0, 0.05), (2.5e-5, 0.3, 0.004)])
def test_boundary_is_the_mixture_likelihood_ratio_at_one_over_alpha(
    v: float, r: float, alpha: float
) -> None:
    """Reference: the mixture likelihood ratio integral (Robbins 1970) by scipy quad equals
    1/alpha at the interval's edge; and the same as msprt.half_width."""
    edge = float(cb.critical(r, alpha)) * math.sqrt(v)
    tau2 = r * v
    sd, tau = math.sqrt(v), math.sqrt(tau2)
    lam, _ = integrate.quad(
        lambda th: (
            sps.norm.pdf(edge, th, sd) / sps.norm.pdf(edge, 0, sd) * sps.norm.pdf(th, 0, tau)
        ),
        -12 * tau,
        12 * tau,
        limit=200,
    )
    assert lam == pytest.approx(1 / alpha, rel=1e-6)
    assert edge == pytest.approx(msprt.half_width(v, tau2, alpha), rel=1e-12)


def test_mis_tuned_width_is_close_to_optimal() -> None:
    """The docs' claim: from a tenth to ten times the target, c(r) is within 30 % of c(r_opt)
    at the levels a canary uses (0.05 down to 1e-4)."""
    for alpha in (0.05, 0.004, 1e-4):
        best = float(cb.critical(cb.optimal_ratio(alpha), alpha))
        for f in (0.1, 10.0):
            assert float(cb.critical(f * cb.optimal_ratio(alpha), alpha)) < 1.3 * best


def test_alpha_split_and_level_reported() -> None:
    d = design([ERRORS, LATENCY])
    j = judge(d, {}, alpha=0.05, step=0, baseline="b", canary="c")
    assert j.alpha_per_metric == pytest.approx(0.05 / (2 * 2))
    assert j.verdict == "marginal"
    assert [m.reason for m in j.metrics] == ["no events in the baseline arm yet"] * 2


def test_underpowered_zero_effect_is_marginal_and_enough_data_passes() -> None:
    rng = np.random.default_rng(4)
    d = design([LATENCY])
    small = [{"b": per_request(rng.normal(100, 30, 20)), "c": per_request(rng.normal(100, 30, 20))}]
    assert judge(d, {"latency": small}, alpha=0.05, step=0, baseline="b", canary="c").verdict == (
        "marginal"
    )
    big = [
        {"b": per_request(rng.normal(100, 30, 3000)), "c": per_request(rng.normal(100, 30, 3000))}
        for _ in range(3)
    ]
    j = judge(d, {"latency": big}, alpha=0.05, step=0, baseline="b", canary="c")
    assert j.verdict == "pass"
    assert j.metrics[0].upper is not None and j.metrics[0].upper < 0.1
    assert j.metrics[0].canary_n == 9000


def test_decrease_direction_fails_on_a_drop() -> None:
    rng = np.random.default_rng(5)
    metric = {
        "name": "success",
        "kind": "mean",
        "tolerance": 1.0,
        "toleranceType": "absolute",
        "badDirection": "decrease",
    }
    data = [{"b": per_request(rng.normal(50, 5, 4000)), "c": per_request(rng.normal(45, 5, 4000))}]
    j = judge(design([metric]), {"success": data}, alpha=0.05, step=1, baseline="b", canary="c")
    assert j.verdict == "fail"
    m = j.metrics[0]
    assert m.upper is not None and m.upper < -1.0
    assert "upper bound" in m.reason and "-1" in m.reason


def test_zero_errors_in_both_arms_pass_with_enough_requests() -> None:
    """The plus-one variance floor: 0 errors in 20,000 requests per arm passes 1 pp, 0 in 10
    does not."""
    d = design([ERRORS])
    many = [{"b": per_request(np.zeros(20_000)), "c": per_request(np.zeros(20_000))}]
    few = [{"b": per_request(np.zeros(10)), "c": per_request(np.zeros(10))}]
    assert judge(d, {"errors": many}, alpha=0.05, step=0, baseline="b", canary="c").verdict == (
        "pass"
    )
    assert judge(d, {"errors": few}, alpha=0.05, step=0, baseline="b", canary="c").verdict == (
        "marginal"
    )


@pytest.mark.parametrize(
    "metric,b,c,reason",
    [
        (LATENCY, np.array([]), np.ones(5), "no events in the baseline arm yet"),
        (LATENCY, np.ones(5), np.array([3.0]), "fewer than 2 units in the canary arm"),
        (LATENCY, np.ones(50), np.ones(50), "no variation yet"),
        (ERRORS, np.full(50, 2.0), np.zeros(50), "not all 0 or 1"),
        (LATENCY, np.zeros(50), np.ones(50), "a relative tolerance needs positive means"),
    ],
)
def test_degenerate_data_is_marginal_with_a_reason(
    metric: dict[str, Any], b: np.ndarray, c: np.ndarray, reason: str
) -> None:
    data = {metric["name"]: [{"b": per_request(b), "c": per_request(c)}]}
    j = judge(design([metric]), data, alpha=0.05, step=0, baseline="b", canary="c")
    assert j.verdict == "marginal"
    assert reason in j.metrics[0].reason
    assert j.metrics[0].estimate is None


def test_missing_arm_in_an_interval_counts_as_no_events() -> None:
    rng = np.random.default_rng(6)
    data = {"latency": [{"b": per_request(rng.normal(10, 1, 100))}]}
    j = judge(design([LATENCY]), data, alpha=0.05, step=0, baseline="b", canary="c")
    assert j.metrics[0].reason == "no events in the canary arm yet"


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"alpha": 0.0, "step": 0}, "alpha"),
        ({"alpha": 1.5, "step": 0}, "alpha"),
        ({"alpha": 0.05, "step": 2}, "step"),
        ({"alpha": 0.05, "step": -1}, "step"),
    ],
)
def test_bad_arguments_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(StatsError, match=f"^{field}: expected"):
        judge(design([LATENCY]), {}, baseline="b", canary="c", **kwargs)


def test_to_dict_is_camel_case() -> None:
    rng = np.random.default_rng(7)
    data = {
        "latency": [
            {"b": per_request(rng.normal(10, 1, 500)), "c": per_request(rng.normal(10, 1, 500))}
        ]
    }
    out = judge(design([LATENCY]), data, alpha=0.05, step=0, baseline="b", canary="c").to_dict()
    assert set(out) == {"verdict", "metrics", "alphaPerMetric"}
    assert set(out["metrics"][0]) == {
        "name",
        "kind",
        "verdict",
        "estimate",
        "lower",
        "upper",
        "scale",
        "tolerance",
        "toleranceType",
        "badDirection",
        "baselineValue",
        "canaryValue",
        "baselineN",
        "canaryN",
        "reason",
    }
    assert out["metrics"][0]["scale"] == "relative"


# --- mann_whitney and quantile kinds, power ------------------------------------------------


MW = {"name": "lat", "kind": "mann_whitney", "tolerance": 0.1}
P99 = {"name": "p99", "event": "lat", "kind": "quantile", "quantile": 0.99, "tolerance": 0.1}


def sketched(values: np.ndarray) -> IntervalArm:
    arm = per_request(values)
    return IntervalArm(
        arm.units,
        arm.n,
        arm.n_sq,
        arm.sum,
        arm.sum_sq,
        arm.sum_product,
        arm.event_sum_sq,
        Sketch.from_values(values),
    )


def test_one_interval_shift_interval_is_quants_test_inversion() -> None:
    """Reference: quant's single-sample shift_interval (Hodges-Lehmann test inversion) at the
    sequence's nominal level, without continuity correction: the same estimate and bounds
    (to the bisection's precision) as the stratified inversion over one stratum."""
    rng = np.random.default_rng(20)
    b = Sketch.from_values(rng.lognormal(4, 0.5, 1500))
    c = Sketch.from_values(rng.lognormal(4.05, 0.5, 1500))
    crit = 3.5
    mine = canary_ranks.mw_effect([(b, c)], True, crit)
    bv, bc = b.distinct()
    cv, cc = c.distinct()
    ref = shift_interval(
        cv,
        cc,
        bv,
        bc,
        scale="relative",
        alpha=float(cb.nominal_level(crit)),
        use_continuity=False,
    )
    assert mine == pytest.approx((ref.estimate, ref.lower, ref.upper), abs=1e-6)


def test_mann_whitney_verdicts_and_reasons() -> None:
    rng = np.random.default_rng(21)
    d = design([MW])
    same = [
        {"b": sketched(rng.lognormal(4, 0.5, 3000)), "c": sketched(rng.lognormal(4, 0.5, 3000))}
        for _ in range(3)
    ]
    slow = [
        {
            "b": sketched(rng.lognormal(4, 0.5, 3000)),
            "c": sketched(rng.lognormal(4, 0.5, 3000) * 1.3),
        }
        for _ in range(3)
    ]
    j_same = judge(d, {"lat": same}, alpha=0.05, step=0, baseline="b", canary="c").metrics[0]
    j_slow = judge(d, {"lat": slow}, alpha=0.05, step=0, baseline="b", canary="c").metrics[0]
    assert (j_same.verdict, j_same.scale) == ("pass", "shift")
    assert j_slow.verdict == "fail"
    assert j_slow.lower is not None and j_slow.upper is not None
    assert j_slow.lower > 0.1 and j_slow.lower < 0.3 < j_slow.upper
    flat = [{"b": sketched(np.full(50, 7.0)), "c": sketched(np.full(50, 7.0))}]
    no_sketch = [{"b": per_request(np.ones(50)), "c": per_request(np.ones(50))}]
    zeros = [{"b": sketched(np.zeros(50)), "c": sketched(np.arange(50.0))}]
    for data, reason in (
        (flat, "no variation yet"),
        (no_sketch, "no interval has events in both arms"),
        (zeros, "needs values > 0"),
    ):
        m = judge(d, {"lat": data}, alpha=0.05, step=0, baseline="b", canary="c").metrics[0]
        assert (m.verdict, reason in m.reason) == ("marginal", True), m.reason


def test_quantile_needs_rank_bounds_inside_the_data() -> None:
    """40 values cannot bound a p99 at this level: marginal with the reason; 20,000 can."""
    rng = np.random.default_rng(22)
    d = design([P99])
    few = [{"b": sketched(rng.lognormal(4, 0.5, 40)), "c": sketched(rng.lognormal(4, 0.5, 40))}]
    m = judge(d, {"p99": few}, alpha=0.05, step=0, baseline="b", canary="c").metrics[0]
    assert m.verdict == "marginal" and "reach beyond" in m.reason
    many = [
        {"b": sketched(rng.lognormal(4, 0.5, 20_000)), "c": sketched(rng.lognormal(4, 0.5, 20_000))}
    ]
    m = judge(d, {"p99": many}, alpha=0.05, step=0, baseline="b", canary="c").metrics[0]
    assert m.verdict == "pass" and m.baseline_value is not None
    assert m.baseline_value == pytest.approx(math.exp(4 + 0.5 * sps.norm.ppf(0.99)), rel=0.05)


def test_lognormal_quantile_variance_matches_simulated_quantiles() -> None:
    """Reference: the variance of log(q_c / q_b) over 4,000 numpy-simulated pairs of samples
    of 2,000 lognormal values (tolerance 6 %: sd of a variance estimate is sqrt(2/4000))."""
    rng = np.random.default_rng(23)
    runs, m, p, sigma = 4000, 2000, 0.95, 0.5
    qb = np.quantile(rng.lognormal(0, sigma, (runs, m)), p, axis=1)
    qc = np.quantile(rng.lognormal(0, sigma, (runs, m)), p, axis=1)
    predicted = cp.lognormal_quantile_variance(p, sigma, m, 1.0)
    assert np.var(np.log(qc / qb)) == pytest.approx(predicted, rel=0.06)


def test_fail_probabilities_match_a_simulated_random_walk() -> None:
    """Reference: 200,000 numpy Gaussian random walks against the same boundaries (tolerance
    0.005, about 4 Monte Carlo s.e.)."""
    rng = np.random.default_rng(24)
    effect, tol, v1, m, level, looks = 0.02, 0.01, 2e-5, 500, 0.01, 12
    probs = cp.fail_probabilities(effect, tol, "increase", v1, m, level, 1000, looks)
    k = np.arange(1, looks + 1)
    c = cb.critical(cb.information_ratio(k * m / 2, cb.target_effective_n(1000), level), level)
    d = np.cumsum(rng.normal(effect, math.sqrt(v1), (200_000, looks)), axis=1) / k
    failed = np.cumsum(d - c * np.sqrt(v1 / k) > tol, axis=1) > 0
    assert np.max(np.abs(failed.mean(0) - probs)) < 0.005
    assert cp.intervals_to_fail(0.005, tol, "increase", v1, m, level) is None


def test_step_totals_give_the_unit_level_variance_with_the_same_estimate() -> None:
    """Users sending many requests with a user effect: the interval from the step totals
    (grouped by unit) is the ratio-metric delta method over units; the estimate is that of
    the intervals' event sums."""
    rng = np.random.default_rng(12)
    arms = {
        arm: [rng.normal(100 + rng.normal(0, 30), 5, rng.integers(5, 40)) for _ in range(200)]
        for arm in ("b", "c")
    }
    events = {arm: per_request(np.concatenate(units)) for arm, units in arms.items()}
    totals = {arm: per_unit(units) for arm, units in arms.items()}
    d = design([LATENCY])
    kw: dict[str, Any] = {"alpha": 0.05, "step": 0, "baseline": "b", "canary": "c"}
    naive = judge(d, {"latency": [events]}, **kw).metrics[0]
    fixed = judge(d, {"latency": [events]}, **kw, step_totals={"latency": totals}).metrics[0]
    assert fixed.estimate == pytest.approx(naive.estimate, rel=1e-12)
    # the variance ratio is the design effect of the unit means, by hand with numpy
    assert naive.lower is not None and naive.upper is not None and naive.estimate is not None
    assert fixed.lower is not None and fixed.upper is not None
    # a relative interval is symmetric on the log-ratio scale (stats/canary_means.py)
    ratio = (math.log1p(fixed.upper) - math.log1p(fixed.lower)) / (
        math.log1p(naive.upper) - math.log1p(naive.lower)
    )
    _, v_unit, _, _ = cm.effect(
        cm.ArmArrays.of(totals["b"]), cm.ArmArrays.of(totals["c"]), False, True
    )
    _, v_event, _, _ = cm.effect(
        cm.ArmArrays.of(events["b"]), cm.ArmArrays.of(events["c"]), False, True
    )
    assert ratio == pytest.approx(math.sqrt(float(v_unit) / float(v_event)), rel=1e-9)
    assert ratio > 2  # between-user spread of 30 against within-user 5


def test_clustered_sums_widen_the_quantile_interval() -> None:
    from splitlab.stats.quantile import clustered_sums, quantile_bucket

    rng = np.random.default_rng(3)
    data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for arm in ("b", "c"):
        users = np.repeat(np.arange(300), 30)
        values = np.round(
            np.exp(
                4 + 0.5 * rng.standard_normal(300)[users] + 0.2 * rng.standard_normal(users.size)
            )
        )
        data[arm] = (values, users)
    sketches = {a: Sketch.from_values(v) for a, (v, _) in data.items()}
    arms = {
        a: IntervalArm(s.count, s.count, float(s.count), 0.0, 0.0, 0.0, 0.0, s)
        for a, s in sketches.items()
    }
    clustered = {
        a: clustered_sums(v, u, quantile_bucket(sketches[a], 0.9)) for a, (v, u) in data.items()
    }
    d = design([{"name": "p90", "kind": "quantile", "quantile": 0.9, "tolerance": 0.5}])
    kw: dict[str, Any] = {"alpha": 0.05, "step": 0, "baseline": "b", "canary": "c"}
    naive = judge(d, {"p90": [arms]}, **kw).metrics[0]
    fixed = judge(d, {"p90": [arms]}, **kw, clustered={"p90": clustered}).metrics[0]
    assert fixed.estimate == naive.estimate
    assert None not in (naive.lower, naive.upper, fixed.lower, fixed.upper)
    assert fixed.upper - fixed.lower > 2 * (naive.upper - naive.lower)  # type: ignore[operator]
