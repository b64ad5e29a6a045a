"""Kaplan-Meier, Greenwood and the RMST of survival tables, against lifelines'
KaplanMeierFitter and restricted_mean_survival_time, against plain-Python hand computations
of Greenwood's and the Greenwood-type RMST variance, and against a bootstrap of units."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time

from splitlab.stats.survival import follow_up_short, kaplan_meier, km_curve, rmst
from splitlab.stats.survival_table import SurvivalTable
from tests.stats.survival_ref import hand_km as _hand_km
from tests.stats.survival_ref import hand_rmst_var as _hand_rmst_var


def _data(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Exponential event times (mean 30 h) censored by uniform follow-up (0-60 h) and at a
    horizon of 48 h, rounded to whole hours: heavy censoring (about half the units) and many
    ties of events with events and with censorings."""
    rng = np.random.default_rng(seed)
    event = rng.exponential(30.0, n)
    follow = np.minimum(rng.uniform(0.0, 60.0, n), 48.0)
    t = np.round(np.minimum(event, follow))
    seen = event <= follow
    return t, seen


def _table(t: np.ndarray, seen: np.ndarray) -> SurvivalTable:
    return SurvivalTable.from_durations(t.tolist(), seen.tolist())


def _kmf(t: np.ndarray, seen: np.ndarray) -> KaplanMeierFitter:
    return KaplanMeierFitter().fit(t, event_observed=seen)


SEEDS = [1, 2, 3, 4, 5]


@pytest.mark.parametrize("seed", SEEDS)
def test_kaplan_meier_equals_lifelines(seed: int) -> None:
    """S(t) and the number at risk at every time equal lifelines' KaplanMeierFitter (its
    survival_function_ and event_table) to 1e-6; Greenwood's variance equals the hand loop."""
    t, seen = _data(seed)
    km = kaplan_meier(_table(t, seen))
    kmf = _kmf(t, seen)
    sf = kmf.survival_function_.iloc[:, 0]
    table = kmf.event_table
    assert km.times == tuple(sorted(set(t.tolist())))
    assert sum(km.events) == seen.sum()
    for time, n, d, s in zip(km.times, km.at_risk, km.events, km.survival, strict=True):
        assert s == pytest.approx(sf.loc[time], abs=1e-6)
        assert n == table.loc[time, "at_risk"]
        assert d == table.loc[time, "observed"]
    hand = _hand_km(t.tolist(), seen.tolist())
    for time, v, s in zip(km.times, km.variance, km.survival, strict=True):
        assert s == pytest.approx(hand[time][2], abs=1e-12)
        assert v == pytest.approx(hand[time][3], rel=1e-9, abs=1e-15)


def test_greenwood_matches_lifelines_cumulative_sum() -> None:
    """lifelines keeps sum d / (n (n - d)) (the basis of its confidence interval) as
    ``_cumulative_sq_``; Greenwood's variance is S^2 times it."""
    t, seen = _data(11)
    km = kaplan_meier(_table(t, seen))
    acc = _kmf(t, seen)._cumulative_sq_
    for time, s, v in zip(km.times, km.survival, km.variance, strict=True):
        assert v == pytest.approx(s * s * acc.loc[time], rel=1e-9, abs=1e-15)


def test_ties_events_before_censorings() -> None:
    """Times 1, 2 (event and censoring tied), 2, 3: at 2 the censored unit is still at risk,
    so S(2) = (3/4) (1 - 1/3) = 0.5 (lifelines gives the same)."""
    t = np.array([1.0, 2.0, 2.0, 3.0])
    seen = np.array([True, True, False, True])
    km = kaplan_meier(_table(t, seen))
    assert km.at_risk == (4.0, 3.0, 1.0)
    assert km.survival == pytest.approx((0.75, 0.5, 0.0))
    assert km.variance[-1] == 0.0  # S = 0 after the last unit's event
    assert _kmf(t, seen).survival_function_.loc[2.0].iloc[0] == pytest.approx(0.5)


