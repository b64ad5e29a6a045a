"""Time-to-event metrics (RMST difference) and retention metrics (a proportion over eligible
units) in the stats engine: against lifelines, hand-coded variances and statsmodels, an A/A
simulation of the RMST z-test and a power check under a real effect."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time
from scipy import special
from statsmodels.stats import proportion as smp

from splitlab.config import Experiment
from splitlab.stats import ArmSums, ExperimentSums, analyze
from splitlab.stats import time_to_event_metric as tte
from splitlab.stats.survival_table import SurvivalTable
from tests.stats.helpers import experiment
from tests.stats.survival_ref import hand_rmst, hand_rmst_var

TAU = 72.0
VARIANTS = ["control", "variant-a"]
TTE = {
    "name": "first_purchase",
    "type": "time_to_event",
    "event": "purchase",
    "horizonHours": TAU,
    "direction": "decrease",
}
RETENTION = {"name": "d7", "type": "retention", "event": "visit", "retention": {"day": 7}}


def _exp(primary: dict[str, object], **evaluation: object) -> Experiment:
    ev: dict[str, object] = {"sequential": {"method": "none"}, "correction": "none"}
    ev.update(evaluation)
    return experiment(
        variants=VARIANTS,
        metrics={"primary": primary, "secondary": [], "guardrails": []},
        evaluation=ev,
    )


def _durations(
    rng: np.random.Generator, shape: tuple[int, ...], mean_hours: float
) -> tuple[np.ndarray, np.ndarray]:
    """Exponential times to the event (mean ``mean_hours``), units entering uniformly over a
    week and analysed at its end (follow-up 0-168 h, staggered entry), censored at the
    cut-off and at the 72 h horizon; rounded to 0.1 h (ties). About 60 % have follow-up
    beyond the horizon."""
    event = rng.exponential(mean_hours, shape)
    follow = 168.0 - rng.uniform(0.0, 168.0, shape)
    limit = np.minimum(follow, TAU)
    seen = event <= limit
    return np.round(np.minimum(event, limit), 1), seen


def _table(t: np.ndarray, seen: np.ndarray) -> SurvivalTable:
    times, inv = np.unique(t, return_inverse=True)
    events = np.bincount(inv, weights=seen, minlength=times.size)
    censored = np.bincount(inv, weights=~seen, minlength=times.size)
    return SurvivalTable(tuple(times.tolist()), tuple(events.tolist()), tuple(censored.tolist()))


def _arm(t: np.ndarray, seen: np.ndarray) -> ArmSums:
    return ArmSums(float(t.size), 0.0, 0.0, survival=_table(t, seen))


def _lifelines_rmst(t: np.ndarray, seen: np.ndarray, tau: float) -> float:
    kmf = KaplanMeierFitter().fit(t, event_observed=seen)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(restricted_mean_survival_time(kmf, t=tau))


def test_estimate_is_the_rmst_difference() -> None:
    """Each arm's RMST equals lifelines' restricted_mean_survival_time (1e-6) and the hand
    step-curve area; the SE is sqrt(var_c + var_t) of the hand-coded Greenwood-type sums
    (Klein & Moeschberger 2003, eq. 4.5.2); z and the two-sided normal p-value follow."""
    rng = np.random.default_rng(7)
    (tc, sc), (tt, st) = _durations(rng, (300,), 40.0), _durations(rng, (300,), 55.0)
    metric = _exp(TTE).metrics.primary
    d, reason, notes = tte.estimate(metric, _arm(tc, sc), _arm(tt, st), 0.05)
    assert reason is None and d is not None
    assert notes == ("restricted mean time to purchase within 72 h",)
    mu_c, mu_t = _lifelines_rmst(tc, sc, TAU), _lifelines_rmst(tt, st, TAU)
    assert d.control_mean == pytest.approx(mu_c, abs=1e-6)
    assert d.treatment_mean == pytest.approx(mu_t, abs=1e-6)
    assert d.control_mean == pytest.approx(hand_rmst(tc.tolist(), sc.tolist(), TAU), abs=1e-9)
    var_c = hand_rmst_var(tc.tolist(), sc.tolist(), TAU)
    var_t = hand_rmst_var(tt.tolist(), st.tolist(), TAU)
    assert d.estimate == pytest.approx(mu_t - mu_c, abs=1e-6)
    assert d.se == pytest.approx(math.sqrt(var_c + var_t), rel=1e-9)
    assert d.var_control_mean == pytest.approx(var_c, rel=1e-9)
    assert d.cov_estimate_control == pytest.approx(-var_c, rel=1e-9)
    assert math.isinf(d.df)
    z = (mu_t - mu_c) / math.sqrt(var_c + var_t)
    assert d.statistic == pytest.approx(z, rel=1e-6)
    assert d.p_value == pytest.approx(2 * special.ndtr(-abs(z)), rel=1e-6)


def test_reasons_when_not_estimable() -> None:
    metric = _exp(TTE).metrics.primary
    t, seen = np.array([1.0, 80.0, 72.0]), np.array([True, False, False])
    ok = _arm(np.minimum(t, TAU), seen)
    cases = [
        (ArmSums(0.0, 0.0, 0.0), "control has no units exposed"),
        (ArmSums(5.0, 0.0, 0.0), "no survival table for control"),
        (_arm(np.array([3.0]), np.array([True])), "control has 1 unit(s)"),
        # Longest follow-up 10 h with S still > 0: the area up to 72 h would be extrapolated.
        (_arm(np.array([2.0, 10.0]), np.array([True, False])), "longest follow-up 10 h < 72 h"),
    ]
    for control, words in cases:
        d, reason, _ = tte.estimate(metric, control, ok, 0.05)
        assert d is None and reason is not None and words in reason, reason
    # Nobody has the event before the horizon: both RMSTs are 72 h exactly, no variance.
    flat = _arm(np.array([72.0, 72.0, 72.0]), np.array([False, False, False]))
    d, reason, _ = tte.estimate(metric, flat, flat, 0.05)
    assert d is None and reason is not None and "no sampling variability" in reason
    # Every unit had its event early (S reached 0): not extrapolated, estimable.
    dead = _arm(np.array([1.0, 2.0, 3.0]), np.array([True, True, True]))
    d, reason, _ = tte.estimate(metric, dead, ok, 0.05)
    assert reason is None and d is not None and d.control_mean == pytest.approx(2.0)
    no_horizon = metric.model_copy(update={"horizon_hours": None})
    assert "horizonHours" in (tte.estimate(no_horizon, ok, ok, 0.05)[1] or "")


def test_analyze_reports_the_rmst_difference() -> None:
    """In analyze() (z-test, no correction or sequential adjustment) the absolute interval is
    the difference +- z_{0.975} SE, the relative change is the delta method's, and the
    results name what is compared."""
    rng = np.random.default_rng(8)
    (tc, sc), (tt, st) = _durations(rng, (500,), 40.0), _durations(rng, (500,), 60.0)
    arms = {"control": _arm(tc, sc), "variant-a": _arm(tt, st)}
    sums = ExperimentSums({"control": 500.0, "variant-a": 500.0}, {TTE["name"]: arms}, "", 1)
    results = analyze(_exp(TTE, method="frequentist_z_test"), sums)
    m = results.metric("first_purchase")
    c = m.comparisons[0]
    d, _, _ = tte.estimate(_exp(TTE).metrics.primary, arms["control"], arms["variant-a"], 0.05)
    assert d is not None and c.absolute is not None and c.relative is not None
    z = special.ndtri(0.975)
    assert c.absolute.lower == pytest.approx(d.estimate - z * d.se, rel=1e-9)
    assert c.p_value == pytest.approx(d.p_value, rel=1e-9)
    # Delta method: Var(D/C) with Cov(D, C) = -Var C (Casella & Berger 2002, sec. 5.5.4).
    r = d.estimate / d.control_mean
    var_r = (d.se**2 + r * r * d.var_control_mean + 2 * r * d.var_control_mean) / (
        d.control_mean**2
    )
    assert c.relative.upper - c.relative.estimate == pytest.approx(z * math.sqrt(var_r), rel=1e-6)
    out = m.to_dict()
    assert out["timeToEvent"] == "restricted mean time to purchase within 72 h"
    assert "quantile" not in out and "retention" not in out
    assert c.units == (500.0, 500.0)
    # Time to a purchase, wanted to decrease: a longer RMST in the variant is worse.
    assert c.direction == ("worse" if c.significant else "none")


def test_time_to_event_guardrail_judges_the_rmst_difference() -> None:
    """A guardrail "time to first error must not shrink by more than 2 h": harm is
    -(RMST_t - RMST_c) for direction increase; with a clear 15 h drop it is breached."""
    rng = np.random.default_rng(9)
    (tc, sc), (tt, st) = _durations(rng, (2000,), 80.0), _durations(rng, (2000,), 40.0)
    guard = {**TTE, "name": "error_free", "event": "error", "direction": "increase"}
    exp = experiment(
        variants=VARIANTS,
        metrics={
            "primary": {"name": "conv", "type": "conversion"},
            "secondary": [],
            "guardrails": [{**guard, "threshold": 2.0}],
        },
        evaluation={"sequential": {"method": "none"}},
    )
    arms = {"control": _arm(tc, sc), "variant-a": _arm(tt, st)}
    conv = {v: ArmSums(2000.0, 200.0, 200.0) for v in VARIANTS}
    sums = ExperimentSums(dict.fromkeys(VARIANTS, 2000.0), {"error_free": arms, "conv": conv})
    c = analyze(exp, sums).comparison("error_free", "variant-a")
    assert c.guardrail is not None and c.guardrail.verdict == "breached", c.guardrail
    assert c.guardrail.harm is not None and c.guardrail.harm.estimate > 10.0
    assert analyze(exp, sums).decision.action == "rollback"


RUNS = 2000
N = 400  # units per arm


def _rejections(
    mean_c: float, mean_t: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rejected at 5 %, estimate, se) of the RMST z-test over RUNS simulated experiments."""
    rng = np.random.default_rng(seed)
    tc, sc = _durations(rng, (RUNS, N), mean_c)
    tt, st = _durations(rng, (RUNS, N), mean_t)
    metric = _exp(TTE).metrics.primary
    rejected = np.zeros(RUNS, dtype=bool)
    est = np.zeros(RUNS)
    se = np.zeros(RUNS)
    for i in range(RUNS):
        d, reason, _ = tte.estimate(metric, _arm(tc[i], sc[i]), _arm(tt[i], st[i]), 0.05)
        assert d is not None, reason
        rejected[i], est[i], se[i] = d.p_value <= 0.05, d.estimate, d.se
    return rejected, est, se


