"""Mann-Whitney U on grouped data: plain, stratified (van Elteren) and shifted.

Every function takes each arm as *distinct values with counts* (for instance
:meth:`splitlab.stats.sketch.Sketch.distinct`, or raw data with counts 1), so the cost is
``O(k log k)`` in the number ``k`` of distinct values, never ``O(n m)`` in the pairs.

**The test** (Mann & Whitney 1947, with the normal approximation and tie correction of
Lehmann 1975, "Nonparametrics", ch. 1): with ``n`` values in ``x`` and ``m`` in ``y``,
``U = #{(i, j): x_i > y_j} + #{(i, j): x_i = y_j} / 2``, ``E[U] = n m / 2`` and::

    Var U = n m / 12 * ((N + 1) - sum_t (t^3 - t) / (N (N - 1))),   N = n + m,

summing over groups of ``t`` tied values in the pooled sample. ``z = (U - E U) / sd``, with
the continuity correction of 1/2 toward the mean and the p-value as in
``scipy.stats.mannwhitneyu(method="asymptotic")``: ``"greater"`` tests ``x`` stochastically
larger than ``y`` (uses ``U``), ``"less"`` smaller (uses ``n m - U``), ``"two-sided"`` uses
the larger of the two and doubles the one-sided p-value (clipped to 1).

**Stratified** (van Elteren 1960, "On the combination of independent two-sample tests of
Wilcoxon", Bull. Int. Stat. Inst. 37): for independent strata ``k`` (for instance analysis
intervals) with their own ``U_k, E_k, Var_k``, ``Z = sum w_k (U_k - E_k) / sqrt(sum w_k^2
Var_k)``. Van Elteren's weights ``w_k = 1 / (n_k + m_k + 1)`` (the locally most powerful
choice for a common shift: the rank-sum statistic divided by ``N_k + 1`` so that each stratum
counts as a comparison of mean *relative* ranks) or equal weights ``w_k = 1`` (the sum of the
U statistics, which favours large strata).

**Shifted** (the canary's non-inferiority check): ``x`` against ``y`` moved by ``d``, either
``y (1 + d)`` (relative, for data >= 0) or ``y + d`` (absolute). The shifted ``y`` values are
new distinct values and are merged with ``x`` exactly (ties only where the floating-point
values are equal). ``U(d)`` never increases with ``d``, so the shifts not rejected by the
two-sided test at level ``alpha`` form an interval, found by bisection (test inversion as for
the Hodges-Lehmann estimator: Hodges & Lehmann 1963, "Estimates of location based on rank
tests", Ann. Math. Stat. 34; Lehmann 1975, sec. 2.6); the point estimate is the shift where
``U(d)`` crosses ``n m / 2`` (the Hodges-Lehmann estimate: the median of the pairwise
``x_i / y_j - 1`` or ``x_i - y_j``, up to the grouping).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

Alternative = Literal["two-sided", "greater", "less"]
ShiftScale = Literal["relative", "absolute"]
_ALTERNATIVES = ("two-sided", "greater", "less")


@dataclass(frozen=True, slots=True)
class MannWhitney:
    """One Mann-Whitney comparison of ``x`` against ``y``.

    ``u``: U of x (pairs x > y plus half the ties); ``mean``: ``n m / 2``; ``variance``: the
    tie-corrected variance of U; ``z``: the standardised statistic of the chosen alternative,
    signed as U of x (positive when x tends to be larger), continuity-corrected toward the mean
    when asked; ``p_value``: as scipy's asymptotic test; ``n_x``, ``n_y``: the arms' counts.
    """

    u: float
    mean: float
    variance: float
    z: float
    p_value: float
    n_x: int = 0
    n_y: int = 0


@dataclass(frozen=True, slots=True)
class StratifiedMannWhitney:
    """The weighted combination over strata: ``statistic = sum w_k (U_k - E_k)``."""

    statistic: float
    variance: float
    z: float
    p_value: float
    weights: tuple[float, ...]
    strata: tuple[MannWhitney, ...]


@dataclass(frozen=True, slots=True)
class ShiftInterval:
    """The shift estimate with the two-sided ``1 - alpha`` interval of shifts not rejected.

    Bounds are ``-inf`` / ``inf`` (``-1`` for a relative lower bound) when even the most
    extreme shift is not rejected (too little data)."""

    estimate: float
    lower: float
    upper: float
    scale: ShiftScale
    alpha: float


def _grouped(values: ArrayLike, counts: ArrayLike, where: str) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(values, dtype=float).ravel()
    c = np.asarray(counts, dtype=float).ravel()
    if v.shape != c.shape:
        raise ValueError(
            f"{where}: values and counts must have the same length (got {v.size} and {c.size})"
        )
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{where}: values must be finite numbers")
    if not np.all(np.isfinite(c)) or np.any(c < 0):
        raise ValueError(f"{where}: counts must be finite and >= 0")
    keep = c > 0
    return v[keep], c[keep]


def _u_statistic(
    xv: np.ndarray, xc: np.ndarray, yv: np.ndarray, yc: np.ndarray
) -> tuple[float, float, float, float]:
    """(U of x, n, m, sum over tie groups of t^3 - t) by one merge of the distinct values."""
    pooled, inverse = np.unique(np.concatenate([xv, yv]), return_inverse=True)
    cx = np.bincount(inverse[: xv.size], weights=xc, minlength=pooled.size)
    cy = np.bincount(inverse[xv.size :], weights=yc, minlength=pooled.size)
    below_y = np.cumsum(cy) - cy  # y values strictly below each pooled value
    u = float(np.sum(cx * (below_y + 0.5 * cy)))
    t = cx + cy
    return u, float(cx.sum()), float(cy.sum()), float(np.sum(t**3 - t))


def _variance(n: float, m: float, ties: float) -> float:
    big_n = n + m
    if big_n < 2:
        return 0.0
    return n * m / 12.0 * ((big_n + 1.0) - ties / (big_n * (big_n - 1.0)))


def _test(
    u: float, n: float, m: float, variance: float, use_continuity: bool, alternative: str
) -> tuple[float, float]:
    """(signed z, p-value) exactly as scipy.stats.mannwhitneyu(method="asymptotic")."""
    mean = n * m / 2.0
    cc = 0.5 if use_continuity else 0.0
    if variance <= 0.0:
        return 0.0, 1.0  # every value tied: no evidence either way
    sd = math.sqrt(variance)
    if alternative == "greater":
        z = (u - mean - cc) / sd
        return z, float(min(1.0, special.ndtr(-z)))
    if alternative == "less":
        z = (u - mean + cc) / sd
        return z, float(min(1.0, special.ndtr(z)))
    big = max(u, n * m - u)
    p = float(min(1.0, 2.0 * special.ndtr(-(big - mean - cc) / sd)))
    return math.copysign(max(abs(u - mean) - cc, 0.0) / sd, u - mean), p


def _check_alternative(alternative: str) -> None:
    if alternative not in _ALTERNATIVES:
        raise ValueError(
            f"alternative: expected one of {', '.join(_ALTERNATIVES)} (got {alternative!r})"
        )


def mann_whitney(
    x_values: ArrayLike,
    x_counts: ArrayLike,
    y_values: ArrayLike,
    y_counts: ArrayLike,
    *,
    use_continuity: bool = True,
    alternative: Alternative = "two-sided",
) -> MannWhitney:
    """The Mann-Whitney U test of ``x`` against ``y`` on grouped data (see the module doc).

    Raises ValueError when an arm is empty or the input is malformed."""
    _check_alternative(alternative)
    xv, xc = _grouped(x_values, x_counts, "x")
    yv, yc = _grouped(y_values, y_counts, "y")
    u, n, m, ties = _u_statistic(xv, xc, yv, yc)
    if n == 0 or m == 0:
        raise ValueError(f"mann_whitney: both arms need values (got n_x={n:g}, n_y={m:g})")
    variance = _variance(n, m, ties)
    z, p = _test(u, n, m, variance, use_continuity, alternative)
    return MannWhitney(u, n * m / 2.0, variance, z, p, round(n), round(m))


def stratified_mann_whitney(
    strata: Sequence[MannWhitney | tuple[ArrayLike, ArrayLike, ArrayLike, ArrayLike]],
    *,
    weights: Literal["van_elteren", "equal"] = "van_elteren",
    use_continuity: bool = False,
    alternative: Alternative = "two-sided",
) -> StratifiedMannWhitney:
    """Combine independent strata (each a :class:`MannWhitney` or ``(x_values, x_counts,
    y_values, y_counts)``) into one test (see the module doc).

    Strata where an arm has no value are skipped (they carry no comparison). With
    ``use_continuity`` the weighted statistic is moved toward its mean by half the smallest
    weight (so that one stratum gives scipy's corrected test); off by default, since the
    weighted sum lives on no common lattice.
    """
    _check_alternative(alternative)
    if weights not in ("van_elteren", "equal"):
        raise ValueError(f"weights: expected 'van_elteren' or 'equal' (got {weights!r})")
    results: list[MannWhitney] = []
    for k, stratum in enumerate(strata):
        if isinstance(stratum, MannWhitney):
            if stratum.n_x > 0 and stratum.n_y > 0:
                results.append(stratum)
            continue
        xv, xc = _grouped(stratum[0], stratum[1], f"strata[{k}].x")
        yv, yc = _grouped(stratum[2], stratum[3], f"strata[{k}].y")
        if xc.sum() > 0 and yc.sum() > 0:
            results.append(mann_whitney(xv, xc, yv, yc))
    if not results:
        raise ValueError("stratified_mann_whitney: no stratum has values in both arms")
    w = np.array(
        [1.0 / (r.n_x + r.n_y + 1.0) if weights == "van_elteren" else 1.0 for r in results]
    )
    dev = np.array([r.u - r.mean for r in results])
    var = np.array([r.variance for r in results])
    statistic = float(np.sum(w * dev))
    variance = float(np.sum(w**2 * var))
    z, p = _weighted_test(statistic, variance, float(w.min()) * 0.5, use_continuity, alternative)
    return StratifiedMannWhitney(
        statistic, variance, z, p, tuple(float(x) for x in w), tuple(results)
    )


def _weighted_test(
    statistic: float, variance: float, half_step: float, use_continuity: bool, alternative: str
) -> tuple[float, float]:
    if variance <= 0.0:
        return 0.0, 1.0
    sd = math.sqrt(variance)
    cc = half_step if use_continuity else 0.0
    if alternative == "greater":
        z = (statistic - cc) / sd
        return z, float(special.ndtr(-z))
    if alternative == "less":
        z = (statistic + cc) / sd
        return z, float(special.ndtr(z))
    z_abs = (abs(statistic) - cc) / sd
    return math.copysign(z_abs, statistic), float(min(1.0, 2.0 * special.ndtr(-z_abs)))


def _shift_values(yv: np.ndarray, shift: float, scale: str) -> np.ndarray:
    if scale == "relative":
        return yv * (1.0 + shift)
    return yv + shift


def _check_shift(yv: np.ndarray, shift: float, scale: str) -> None:
    if scale not in ("relative", "absolute"):
        raise ValueError(f"scale: expected 'relative' or 'absolute' (got {scale!r})")
    if not math.isfinite(shift):
        raise ValueError(f"shift: expected a finite number (got {shift!r})")
    if scale == "relative":
        if shift <= -1.0:
            raise ValueError(f"shift: a relative shift must be > -1 (got {shift!r})")
        if yv.size and float(yv.min()) < 0.0:
            raise ValueError("y: a relative shift needs values >= 0 (got a negative value)")


def mann_whitney_shifted(
    x_values: ArrayLike,
    x_counts: ArrayLike,
    y_values: ArrayLike,
    y_counts: ArrayLike,
    shift: float,
    *,
    scale: ShiftScale = "relative",
    use_continuity: bool = True,
    alternative: Alternative = "two-sided",
) -> MannWhitney:
    """Mann-Whitney of ``x`` against ``y (1 + shift)`` (relative) or ``y + shift`` (absolute).

    For a canary whose bad direction is an increase with tolerance ``t``: ``x`` = canary,
    ``y`` = baseline, ``shift = t``, ``alternative="greater"`` tests "the canary is larger
    than the baseline made worse by the tolerance" (a small p-value = inferior beyond the
    tolerance), and ``alternative="less"`` tests non-inferiority (a small p-value = the canary
    is within the tolerance)."""
    yv, yc = _grouped(y_values, y_counts, "y")
    _check_shift(yv, shift, scale)
    return mann_whitney(
        x_values,
        x_counts,
        _shift_values(yv, shift, scale),
        yc,
        use_continuity=use_continuity,
        alternative=alternative,
    )


def shift_interval(
    x_values: ArrayLike,
    x_counts: ArrayLike,
    y_values: ArrayLike,
    y_counts: ArrayLike,
    *,
    scale: ShiftScale = "relative",
    alpha: float = 0.05,
    use_continuity: bool = True,
    tolerance: float = 1e-10,
) -> ShiftInterval:
    """The shift ``d`` with ``x ~ y (1 + d)`` (or ``y + d``): Hodges-Lehmann estimate and the
    ``1 - alpha`` interval of shifts the two-sided test does not reject (module doc).

    Bisection on the monotone ``U(d)`` (relative shifts are searched on ``log(1 + d)``) to a
    bracket width of ``tolerance`` (relative to the data's scale)."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha: expected a number in (0, 1) (got {alpha!r})")
    xv, xc = _grouped(x_values, x_counts, "x")
    yv, yc = _grouped(y_values, y_counts, "y")
    _check_shift(yv, 0.0, scale)
    n, m = float(xc.sum()), float(yc.sum())
    if n == 0 or m == 0:
        raise ValueError(f"shift_interval: both arms need values (got n_x={n:g}, n_y={m:g})")
    if scale == "relative":
        if float(xv.min()) <= 0.0 or float(yv.min()) <= 0.0:
            raise ValueError("shift_interval: a relative shift needs values > 0 in both arms")
        # t = log(1 + d); y e^t crosses every x between these bounds
        lo = math.log(float(xv.min())) - math.log(float(yv.max()))
        hi = math.log(float(xv.max())) - math.log(float(yv.min()))
        to_shift = math.expm1
    else:
        lo = float(xv.min() - yv.max())
        hi = float(xv.max() - yv.min())
        to_shift = float
    margin = max(1e-9 * max(abs(lo), abs(hi), 1.0), 1e-12)
    lo, hi = lo - margin, hi + margin
    step = tolerance * max(hi - lo, 1e-300)

    def u_of(t: float) -> MannWhitney:
        shifted = yv * math.exp(t) if scale == "relative" else yv + t
        return mann_whitney(xv, xc, shifted, yc, use_continuity=use_continuity)

    mean = n * m / 2.0
    # U(t) decreases in t: the estimate is where it crosses n m / 2
    estimate = 0.5 * (
        bisect_boundary(lambda t: u_of(t).u > mean, lo, hi, step)
        + bisect_boundary(lambda t: u_of(t).u >= mean, lo, hi, step)
    )

    def rejected_low(t: float) -> bool:  # x still clearly above the shifted y
        r = u_of(t)
        return r.u > r.mean and r.p_value < alpha

    def not_rejected_high(t: float) -> bool:
        r = u_of(t)
        return not (r.u < r.mean and r.p_value < alpha)

    lower_t = bisect_boundary(rejected_low, lo, estimate, step) if rejected_low(lo) else -math.inf
    upper_t = (
        bisect_boundary(not_rejected_high, estimate, hi, step)
        if not not_rejected_high(hi)
        else (math.inf)
    )
    lower = -1.0 if (scale == "relative" and lower_t == -math.inf) else to_shift(lower_t)
    return ShiftInterval(to_shift(estimate), lower, to_shift(upper_t), scale, alpha)


def bisect_boundary(holds: Callable[[float], bool], lo: float, hi: float, step: float) -> float:
    """The boundary of a predicate that holds up to it and fails after it, on ``[lo, hi]``,
    to within ``step`` (at most 200 halvings)."""
    if not holds(lo):
        return lo
    if holds(hi):
        return hi
    for _ in range(200):
        if hi - lo <= step:
            break
        mid = 0.5 * (lo + hi)
        if holds(mid):
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
