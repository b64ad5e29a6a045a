"""Quantile intervals from sketches: coverage by simulation, the clustered correction and
the two-arm difference, checked against numpy by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special
from scipy import stats as sps

from splitlab.stats.quantile import (
    ClusteredSums,
    clustered_sums,
    design_effect,
    quantile_bucket,
    quantile_difference,
    quantile_estimate,
    quantile_interval,
)
from splitlab.stats.sketch import LOG_GAMMA, Sketch, bucket_key

RUNS = 2000
# 3 Monte Carlo standard errors of a 95 % coverage over RUNS runs
BAND = 3 * math.sqrt(0.95 * 0.05 / RUNS)


def _lognormal_sketches(rng: np.random.Generator, n: int, sigma: float = 1.0) -> list[Sketch]:
    """RUNS sketches of n lognormal(0, sigma) values, drawn as multinomial counts over the
    exact bucket probabilities (the lognormal CDF at the bucket bounds): distributed exactly
    like the sketch of n iid draws."""
    keys = np.arange(math.ceil(-9 * sigma / LOG_GAMMA), math.ceil(9 * sigma / LOG_GAMMA) + 1)
    cdf = special.ndtr(keys * LOG_GAMMA / sigma)
    prob = np.diff(np.concatenate([[0.0], cdf]))
    prob[-1] += 1.0 - prob.sum()
    draws = rng.multinomial(n, prob, size=RUNS)
    out = []
    for row in draws:
        nz = np.nonzero(row)[0]
        out.append(Sketch(0, dict(zip(keys[nz].tolist(), row[nz].tolist(), strict=True)), {}))
    return out


@pytest.mark.parametrize("n,seed", [(1000, 1), (100_000, 2)])
def test_interval_coverage_lognormal(n: int, seed: int) -> None:
    """The 95 % interval covers the true lognormal quantile exp(Phi^-1(p)) in 95 % +- 3 s.e.
    of 2,000 runs, for p in {0.5, 0.95, 0.99}; the buckets' representative values alone do
    not (their coverage falls as n grows: checked at n = 100,000)."""
    sketches = _lognormal_sketches(np.random.default_rng(seed), n)
    for p in (0.5, 0.95, 0.99):
        truth = math.exp(special.ndtri(p))
        covered = [0, 0]
        for s in sketches:
            q = quantile_estimate(s, p, 0.05)
            covered[0] += q.lower <= truth <= q.upper
            naive = (s.value_at_rank(q.rank_lower), s.value_at_rank(q.rank_upper))
            covered[1] += naive[0] <= truth <= naive[1]
        coverage = covered[0] / RUNS
        assert abs(coverage - 0.95) < BAND, (n, p, coverage)
        if n == 100_000 and p == 0.95:
            assert covered[1] / RUNS < 0.95 - BAND  # without the within-bucket location


def test_interval_on_raw_values_brackets_the_order_statistics() -> None:
    """The bounds lie between the exact order statistics around the fractional ranks
    n p - 1/2 -+ z sqrt(n p (1 - p)) (Deng, Knoblich & Lu 2018, sec. 4.2), computed by hand,
    up to the sketch's resolution (a bucket spans 2 %)."""
    rng = np.random.default_rng(4)
    x = np.sort(rng.lognormal(3, 1, 500))
    n, p, z = len(x), 0.9, sps.norm.ppf(0.975)
    half = z * math.sqrt(n * p * (1 - p))
    est, lo, hi = quantile_interval(Sketch.from_values(x), p, 0.05)
    for bound, rank in [(lo, n * p - 0.5 - half), (hi, n * p - 0.5 + half)]:
        assert x[math.floor(rank)] / 1.021 <= bound <= x[math.ceil(rank)] * 1.021
    assert lo < est < hi
    assert est == pytest.approx(np.quantile(x, p), rel=0.021)


def test_negative_and_zero_values() -> None:
    rng = np.random.default_rng(6)
    x = np.concatenate([-rng.lognormal(0, 1, 3000), np.zeros(500), rng.lognormal(0, 1, 1000)])
    s = Sketch.from_values(x)
    for p in (0.1, 0.5, 0.7, 0.9):
        est, lo, hi = quantile_interval(s, p)
        assert lo <= est <= hi
        assert est == pytest.approx(np.quantile(x, p), rel=0.03, abs=1e-12)
    assert quantile_interval(s, 0.72) == (0.0, 0.0, 0.0)
    assert quantile_bucket(s, 0.7) == (0, 0)
    assert quantile_bucket(s, 0.1)[0] == -1 and quantile_bucket(s, 0.9)[0] == 1


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="no value"):
        quantile_interval(Sketch(), 0.5)
    with pytest.raises(ValueError, match="quantile: expected a number in"):
        quantile_interval(Sketch.from_values([1.0]), 1.0)
    with pytest.raises(ValueError, match="alpha"):
        quantile_interval(Sketch.from_values([1.0]), 0.5, 0.0)
    with pytest.raises(ValueError, match=r"clustered.sSq: expected a finite number"):
        ClusteredSums.from_dict({"units": 1, "n": 1, "nSq": 1, "s": 1, "sN": 1})