def _true_rmst(mean: float) -> float:
    """integral_0^tau exp(-t / mean) dt = mean (1 - exp(-tau / mean)) (exponential times)."""
    return mean * (1.0 - math.exp(-TAU / mean))


def test_aa_false_positive_rate() -> None:
    """A/A: exponential times (mean 48 h) in both arms, censoring by staggered entry: the
    z-test rejects at 5 % in 5 % +- 3 Monte Carlo SE of 2,000 runs (SE sqrt(.05 .95 / 2000)
    = 0.49 points); the SE's average matches the estimates' spread within 3 of that
    spread's Monte Carlo SE (1 / sqrt(2 (RUNS - 1)) = 1.6 % relative)."""
    rejected, est, se = _rejections(48.0, 48.0, 101)
    band = 3 * math.sqrt(0.05 * 0.95 / RUNS)
    assert abs(rejected.mean() - 0.05) < band, rejected.mean()
    assert abs(est.mean()) < 3 * est.std(ddof=1) / math.sqrt(RUNS)
    assert se.mean() == pytest.approx(est.std(ddof=1), rel=3 / math.sqrt(2 * (RUNS - 1)))


def test_power_under_a_real_effect() -> None:
    """Means 40 h vs 52 h: the estimates average the true RMST difference (exponential,
    mean (1 - exp(-tau / mean)) each) within 3 Monte Carlo SE, and the rejection rate equals
    the normal approximation's power Phi(|delta| / SE - z_{0.975}) (+ the far tail) at the
    average SE, within 3 Monte Carlo SE of a proportion."""
    rejected, est, se = _rejections(40.0, 52.0, 202)
    delta = _true_rmst(52.0) - _true_rmst(40.0)
    assert abs(est.mean() - delta) < 3 * est.std(ddof=1) / math.sqrt(RUNS), (est.mean(), delta)
    s = float(se.mean())
    z = special.ndtri(0.975)
    power = special.ndtr(delta / s - z) + special.ndtr(-delta / s - z)
    assert 0.3 < power < 0.9  # an informative power, not 0 or 1
    assert abs(rejected.mean() - power) < 3 * math.sqrt(power * (1 - power) / RUNS), (
        rejected.mean(),
        power,
    )


