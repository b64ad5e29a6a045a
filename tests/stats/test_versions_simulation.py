"""Simulation: a sticky experiment's weights change 50/50 -> 20/80 with no true effect, while
later cohorts have a higher baseline (a time trend).

Per run, each cohort's split is binomial under its version's weights and each arm's metric is
normal, so its sufficient statistics are drawn exactly (mean ~ N(mu, s^2/n), (n - 1) S^2 /
s^2 ~ chi-square(n - 1), independent), vectorised over the runs; the analysis itself is the
engine's (:func:`splitlab.stats.analyze` with and without the versions). Bands: 3 Monte Carlo
standard errors, ``sqrt(p (1 - p) / runs)``, around the nominal rate.
"""

from __future__ import annotations

import math

import numpy as np

from splitlab.stats import analyze, srm
from splitlab.stats.sums import ArmSums, ExperimentSums, SliceSums
from splitlab.stats.versions import srm_by_version, version_slice
from tests.stats.test_versions import ARMS, V2, sticky

RUNS = 2000
COHORT = 1000  # units first exposed under each version
BASE = (10.0, 11.0)  # the cohorts' baseline means (the trend); no effect in either
SD = 5.0
SEED = 20261204


def _band(p: float) -> float:
    return 3.0 * math.sqrt(p * (1.0 - p) / RUNS)


