"""Retention and time-to-event statistics against published figures and independent
references that the first tests did not cover: the Kaplan-Meier and Greenwood table of a
textbook data set, the SRM of a retention experiment (all exposed units, not the eligible
ones), the Beta-binomial posterior over eligible units by numerical integration (scipy), and
the sign of a time-to-event comparison."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time
from scipy import integrate, stats

from splitlab.config import Experiment
from splitlab.stats import ArmSums, ExperimentSums, analyze
from splitlab.stats import time_to_event_metric as tte
from splitlab.stats.survival import kaplan_meier, rmst
from splitlab.stats.survival_table import SurvivalTable
from tests.stats.helpers import experiment
from tests.stats.survival_ref import hand_rmst_var

VARIANTS = ["control", "variant-a"]

# Freireich et al. (1963), the 6-MP arm (remission in weeks; 0 = still in remission, censored),
# as printed in Klein & Moeschberger (2003), Survival Analysis, 2nd ed., section 1.2.
SIX_MP_TIMES = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
SIX_MP_EVENT = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
# Klein & Moeschberger (2003), Table 4.1A: the product-limit estimate and its Greenwood
# standard error at each relapse time, to 3 decimals: (time, at risk, relapses, S, SE).
# The same S values are in Kleinbaum & Klein, Survival Analysis: A Self-Learning Text, ch. 2.
SIX_MP_PUBLISHED = [
    (6, 21, 3, 0.857, 0.076),
    (7, 17, 1, 0.807, 0.087),
    (10, 15, 1, 0.753, 0.096),
    (13, 12, 1, 0.690, 0.107),
    (16, 11, 1, 0.627, 0.114),
    (22, 7, 1, 0.538, 0.128),
    (23, 6, 1, 0.448, 0.135),
]


def _six_mp() -> SurvivalTable:
    return SurvivalTable.from_durations(SIX_MP_TIMES, [bool(e) for e in SIX_MP_EVENT])


def test_kaplan_meier_and_greenwood_equal_the_published_6mp_table() -> None:
    """At risk, relapses, S and Greenwood's SE equal the published table to its 3 decimals."""
    km = kaplan_meier(_six_mp())
    columns = zip(km.times, km.at_risk, km.events, km.survival, km.variance, strict=True)
    rows = {t: (n, d, s, v) for t, n, d, s, v in columns if d}
    assert sorted(rows) == [row[0] for row in SIX_MP_PUBLISHED]
    for time, n, d, s, se in SIX_MP_PUBLISHED:
        got_n, got_d, got_s, got_v = rows[time]
        assert (got_n, got_d) == (n, d), time
        assert round(got_s, 3) == s, time
        assert round(math.sqrt(got_v), 3) == se, time