def _retention_sums(
    rows: dict[str, tuple[float, float]], exposed: dict[str, float]
) -> ExperimentSums:
    arms = {v: ArmSums(n, x, x) for v, (n, x) in rows.items()}
    return ExperimentSums(exposed, {"d7": arms}, "", 1)


@pytest.mark.parametrize(
    "c,t", [((1800, 630), (1750, 700)), ((420, 90), (455, 71)), ((3000, 1500), (2900, 1480))]
)
def test_retention_is_a_proportion_over_eligible_units(
    c: tuple[int, int], t: tuple[int, int]
) -> None:
    """With n = eligible units and sum = retained, the comparison equals statsmodels'
    test_proportions_2indep(method="wald") and confint_proportions_2indep(method="wald")
    (the unpooled Wald z, the conversion path's test) and the conversion metric's result on
    the same counts; the results say how many units were eligible and still in their window."""
    exposed = {"control": c[0] + 250.0, "variant-a": t[0] + 240.0}
    sums = _retention_sums({"control": c, "variant-a": t}, exposed)
    results = analyze(_exp(RETENTION, method="frequentist_t_test"), sums)
    cmp = results.comparison("d7", "variant-a")
    ref = smp.test_proportions_2indep(t[1], t[0], c[1], c[0], method="wald", compare="diff")
    low, high = smp.confint_proportions_2indep(t[1], t[0], c[1], c[0], method="wald")
    assert cmp.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert cmp.absolute is not None
    assert (cmp.absolute.lower, cmp.absolute.upper) == (
        pytest.approx(low, rel=1e-9),
        pytest.approx(high, rel=1e-9),
    )
    assert cmp.units == (c[0], t[0])
    conv = {**RETENTION, "type": "conversion", "retention": None}
    as_conv = analyze(_exp({k: v for k, v in conv.items() if v is not None}), sums)
    same = as_conv.comparison("d7", "variant-a")
    assert (same.p_value, same.absolute) == (cmp.p_value, cmp.absolute)
    out = results.metric("d7").to_dict()
    assert out["retention"].startswith("day 7 retention (an event 168-192 h")
    assert out["eligible"] == {"control": c[0], "variant-a": t[0]}
    assert out["stillInWindow"] == {"control": 250, "variant-a": 240}