def _draw(
    rng: np.random.Generator, effect: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n, sum, sum of squares per (run, version, arm), shape (RUNS, 2, 2); the treatment's
    mean is the cohort's baseline plus `effect`."""
    share_t = np.array([V2[k].weights["treatment"] for k in range(2)])
    n_t = rng.binomial(COHORT, share_t, size=(RUNS, 2)).astype(float)
    n = np.stack([COHORT - n_t, n_t], axis=2)
    mu = np.array(BASE)[None, :, None] + np.array([0.0, effect])[None, None, :]
    mean = rng.normal(mu, SD / np.sqrt(n))
    var = SD**2 * rng.chisquare(n - 1) / (n - 1)
    return n, n * mean, (n - 1) * var + n * mean**2


def test_pooled_is_biased_stratified_keeps_alpha_and_srm_per_version_is_calibrated() -> None:
    n, s, ss = _draw(np.random.default_rng(SEED))
    exp = sticky()
    alpha = exp.evaluation.alpha
    pooled_rejects = strat_rejects = srm_version = srm_current = 0
    strat_estimates, pooled_estimates = [], []
    for r in range(RUNS):
        parts = []
        for k in range(2):
            arms = {a: ArmSums(n[r, k, j], s[r, k, j], ss[r, k, j]) for j, a in enumerate(ARMS)}
            parts.append(SliceSums({a: arms[a].n for a in ARMS}, {"revenue": arms}))
        total = parts[0] + parts[1]
        segments = {version_slice(k): p for k, p in enumerate(parts)}
        sums = ExperimentSums(total.units, total.metrics, "exp-stats", 1, segments)
        pooled = analyze(exp, sums, 1).metrics[0].comparisons[0]
        strat = analyze(exp, sums, 1, versions=V2).metrics[0].comparisons[0]
        assert pooled.absolute is not None and strat.absolute is not None
        pooled_estimates.append(pooled.absolute.estimate)
        strat_estimates.append(strat.absolute.estimate)
        pooled_rejects += bool(pooled.p_value is not None and pooled.p_value < alpha)
        strat_rejects += bool(strat.p_value is not None and strat.p_value < alpha)
        units = [dict(p.units) for p in parts]
        by_version = srm_by_version(V2, units, ARMS, 0.01)
        current = srm.check(total.units, ARMS, [0.2, 0.8], 0.01)
        srm_version += by_version.detected
        srm_current += current.detected
    # The stratified estimator keeps its type-I error at alpha (within 3 MC SE) ...
    assert abs(strat_rejects / RUNS - alpha) <= _band(alpha), strat_rejects / RUNS
    # ... and is unbiased: its mean within 3 MC SE of 0 ...
    est = np.array(strat_estimates)
    assert abs(est.mean()) <= 3 * est.std(ddof=1) / math.sqrt(RUNS)
    # ... while the pooled one is biased towards the later cohort's arm: expected bias
    # E[mean_t] - E[mean_c] with the cohorts mixed 500:800 and 500:200, here 0.335 (to
    # first order: the arms' sizes are random, the ratio's expectation differs by O(1/n)).
    mix_t = (0.5 * BASE[0] + 0.8 * BASE[1]) / 1.3
    mix_c = (0.5 * BASE[0] + 0.2 * BASE[1]) / 0.7
    pooled = np.array(pooled_estimates)
    assert abs(pooled.mean() - (mix_t - mix_c)) <= 3 * pooled.std(ddof=1) / math.sqrt(RUNS)
    assert pooled_rejects / RUNS > alpha + 10 * _band(alpha), pooled_rejects / RUNS
    # SRM per version: rejects at 0.01 within 3 MC SE; against the current weights: always.
    assert abs(srm_version / RUNS - 0.01) <= _band(0.01), srm_version / RUNS
    assert srm_current / RUNS > 0.99
    print(
        f"\nstratified FPR {strat_rejects / RUNS:.4f} (band {_band(alpha):.4f}), pooled FPR "
        f"{pooled_rejects / RUNS:.4f}, pooled mean {pooled.mean():.4f}, stratified mean "
        f"{est.mean():.4f}, SRM per version {srm_version / RUNS:.4f} (band {_band(0.01):.4f}), "
        f"SRM current weights {srm_current / RUNS:.4f}"
    )


def test_intervals_of_a_true_effect_cover_at_their_level() -> None:
    """A true effect of +3 in both cohorts (baselines 10 and 11, equal cohorts, so the
    stratified estimands are 3 and 3 / 10.5): the absolute and the relative (delta method)
    95% intervals cover them in 95% of the runs within 3 Monte Carlo SE, and the reported SE
    matches the estimates' spread. The relative interval needs the covariance of the combined
    difference with the combined control mean (sum_v W_v^2 Cov_v): dropping it would cover
    about 91%, flipping its sign about 83%, both outside the band."""
    effect = 3.0
    n, s, ss = _draw(np.random.default_rng(SEED + 1), effect)
    exp = sticky()
    true_rel = effect / (0.5 * BASE[0] + 0.5 * BASE[1])  # W_v = 1/2: equal cohorts
    cover_abs = cover_rel = 0
    estimates, half_widths = [], []
    q = 1.959963984540054  # scipy.stats.norm.ppf(0.975); Welch df here are in the hundreds
    for r in range(RUNS):
        parts = []
        for k in range(2):
            arms = {a: ArmSums(n[r, k, j], s[r, k, j], ss[r, k, j]) for j, a in enumerate(ARMS)}
            parts.append(SliceSums({a: arms[a].n for a in ARMS}, {"revenue": arms}))
        total = parts[0] + parts[1]
        segments = {version_slice(k): p for k, p in enumerate(parts)}
        sums = ExperimentSums(total.units, total.metrics, "exp-stats", 1, segments)
        (c,) = analyze(exp, sums, 1, versions=V2).metrics[0].comparisons
        assert c.absolute is not None and c.relative is not None
        cover_abs += c.absolute.lower <= effect <= c.absolute.upper
        cover_rel += c.relative.lower <= true_rel <= c.relative.upper
        estimates.append(c.absolute.estimate)
        half_widths.append((c.absolute.upper - c.absolute.lower) / 2)
    level = 0.95
    assert abs(cover_abs / RUNS - level) <= _band(level), cover_abs / RUNS
    assert abs(cover_rel / RUNS - level) <= _band(level), cover_rel / RUNS
    # The mean reported SE against the estimates' standard deviation: within 3 MC SE of
    # the SD (its SE is about SD / sqrt(2 (RUNS - 1)) for normal estimates).
    est = np.array(estimates)
    sd = est.std(ddof=1)
    se = float(np.mean(half_widths)) / q
    assert abs(se - sd) <= 3 * sd / math.sqrt(2 * (RUNS - 1)), (se, sd)
    assert abs(est.mean() - effect) <= 3 * sd / math.sqrt(RUNS)
    print(
        f"\nabsolute coverage {cover_abs / RUNS:.4f}, relative coverage {cover_rel / RUNS:.4f}"
        f" (band {_band(level):.4f}); mean SE {se:.4f} vs SD of estimates {sd:.4f}"
    )