TAUS = [5.0, 17.5, 33.3, 48.0, 70.0]  # between event times, at the last time, beyond it


@pytest.mark.parametrize("seed", SEEDS)
def test_rmst_equals_lifelines_and_hand_variance(seed: int) -> None:
    """The RMST equals lifelines.utils.restricted_mean_survival_time(kmf, t=tau) to 1e-6 for
    tau between event times, at the longest duration and beyond it; its variance equals the
    hand-coded Greenwood-type sum (Klein & Moeschberger 2003, eq. 4.5.2)."""
    t, seen = _data(seed)
    table = _table(t, seen)
    kmf = _kmf(t, seen)
    for tau in TAUS:
        r = rmst(table, tau)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = restricted_mean_survival_time(kmf, t=tau)
        assert r.estimate == pytest.approx(expected, abs=1e-6), tau
        assert r.variance == pytest.approx(
            _hand_rmst_var(t.tolist(), seen.tolist(), tau), rel=1e-9
        ), tau


def test_rmst_small_cases_by_hand() -> None:
    """Units 1 (event), 2 (event), 2 (censored), 3 (event), tau 4: S = 1 on [0,1), 3/4 on
    [1,2), 1/2 on [2,3), 0 after 3: area 1 + 0.75 + 0.5 = 2.25. A at 1: 0.75 + 0.5 = 1.25,
    at 2: 0.5, at 3: 0 (n = d: dropped). Var = 1.25^2 / (4 * 3) + 0.5^2 / (3 * 2)."""
    table = SurvivalTable.from_durations([1, 2, 2, 3], [True, True, False, True])
    r = rmst(table, 4.0)
    assert r.estimate == pytest.approx(2.25)
    assert r.variance == pytest.approx(1.25**2 / 12 + 0.25 / 6)
    # No events at all: the area is tau and there is no variance.
    none = rmst(SurvivalTable.from_durations([5, 7], [False, False]), 7.0)
    assert (none.estimate, none.variance) == (7.0, 0.0)
    # Events at 0 count from the start: S(0) = 1/2.
    zero = rmst(SurvivalTable.from_durations([0, 2], [True, False]), 2.0)
    assert zero.estimate == pytest.approx(1.0)


def test_rmst_refuses_bad_horizon_and_empty_table() -> None:
    table = SurvivalTable.from_durations([1.0], [True])
    for tau in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="RMST horizon"):
            rmst(table, tau)
    with pytest.raises(ValueError, match="empty"):
        rmst(SurvivalTable((), (), ()), 1.0)