def test_retention_bayesian_uses_the_beta_binomial_of_eligible_units() -> None:
    """method bayesian: retention takes the conversion's Beta-binomial model with n =
    eligible units: the same posterior as a conversion metric on the same counts."""
    sums = _retention_sums({"control": (900, 300), "variant-a": (950, 350)}, {})
    sums = ExperimentSums({"control": 1000.0, "variant-a": 1000.0}, sums.metrics, "", 1)
    ret = analyze(_exp(RETENTION, method="bayesian"), sums).comparison("d7", "variant-a")
    conv = analyze(
        _exp({"name": "d7", "type": "conversion", "event": "visit"}, method="bayesian"), sums
    ).comparison("d7", "variant-a")
    assert ret.bayesian is not None and conv.bayesian is not None
    assert ret.bayesian.prior == conv.bayesian.prior
    assert "beta" in ret.bayesian.prior.lower()
    assert ret.bayesian.chance_to_beat_control == conv.bayesian.chance_to_beat_control


def test_new_types_are_refused_in_cluster_and_switchback_analysis() -> None:
    """A definition that reached the engine with a cluster design (the definition rules refuse
    it first) gets an unestimable comparison with the design's reason, as quantile metrics."""
    base = _exp(TTE)
    designs: list[dict[str, object]] = [
        {"type": "cluster", "analysisUnit": "userId"},
        {"type": "switchback", "periodSeconds": 3600, "burnInSeconds": 300},
    ]
    for design in designs:
        raw = base.model_dump(by_alias=True, exclude_none=True)
        raw["design"] = design
        if design["type"] == "cluster":
            raw["assignment"]["hashKey"] = "accountId"
        for metric, words in ((TTE, "time-to-event"), (RETENTION, "retention metrics")):
            raw["metrics"]["primary"] = metric
            exp = Experiment.model_validate(raw, context={"skip_checks": True})
            arms = {v: ArmSums(10.0, 1.0, 1.0) for v in VARIANTS}
            sums = ExperimentSums(dict.fromkeys(VARIANTS, 10.0), {str(metric["name"]): arms})
            cmp = analyze(exp, sums).comparison(str(metric["name"]), "variant-a")
            assert not cmp.estimable and cmp.reason is not None and words in cmp.reason