def test_rmst_of_the_6mp_arm_by_hand_and_lifelines() -> None:
    """RMST up to 23 weeks of the 6-MP arm, the step areas added by hand from the published
    S values at full precision (6 x 1 + 1 x 18/21 + 3 x S(7) + 3 x S(10) + 3 x S(13) +
    6 x S(16) + 1 x S(22)), equal to lifelines' restricted_mean_survival_time; the variance
    equals the independent loop of Klein & Moeschberger (2003) eq. 4.5.2. At tau = 23 the
    last step (the relapse at 23) has A = 0 and adds nothing."""
    s6 = 18 / 21
    s7 = s6 * 16 / 17
    s10 = s7 * 14 / 15
    s13 = s10 * 11 / 12
    s16 = s13 * 10 / 11
    s22 = s16 * 6 / 7
    by_hand = 6 + 1 * s6 + 3 * s7 + 3 * s10 + 3 * s13 + 6 * s16 + 1 * s22
    r = rmst(_six_mp(), 23.0)
    assert r.estimate == pytest.approx(by_hand, rel=1e-12)
    kmf = KaplanMeierFitter().fit(SIX_MP_TIMES, event_observed=SIX_MP_EVENT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert r.estimate == pytest.approx(restricted_mean_survival_time(kmf, t=23.0), abs=1e-9)
    seen = [bool(e) for e in SIX_MP_EVENT]
    times = [float(t) for t in SIX_MP_TIMES]
    assert r.variance == pytest.approx(hand_rmst_var(times, seen, 23.0), rel=1e-12)
    # Beyond tau the relapse at 23 no longer matters to the estimate up to 22.5.
    assert rmst(_six_mp(), 22.5).estimate == pytest.approx(by_hand - 0.5 * s22, rel=1e-12)


def _retention_exp(**evaluation: object) -> Experiment:
    ev: dict[str, object] = {"sequential": {"method": "none"}, "correction": "none"}
    ev.update(evaluation)
    return experiment(
        variants=VARIANTS,
        metrics={
            "primary": {"name": "d7", "type": "retention", "retention": {"day": 7}},
            "secondary": [],
            "guardrails": [],
        },
        evaluation=ev,
    )


def test_retention_srm_counts_every_exposed_unit_not_the_eligible_ones() -> None:
    """Eligibility depends on when units entered, not on the arm: the SRM test is on the
    exposed units. Exposed 5,000 / 5,000 with eligible 3,000 / 2,600 (as when a variant's
    traffic ramped later) is no SRM (p = 1, scipy's chisquare on the exposed counts); exposed
    5,000 / 4,600 with eligible 3,000 / 3,000 is one (scipy: p < 1e-4)."""
    balanced = ExperimentSums(
        {"control": 5000.0, "variant-a": 5000.0},
        {"d7": {"control": ArmSums(3000, 900, 900), "variant-a": ArmSums(2600, 800, 800)}},
    )
    srm = analyze(_retention_exp(), balanced).srm
    assert srm.p_value == pytest.approx(stats.chisquare([5000, 5000]).pvalue)
    assert not srm.detected
    skewed = ExperimentSums(
        {"control": 5000.0, "variant-a": 4600.0},
        {"d7": {"control": ArmSums(3000, 900, 900), "variant-a": ArmSums(3000, 900, 900)}},
    )
    srm = analyze(_retention_exp(), skewed).srm
    expected = stats.chisquare([5000, 4600], [4800, 4800]).pvalue
    assert expected < 1e-4
    assert srm.p_value == pytest.approx(expected, rel=1e-9)
    assert srm.detected


def test_retention_bayesian_posterior_is_over_eligible_units() -> None:
    """The chance to beat control is P(p_t > p_c) for independent Beta(1 + retained,
    1 + eligible - retained) posteriors, by scipy's quad of f_t(x) F_c(x): eligible 900 and
    950 units (1,000 exposed in each arm) give one figure; the exposed counts would give
    another, far from it."""
    sums = ExperimentSums(
        {"control": 1000.0, "variant-a": 1000.0},
        {"d7": {"control": ArmSums(900, 300, 300), "variant-a": ArmSums(950, 350, 350)}},
    )
    b = analyze(_retention_exp(method="bayesian"), sums).comparison("d7", "variant-a").bayesian
    assert b is not None

    def chance(n_c: int, n_t: int) -> float:
        post_c, post_t = stats.beta(301, 1 + n_c - 300), stats.beta(351, 1 + n_t - 350)
        value, _ = integrate.quad(lambda x: post_t.pdf(x) * post_c.cdf(x), 0, 1, limit=200)
        return float(value)

    assert b.chance_to_beat_control == pytest.approx(chance(900, 950), abs=1e-6)
    assert abs(chance(1000, 1000) - chance(900, 950)) > 0.01


def test_time_to_event_sign_follows_direction() -> None:
    """The comparison is RMST(variant) - RMST(control): the same data judged "better" when the
    metric's direction is increase (later event is good) and "worse" when decrease (sooner
    event is good); the guardrail's harm is the difference in the unwanted direction."""
    rng = np.random.default_rng(12)
    tables = {}
    for arm, mean in (("control", 30.0), ("variant-a", 45.0)):
        t = rng.exponential(mean, 1500)
        seen = t <= 48.0
        tables[arm] = SurvivalTable.from_durations(
            np.minimum(t, 48.0).round(1).tolist(), seen.tolist()
        )
    arms = {v: ArmSums(tables[v].units, 0.0, 0.0, survival=tables[v]) for v in VARIANTS}
    sums = ExperimentSums(dict.fromkeys(VARIANTS, 1500.0), {"ttx": arms})
    base = {"name": "ttx", "type": "time_to_event", "horizonHours": 48}
    want = {"increase": "better", "decrease": "worse"}
    for direction, verdict in want.items():
        exp = experiment(
            variants=VARIANTS,
            metrics={
                "primary": {**base, "direction": direction},
                "secondary": [],
                "guardrails": [],
            },
            evaluation={"sequential": {"method": "none"}, "correction": "none"},
        )
        c = analyze(exp, sums).comparison("ttx", "variant-a")
        assert c.absolute is not None and c.absolute.estimate > 5.0  # a later event
        assert c.significant and c.direction == verdict, (direction, c.direction)
    guard = experiment(
        variants=VARIANTS,
        metrics={
            "primary": {"name": "conv", "type": "conversion"},
            "secondary": [],
            "guardrails": [{**base, "threshold": 1.0}],  # guardrails default to decrease
        },
        evaluation={"sequential": {"method": "none"}},
    )
    conv = {v: ArmSums(1500.0, 150.0, 150.0) for v in VARIANTS}
    g = analyze(guard, ExperimentSums(sums.units, {**sums.metrics, "conv": conv}))
    check = g.comparison("ttx", "variant-a").guardrail
    assert check is not None and check.harm is not None
    # direction decrease: harm = variant - control = the (positive) RMST increase.
    assert check.harm.estimate == pytest.approx(
        g.comparison("ttx", "variant-a").absolute.estimate  # type: ignore[union-attr]
    )
    assert check.verdict == "breached"


def test_thin_tail_note_when_few_units_were_followed_to_the_horizon() -> None:
    """Fewer than 10 units of an arm followed for the whole horizon, others censored before it,
    the curve above 0: the comparison carries a note (its SE is too small: the A/A rejection
    rate was 8.7 % at alpha 5 % in bench/event_timing_sequential.py). With 10 followed, with
    no censoring before the horizon, or with the curve at 0, no note."""
    metric = experiment(
        variants=VARIANTS,
        metrics={
            "primary": {"name": "t", "type": "time_to_event", "horizonHours": 24},
            "secondary": [],
            "guardrails": [],
        },
    ).metrics.primary

    def arm(followed: int, early_censored: int, early_events: int = 20) -> ArmSums:
        durations = [float(i % 20 + 1) for i in range(early_events)]
        seen = [True] * early_events
        durations += [5.0] * early_censored + [24.0] * followed
        seen += [False] * (early_censored + followed)
        table = SurvivalTable.from_durations(durations, seen)
        return ArmSums(table.units, 0.0, 0.0, survival=table)

    plenty = arm(40, 5)
    d, reason, notes = tte.estimate(metric, arm(4, 30), plenty, 0.05)
    assert d is not None and reason is None
    assert any("only 4 unit(s) of control followed for the whole 24 h" in n for n in notes)
    for control in (arm(10, 30), arm(4, 0)):
        _, _, notes = tte.estimate(metric, control, plenty, 0.05)
        assert not any("followed for the whole" in n for n in notes), notes
    dead = SurvivalTable.from_durations([1.0, 2.0, 3.0, 4.0], [True, False, True, True])
    assert tte.thin_tail("control", dead, 24.0) is None  # S = 0 from 4 h: no tail to rest on