def _clustered_events(
    rng: np.random.Generator, units: int, per_unit: int, unit_sd: float, event_sd: float
) -> tuple[np.ndarray, np.ndarray]:
    effect = rng.normal(0.0, unit_sd, units)
    values = np.exp(np.repeat(effect, per_unit) + rng.normal(0.0, event_sd, units * per_unit))
    return values, np.repeat(np.arange(units), per_unit)


def test_design_effect_is_the_delta_method_by_hand() -> None:
    """Var(sum S / sum N) by the delta method (Deng, Knoblich & Lu 2018, eq. for a ratio of
    means) computed from per-unit arrays with numpy, over the binomial variance."""
    rng = np.random.default_rng(9)
    values, units = _clustered_events(rng, 400, 6, 1.0, 0.5)
    units = units[rng.random(units.size) < 0.8]  # unequal events per unit
    values = values[: units.size]
    sketch = Sketch.from_values(values)
    bucket = quantile_bucket(sketch, 0.9)
    c = clustered_sums(values, units, bucket)
    below = np.array([bucket_key(v) <= bucket[1] for v in values], dtype=float)
    s_u = np.bincount(units, weights=below)
    n_u = np.bincount(units).astype(float)
    keep = n_u > 0
    s_u, n_u = s_u[keep], n_u[keep]
    k = s_u.size
    cov = np.cov(np.vstack([s_u, n_u]))  # ddof 1
    ms, mn = s_u.mean(), n_u.mean()
    var_f = (cov[0, 0] / mn**2 - 2 * ms * cov[0, 1] / mn**3 + ms**2 * cov[1, 1] / mn**4) / k
    f = s_u.sum() / n_u.sum()
    assert c.units == k and c.s == s_u.sum()
    assert design_effect(c) == pytest.approx(var_f / (f * (1 - f) / n_u.sum()), rel=1e-9)
    assert design_effect(c) > 2  # strongly clustered
    assert ClusteredSums.from_dict(c.to_dict()) == c


def test_clustered_correction_restores_coverage() -> None:
    """Several events per unit with a unit random effect: the binomial interval under-covers
    (its events are not independent), the design-effect corrected one covers 95 % +- 3 s.e.
    Per event, log value = unit effect N(0, 1) + noise N(0, 0.5^2), so the events' quantile is
    exp(sqrt(1.25) Phi^-1(p))."""
    rng = np.random.default_rng(31)
    p = 0.9
    truth = math.exp(math.sqrt(1.25) * special.ndtri(p))
    plain = corrected = 0
    for _ in range(RUNS):
        values, units = _clustered_events(rng, 300, 8, 1.0, 0.5)
        sketch = Sketch.from_values(values)
        c = clustered_sums(values, units, quantile_bucket(sketch, p))
        _, lo, hi = quantile_interval(sketch, p)
        plain += lo <= truth <= hi
        _, lo, hi = quantile_interval(sketch, p, clustered=c)
        corrected += lo <= truth <= hi
    assert plain / RUNS < 0.95 - BAND
    assert abs(corrected / RUNS - 0.95) < BAND, corrected / RUNS


def test_difference_matches_the_arms_by_hand() -> None:
    rng = np.random.default_rng(12)
    c = Sketch.from_values(rng.lognormal(0, 1, 5000))
    t = Sketch.from_values(rng.lognormal(0.1, 1, 4000))
    d = quantile_difference(c, t, 0.95, 0.05)
    z = sps.norm.ppf(0.975)
    qc, qt = quantile_estimate(c, 0.95), quantile_estimate(t, 0.95)
    se = math.sqrt(((qc.upper - qc.lower) / (2 * z)) ** 2 + ((qt.upper - qt.lower) / (2 * z)) ** 2)
    assert d.estimate == pytest.approx(qt.estimate - qc.estimate, rel=1e-12)
    assert d.lower == pytest.approx(d.estimate - z * se, rel=1e-12)
    assert d.p_value == pytest.approx(2 * sps.norm.sf(abs(d.estimate) / se), rel=1e-9)
    log_se = math.hypot(
        math.log(qc.upper / qc.lower) / (2 * z), math.log(qt.upper / qt.lower) / (2 * z)
    )
    ratio = qt.estimate / qc.estimate
    assert d.relative == pytest.approx(ratio - 1, rel=1e-12)
    assert d.relative_upper == pytest.approx(ratio * math.exp(z * log_se) - 1, rel=1e-12)
    # negative quantiles have no relative difference
    neg = quantile_difference(Sketch.from_values([-1.0, -2.0]), Sketch.from_values([-3.0]), 0.5)
    assert neg.relative is None


def test_difference_false_positive_rate() -> None:
    """Two arms from one lognormal: the p-value < 0.05 in 5 % +- 3 s.e. of 2,000 runs."""
    rng = np.random.default_rng(17)
    a = _lognormal_sketches(rng, 2000)
    b = _lognormal_sketches(rng, 3000)
    band = 3 * math.sqrt(0.05 * 0.95 / RUNS)
    for p in (0.5, 0.95):
        rate = np.mean(
            [quantile_difference(x, y, p).p_value < 0.05 for x, y in zip(a, b, strict=True)]
        )
        assert abs(rate - 0.05) < band, (p, rate)
