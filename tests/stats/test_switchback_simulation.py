"""Simulations of switchback experiments through the production estimators.

Marketplace: AR(1) demand per region across periods, a daily pattern, a carry-over of the
previous period's variant into the first slot of a period, and a burn-in of two slots (longer
than the carry-over). Bands are 3 Monte Carlo standard errors (a correct method fails by
chance about 1 in 700 runs of the suite).
"""

from __future__ import annotations

import math

import numpy as np

from splitlab.stats.difference import Difference, compare
from splitlab.stats.moments import mean_view
from splitlab.stats.sums import ArmSums
from splitlab.stats.switchback_regression import (
    RegressionFit,
    period_regression,
    regression_difference,
)
from tests.stats.switchback_sim import ar1_demand, ht_runs, marketplace

RUNS = 2000
Z975 = 1.959963984540054  # scipy.stats.norm.ppf(0.975)


def _band(rate: float) -> float:
    return 3.0 * math.sqrt(rate * (1.0 - rate) / RUNS)


def test_ht_interval_covers_the_effect_with_burn_in_and_three_variants() -> None:
    probabilities = (0.5, 0.25, 0.25)
    sim = marketplace(np.random.default_rng(20261204), RUNS, 4, 168, probabilities, lift=0.2)
    diffs = ht_runs(sim.y, sim.variant, probabilities)
    assert all(isinstance(d, Difference) for d in diffs)
    est = np.array([d.estimate for d in diffs if isinstance(d, Difference)])
    se = np.array([d.se for d in diffs if isinstance(d, Difference)])
    covered = np.abs(est - sim.true_effect) <= Z975 * se
    rate = float(covered.mean())
    without = ht_runs(sim.y_all, sim.variant, probabilities)
    est_all = np.array([d.estimate for d in without if isinstance(d, Difference)])
    print(
        f"\nHT 95% coverage with burn-in {rate:.4f}; mean bias {np.mean(est - sim.true_effect):.3f}"
        f" (without burn-in the estimate averages {est_all.mean():.2f} for an effect of "
        f"{np.mean(sim.true_effect) * 6 / 4:.2f} on whole periods)"
    )
    # Conservative: at or above the nominal level (minus 3 Monte Carlo s.e.).
    assert rate >= 0.95 - _band(0.95)
    # Unbiased: the mean error is within 3 s.e. of its own Monte Carlo spread.
    err = est - sim.true_effect
    assert abs(err.mean()) <= 3 * err.std() / math.sqrt(RUNS)


def test_ht_a_a_false_positives_stay_at_alpha_while_the_naive_event_test_does_not() -> None:
    rng = np.random.default_rng(7_2026)
    runs, units, periods, p = RUNS, 4, 96, 0.5
    shock = ar1_demand(rng, runs, units, periods, phi=0.7, sd=0.3)
    treated = rng.random((runs, units, periods)) < p
    # Orders in the kept window of each cell, and their values: the cell's demand shock moves
    # both the number of orders and their mean value (busy hours, bigger baskets).
    orders = rng.poisson(30.0 * np.exp(shock))
    mean_value, sd_value = 20.0 * np.exp(0.5 * shock), 8.0
    # Sum and sum of squares of `orders` normal values per cell, drawn exactly without the
    # events: sum z ~ N(0, n) and sum z^2 = (sum z)^2 / n + chi2(n - 1).
    n = orders.astype(float)
    z_sum = rng.normal(0.0, 1.0, n.shape) * np.sqrt(n)
    z_sq = np.where(n > 0, z_sum**2 / np.maximum(n, 1) + rng.chisquare(np.maximum(n - 1, 1)), 0)
    z_sq = np.where(n > 1, z_sq, z_sum**2)
    revenue = n * mean_value + sd_value * z_sum
    revenue_sq = n * mean_value**2 + 2 * mean_value * sd_value * z_sum + sd_value**2 * z_sq
    variant = treated.astype(np.int64)
    ht = ht_runs(revenue, variant, (1 - p, p))
    ht_reject = np.array([isinstance(d, Difference) and d.p_value < 0.05 for d in ht])
    naive_reject = np.zeros(runs, dtype=bool)
    for r in range(runs):
        arms = []
        for arm in (False, True):
            m = treated[r] == arm
            arms.append(
                mean_view(
                    ArmSums(n[r][m].sum(), revenue[r][m].sum(), revenue_sq[r][m].sum()),
                    binary=False,
                    use_covariate=False,
                )
            )
        naive = compare(arms[0], arms[1], "welch")
        naive_reject[r] = isinstance(naive, Difference) and naive.p_value < 0.05
    ht_rate, naive_rate = float(ht_reject.mean()), float(naive_reject.mean())
    print(
        f"\nA/A false positives at alpha 0.05: HT {ht_rate:.4f}, naive per-event t {naive_rate:.4f}"
    )
    assert ht_rate <= 0.05 + _band(0.05)
    assert naive_rate > 0.05 + 3 * _band(0.05)  # far above alpha: events are not independent


def test_regression_a_a_with_many_units_keeps_its_level() -> None:
    """With 30 units the unit-clustered regression holds alpha (few units would over-reject)."""
    rng = np.random.default_rng(99)
    runs, units, periods = RUNS, 30, 24
    y = 40 * np.exp(ar1_demand(rng, runs, units, periods, 0.7, 0.3) + np.sin(np.arange(periods)))
    treated = (rng.random((runs, units, periods)) < 0.5).astype(float)
    period = np.tile(np.arange(periods), units)
    unit = np.repeat(np.arange(units), periods)
    reject = 0
    for r in range(runs):
        fit = period_regression(y[r].ravel(), treated[r].ravel(), period, unit)
        assert isinstance(fit, RegressionFit)
        d = regression_difference(fit)
        assert isinstance(d, Difference)
        reject += d.p_value < 0.05
    rate = reject / runs
    print(f"\nregression A/A false positives with {units} units: {rate:.4f}")
    assert rate <= 0.05 + _band(0.05)
