"""Mann-Whitney on grouped data against scipy.stats.mannwhitneyu and numpy by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from splitlab.stats.mannwhitney import (
    MannWhitney,
    mann_whitney,
    mann_whitney_shifted,
    shift_interval,
    stratified_mann_whitney,
)
from splitlab.stats.sketch import Sketch


def _grouped(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, counts = np.unique(a, return_counts=True)
    return values, counts


def _fixtures() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(20261204)
    return [
        ("continuous", rng.lognormal(0.0, 1.0, 57), rng.lognormal(0.3, 1.0, 81)),
        (
            "heavy ties",
            rng.integers(0, 5, 200).astype(float),
            rng.integers(1, 6, 150).astype(float),
        ),
        (
            "zeros and ties",
            np.repeat([0.0, 1.0, 2.5], [40, 7, 3]),
            np.repeat([0.0, 2.5, 9.0], [30, 12, 5]),
        ),
        ("small", np.array([1.0, 2.0, 2.0, 7.0]), np.array([2.0, 3.0, 5.0])),
        ("negative", rng.normal(-1.0, 2.0, 90).round(1), rng.normal(-0.5, 2.0, 70).round(1)),
    ]


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
@pytest.mark.parametrize("use_continuity", [True, False])
@pytest.mark.parametrize("name,x,y", _fixtures(), ids=[f[0] for f in _fixtures()])
def test_grouped_equals_scipy_asymptotic(
    name: str, x: np.ndarray, y: np.ndarray, use_continuity: bool, alternative: str
) -> None:
    """Grouped input gives scipy's U and p-value (reference: scipy.stats.mannwhitneyu with
    method="asymptotic" on the raw values)."""
    ref = sps.mannwhitneyu(
        x, y, method="asymptotic", use_continuity=use_continuity, alternative=alternative
    )
    got = mann_whitney(
        *_grouped(x),
        *_grouped(y),
        use_continuity=use_continuity,
        alternative=alternative,  # type: ignore[arg-type]
    )
    assert got.u == pytest.approx(ref.statistic, rel=1e-12, abs=1e-9)
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-12)
    assert got.mean == len(x) * len(y) / 2
    assert (got.n_x, got.n_y) == (len(x), len(y))
    # raw data is the special case of counts 1 (duplicated values stay separate rows)
    raw = mann_whitney(
        x,
        np.ones(len(x)),
        y,
        np.ones(len(y)),
        use_continuity=use_continuity,
        alternative=alternative,  # type: ignore[arg-type]
    )
    assert raw.u == pytest.approx(got.u, rel=1e-12)
    assert raw.p_value == pytest.approx(got.p_value, rel=1e-12, abs=1e-15)


def test_variance_is_the_tie_corrected_formula_by_hand() -> None:
    """Var U = n m / 12 ((N + 1) - sum(t^3 - t) / (N (N - 1))) computed with numpy from the
    pooled tie groups (Lehmann 1975, "Nonparametrics", eq. 1.50)."""
    x = np.repeat([1.0, 2.0, 3.0], [5, 9, 2])
    y = np.repeat([2.0, 3.0, 4.0], [4, 6, 8])
    _, t = np.unique(np.concatenate([x, y]), return_counts=True)
    n, m = len(x), len(y)
    big = n + m
    by_hand = n * m / 12 * ((big + 1) - np.sum(t**3 - t) / (big * (big - 1)))
    got = mann_whitney(*_grouped(x), *_grouped(y))
    assert got.variance == pytest.approx(by_hand, rel=1e-14)
    # U by brute force over all pairs
    pairs = np.sign(x[:, None] - y[None, :])
    assert got.u == np.sum(pairs > 0) + 0.5 * np.sum(pairs == 0)
    assert got.z < 0  # x tends to be smaller


def test_sketch_distinct_values_feed_the_test() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.lognormal(0, 1, 2000), rng.lognormal(0.1, 1, 3000)
    sa, sb = Sketch.from_values(a), Sketch.from_values(b)
    got = mann_whitney(*sa.distinct(), *sb.distinct())
    # reference: scipy on the bucketed values (every value replaced by its bucket's value)
    ra = np.repeat(*sa.distinct())
    rb = np.repeat(*sb.distinct())
    ref = sps.mannwhitneyu(ra, rb, method="asymptotic")
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_all_tied_and_empty_arms() -> None:
    same = mann_whitney([5.0], [10], [5.0], [7])
    assert same.variance == 0 and same.p_value == 1.0 and same.z == 0.0
    with pytest.raises(ValueError, match="both arms need values"):
        mann_whitney([1.0], [0], [2.0], [3])
    with pytest.raises(ValueError, match="alternative"):
        mann_whitney([1.0], [1], [2.0], [1], alternative="bigger")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="same length"):
        mann_whitney([1.0, 2.0], [1], [2.0], [1])
    with pytest.raises(ValueError, match="counts must be finite"):
        mann_whitney([1.0], [-1], [2.0], [1])


def _strata(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for n, m, shift in [(30, 45, 0.2), (300, 280, 0.1), (12, 9, 0.5), (80, 120, 0.0)]:
        out.append((rng.lognormal(shift, 1, n).round(1), rng.lognormal(0, 1, m).round(1)))
    return out


@pytest.mark.parametrize("weights", ["van_elteren", "equal"])
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_stratified_equals_numpy_by_hand(weights: str, alternative: str) -> None:
    """Z = sum w_k (U_k - E_k) / sqrt(sum w_k^2 Var_k), van Elteren (1960) weights
    1 / (n_k + m_k + 1); U_k from scipy, Var_k from the tie formula with numpy."""
    strata = _strata(11)
    w, dev, var = [], [], []
    for x, y in strata:
        n, m = len(x), len(y)
        u = sps.mannwhitneyu(x, y, method="asymptotic").statistic
        _, t = np.unique(np.concatenate([x, y]), return_counts=True)
        big = n + m
        var.append(n * m / 12 * ((big + 1) - np.sum(t**3 - t) / (big * (big - 1))))
        dev.append(u - n * m / 2)
        w.append(1 / (big + 1) if weights == "van_elteren" else 1.0)
    z = np.sum(np.multiply(w, dev)) / math.sqrt(np.sum(np.square(w) * np.array(var)))
    p = {
        "two-sided": 2 * sps.norm.sf(abs(z)),
        "greater": sps.norm.sf(z),
        "less": sps.norm.cdf(z),
    }[alternative]
    got = stratified_mann_whitney(
        [(*_grouped(x), *_grouped(y)) for x, y in strata],
        weights=weights,  # type: ignore[arg-type]
        alternative=alternative,  # type: ignore[arg-type]
    )
    assert got.z == pytest.approx(z, rel=1e-10)
    assert got.p_value == pytest.approx(p, rel=1e-9)
    assert got.weights == pytest.approx(w, rel=1e-15)
    # precomputed strata give the same result
    again = stratified_mann_whitney(
        [mann_whitney(*_grouped(x), *_grouped(y)) for x, y in strata],
        weights=weights,  # type: ignore[arg-type]
        alternative=alternative,  # type: ignore[arg-type]
    )
    assert again.z == pytest.approx(got.z, rel=1e-14)


@pytest.mark.parametrize("use_continuity", [True, False])
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_one_stratum_equals_scipy(use_continuity: bool, alternative: str) -> None:
    x, y = _strata(5)[0]
    ref = sps.mannwhitneyu(
        x, y, method="asymptotic", use_continuity=use_continuity, alternative=alternative
    )
    got = stratified_mann_whitney(
        [(*_grouped(x), *_grouped(y))],
        use_continuity=use_continuity,
        alternative=alternative,  # type: ignore[arg-type]
    )
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_stratified_skips_empty_strata_and_refuses_none() -> None:
    x, y = _strata(2)[1]
    one = stratified_mann_whitney([(*_grouped(x), *_grouped(y)), ([], [], [1.0], [3])])
    assert len(one.strata) == 1
    with pytest.raises(ValueError, match="no stratum"):
        stratified_mann_whitney([([], [], [1.0], [3])])
    with pytest.raises(ValueError, match="weights"):
        stratified_mann_whitney([(*_grouped(x), *_grouped(y))], weights="size")  # type: ignore[arg-type]
    skipped = MannWhitney(0.0, 0.0, 0.0, 0.0, 1.0, 0, 5)
    assert len(stratified_mann_whitney([skipped, one.strata[0]]).strata) == 1


@pytest.mark.parametrize(
    "scale,shift", [("relative", 0.07), ("relative", -0.2), ("absolute", 0.35)]
)
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_shifted_equals_scipy_on_shifted_raw_values(
    scale: str, shift: float, alternative: str
) -> None:
    rng = np.random.default_rng(8)
    x, y = rng.lognormal(0.1, 1, 400).round(2), rng.lognormal(0, 1, 500).round(2)
    moved = y * (1 + shift) if scale == "relative" else y + shift
    ref = sps.mannwhitneyu(x, moved, method="asymptotic", alternative=alternative)
    got = mann_whitney_shifted(
        *_grouped(x),
        *_grouped(y),
        shift,
        scale=scale,
        alternative=alternative,  # type: ignore[arg-type]
    )
    assert got.u == pytest.approx(ref.statistic, rel=1e-12)
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_shift_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="relative shift must be > -1"):
        mann_whitney_shifted([1.0], [1], [1.0], [1], -1.0)
    with pytest.raises(ValueError, match="values >= 0"):
        mann_whitney_shifted([1.0], [1], [-1.0], [1], 0.1)
    with pytest.raises(ValueError, match="scale"):
        mann_whitney_shifted([1.0], [1], [1.0], [1], 0.1, scale="log")  # type: ignore[arg-type]


def test_absolute_shift_interval_is_the_pairwise_difference_order_statistics() -> None:
    """The test inversion equals the classical Hodges-Lehmann interval from the sorted
    pairwise differences D (Lehmann 1975, sec. 2.6): with c = nm/2 + 1/2 + z sd,
    lower = D_(nm - floor(c)) and upper = D_(nm - ceil(nm - c) + 1) (1-based), and the
    estimate is the median of D."""
    rng = np.random.default_rng(13)
    x, y = rng.normal(0.4, 1, 60), rng.normal(0, 1, 75)
    d = np.sort((x[:, None] - y[None, :]).ravel())
    n, m = len(x), len(y)
    sd = math.sqrt(n * m * (n + m + 1) / 12)
    z = sps.norm.ppf(0.975)
    c = n * m / 2 + 0.5 + z * sd
    c2 = n * m / 2 - 0.5 - z * sd
    got = shift_interval(x, np.ones(n), y, np.ones(m), scale="absolute", alpha=0.05)
    assert got.lower == pytest.approx(d[n * m - math.floor(c) - 1], abs=1e-8)
    assert got.upper == pytest.approx(d[n * m - math.ceil(c2)], abs=1e-8)
    assert got.estimate == pytest.approx(np.median(d), abs=1e-8)


def test_relative_shift_interval_contains_the_hodges_lehmann_ratio() -> None:
    rng = np.random.default_rng(21)
    x, y = rng.lognormal(0.2, 1, 300), rng.lognormal(0, 1, 350)
    got = shift_interval(x, np.ones(300), y, np.ones(350), scale="relative", alpha=0.1)
    ratios = np.sort(np.log(x[:, None] / y[None, :]).ravel())
    assert got.estimate == pytest.approx(math.expm1(float(np.median(ratios))), abs=1e-8)
    assert got.lower < got.estimate < got.upper
    # the bounds are where the two-sided test switches between rejecting and not
    for bound, inside in [(got.lower, 1e-6), (got.upper, -1e-6)]:
        inner = mann_whitney_shifted(x, np.ones(300), y, np.ones(350), bound + inside)
        outer = mann_whitney_shifted(x, np.ones(300), y, np.ones(350), bound - inside)
        assert inner.p_value >= 0.1 > outer.p_value


def test_shift_interval_unbounded_with_too_little_data() -> None:
    got = shift_interval([2.0], [1], [1.0], [1], scale="relative")
    assert got.lower == -1.0 and got.upper == math.inf
    got = shift_interval([2.0], [1], [1.0], [1], scale="absolute")
    assert got.lower == -math.inf and got.upper == math.inf