def _bootstrap_rmst_sd(t: np.ndarray, seen: np.ndarray, tau: float, b: int, seed: int) -> float:
    """Standard deviation of the RMST over b bootstrap resamples of units, vectorised: each
    resample is a multinomial count per unit, the KM of each resample from weighted counts at
    the distinct times (numpy only, independent of splitlab.stats.survival)."""
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(t), np.full(len(t), 1.0 / len(t)), size=b).astype(float)
    times, idx = np.unique(t, return_inverse=True)
    k = len(times)
    ev = np.zeros((b, k))
    all_ = np.zeros((b, k))
    np.add.at(ev.T, idx[seen], weights[:, seen].T)
    np.add.at(all_.T, idx, weights.T)
    at_risk = np.cumsum(all_[:, ::-1], axis=1)[:, ::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(at_risk > 0, 1.0 - ev / at_risk, 1.0)
    s = np.cumprod(factor, axis=1)
    inside = times <= tau
    edges = np.append(times[inside], tau)
    widths = np.diff(edges)
    area = times[inside][0] + (s[:, inside] * widths).sum(axis=1)
    return float(area.std(ddof=1))


@pytest.mark.parametrize("seed,tau", [(21, 24.0), (22, 40.0)])
def test_rmst_standard_error_matches_bootstrap(seed: int, tau: float) -> None:
    """The Greenwood-type standard error is within 10 % of a 2,000-resample bootstrap of
    units. The bootstrap's own Monte Carlo error on a standard deviation is about
    1/sqrt(2 (B - 1)) = 1.6 % relative for B = 2,000, so 10 % is over 6 of its standard
    errors, leaving room for the O(1/n) difference between the two at n = 400."""
    t, seen = _data(seed, n=400)
    se = math.sqrt(rmst(_table(t, seen), tau).variance)
    boot = _bootstrap_rmst_sd(t, seen, tau, 2000, seed)
    assert se == pytest.approx(boot, rel=0.10), (se, boot)


def test_follow_up_short() -> None:
    table = SurvivalTable.from_durations([1, 2, 3], [True, False, False])
    assert follow_up_short(table, 5.0)  # longest follow-up 3 h, S still 2/3
    assert not follow_up_short(table, 3.0)
    dead = SurvivalTable.from_durations([1, 2], [True, True])
    assert not follow_up_short(dead, 5.0)  # S reached 0: nothing to extrapolate
    assert follow_up_short(SurvivalTable((), (), ()), 1.0)


def test_km_curve_points_and_thinning() -> None:
    table = SurvivalTable.from_durations([1, 2, 2, 3, 6], [True, True, False, True, False])
    km = kaplan_meier(table)
    points = km_curve(table, 5.0)
    s = dict(zip(km.times, km.survival, strict=True))
    assert points == [(0.0, 1.0), (1.0, s[1.0]), (2.0, s[2.0]), (3.0, s[3.0]), (5.0, s[3.0])]
    # The curve stops at the longest follow-up when it is shorter than tau.
    assert km_curve(table, 100.0)[-1] == (6.0, s[6.0])
    assert km_curve(SurvivalTable((), (), ()), 5.0) == []
    # Events at 0: the first point is S(0).
    assert km_curve(SurvivalTable.from_durations([0, 1], [True, False]), 1.0)[0] == (0.0, 0.5)
    t, seen = _data(3, n=3000)
    big = _table(t * 7.3, seen)
    full = km_curve(big, 400.0, max_points=10_000)
    thin = km_curve(big, 400.0, max_points=20)
    assert len(full) > 20 and len(thin) == 20
    assert thin[0] == full[0] and thin[-1] == full[-1]
    assert all(p in full for p in thin)
    with pytest.raises(ValueError, match="max_points"):
        km_curve(big, 400.0, max_points=1)


def test_without_censoring_the_variance_is_that_of_the_capped_times_over_n() -> None:
    """No censoring before tau: KM is the empirical distribution, the RMST is the mean of
    min(T, tau) and the Greenwood-type variance equals numpy's var(min(T, tau)) / n (divisor
    n). lifelines' return_variance gives the variance of min(T, tau) under the KM curve (the
    spread of one unit's capped time, which does not shrink with n); under censoring that
    divided by n is not the estimator's variance, which is why splitlab does not use it."""
    rng = np.random.default_rng(31)
    t = np.round(rng.exponential(30.0, 500))
    x, seen = np.minimum(t, 40.0), t <= 40.0
    r = rmst(_table(x, seen), 40.0)
    assert r.estimate == pytest.approx(x.mean(), rel=1e-12)
    assert r.variance == pytest.approx(x.var() / x.size, rel=1e-9)
    # Heavy censoring: lifelines' variance over n understates the estimator's variance, which
    # a 2,000-resample bootstrap of units measures (its Monte Carlo error on a variance is
    # about sqrt(2 / 1999) = 3.2 % relative): lifelines' over n is more than 10 % below it.
    tc, sc = _data(32, n=500)
    censored = rmst(_table(tc, sc), 40.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, lv = restricted_mean_survival_time(_kmf(tc, sc), t=40.0, return_variance=True)
    boot_var = _bootstrap_rmst_sd(tc, sc, 40.0, 2000, 32) ** 2
    assert lv / tc.size < 0.9 * boot_var, (lv / tc.size, boot_var)
    assert censored.variance == pytest.approx(boot_var, rel=0.12), (censored.variance, boot_var)
