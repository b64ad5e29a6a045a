"""The mann_whitney and quantile kinds of a canary metric, from the intervals' sketches.

* **mann_whitney**: the canary against the baseline *shifted by a hypothesised change* ``d``
  (``y (1 + d)`` for a relative tolerance, ``y + d`` for an absolute one), each interval a
  stratum of van Elteren's combination (:func:`splitlab.stats.mannwhitney.
  stratified_mann_whitney`, van Elteren 1960): ``Z(d) = sum w_k (U_k(d) - E_k) / sqrt(sum
  w_k^2 Var_k)``. ``Z(d)`` never increases with ``d``; the effect shown is the location shift,
  the ``d`` where ``Z`` crosses 0, with the test-inversion interval ``{d : |Z(d)| < c}`` (found
  by bisection). Comparing the interval's bounds with the tolerance ``t`` is the same as
  reading ``Z`` at ``t`` (for a bad increase, fail when ``Z(t) > c``, pass when ``Z(t) < -c``;
  :func:`mw_code`), which the simulations use to skip the bisection.
* **quantile**: the quantiles of the merged sketches of the step's intervals, and their
  difference (absolute) or ratio - 1 (relative) with the interval of
  :func:`splitlab.stats.quantile.quantile_difference` at the sequence's nominal level. That
  interval rests on the order statistics at ranks ``n p -+ c sqrt(n p (1 - p))``; while one
  of them falls outside the data (too few values beyond the quantile, e.g. fewer than about
  ``c^2`` above a p99), it would be clamped to the extreme value and be too narrow, so the
  metric stays marginal. With the arms' clustered sums (per-unit counts at the step
  quantile's bucket) the rank half-widths carry the design effect of events grouped in units
  (:func:`splitlab.stats.quantile.design_effect`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from splitlab.stats import canary_boundary as cb
from splitlab.stats.mannwhitney import (
    MannWhitney,
    ShiftScale,
    bisect_boundary,
    mann_whitney_shifted,
    stratified_mann_whitney,
)
from splitlab.stats.quantile import ClusteredSums, quantile_difference
from splitlab.stats.sketch import Sketch

Strata = Sequence[tuple[Sketch, Sketch]]  # (baseline, canary) per interval


def strata_of(pairs: Sequence[tuple[Sketch | None, Sketch | None]]) -> list[tuple[Sketch, Sketch]]:
    """The intervals with values in both arms (the others carry no comparison)."""
    return [(b, c) for b, c in pairs if b is not None and c is not None and b.count and c.count]


def effective_n(strata: Strata) -> float:
    """``sum_k n_k m_k / (n_k + m_k)`` over the strata."""
    return float(sum(float(cb.effective_n(b.count, c.count)) for b, c in strata))


Grouped = list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


def grouped(strata: Strata) -> Grouped:
    """Per interval the distinct values and counts: (baseline values, counts, canary ...)."""
    return [(*b.distinct(), *c.distinct()) for b, c in strata]


def shifted_strata(strata: Grouped, shift: float, relative: bool) -> list[MannWhitney]:
    """Per interval: the canary against the baseline moved by ``shift``."""
    scale: ShiftScale = "relative" if relative else "absolute"
    return [mann_whitney_shifted(cv, cc, bv, bc, shift, scale=scale) for bv, bc, cv, cc in strata]


def z_at(strata: Grouped, shift: float, relative: bool) -> float:
    """Van Elteren's stratified z of the canary against the shifted baseline."""
    return stratified_mann_whitney(shifted_strata(strata, shift, relative)).z


def mw_problem(strata: Strata, relative: bool, tolerance: float, bad_direction: str) -> str | None:
    if not strata:
        return "no interval has events in both arms yet"
    if relative:
        if bad_direction == "decrease" and tolerance >= 1:
            return (
                "a relative tolerance of 1 or more on a decrease allows any drop: use an "
                "absolute tolerance"
            )
        if any(s.negative or s.zeros for b, c in strata for s in (b, c)):
            return "a relative shift needs values > 0 (use an absolute tolerance)"
    values = {v for b, c in strata for s in (b, c) for v in s.distinct()[0].tolist()}
    if len(values) < 2:
        return "no variation yet: every value is the same in both arms"
    return None


def mw_effect(strata: Strata, relative: bool, c: float) -> tuple[float, float, float]:
    """(estimate, lower, upper) of the shift by stratified test inversion at critical ``c``."""
    groups = grouped(strata)
    xs = [float(v) for g in groups for v in (g[2].min(), g[2].max())]
    ys = [float(v) for g in groups for v in (g[0].min(), g[0].max())]
    if relative:
        lo = math.log(min(xs)) - math.log(max(ys))
        hi = math.log(max(xs)) - math.log(min(ys))
        to_shift: Callable[[float], float] = math.expm1
    else:
        lo, hi = min(xs) - max(ys), max(xs) - min(ys)
        to_shift = float
    margin = 1e-9 * max(abs(lo), abs(hi), 1.0)
    lo, hi = lo - margin, hi + margin

    def z(t: float) -> float:
        return z_at(groups, to_shift(t), relative)

    # 48 halvings of the searched range: a few 1e-14 of it.
    step = (hi - lo) / 2.0**48

    def root(holds: Callable[[float], bool]) -> float:
        return bisect_boundary(holds, lo, hi, step)

    estimate = root(lambda t: z(t) > 0)
    lower = root(lambda t: z(t) >= c) if z(lo) >= c else -math.inf
    upper = root(lambda t: z(t) > -c) if z(hi) <= -c else math.inf
    lower_shift = -1.0 if relative and lower == -math.inf else to_shift(lower)
    return to_shift(estimate), lower_shift, to_shift(upper)


def mw_code(z_tolerance: float, c: float, bad_direction: str) -> int:
    """FAIL -1 / MARGINAL 0 / PASS 1 from Z at the (signed) tolerance."""
    if bad_direction == "increase":
        return -1 if z_tolerance > c else 1 if z_tolerance < -c else 0
    return -1 if z_tolerance < -c else 1 if z_tolerance > c else 0


def merged(sketches: Sequence[Sketch]) -> Sketch:
    total = Sketch()
    for s in sketches:
        total = total + s
    return total


def median(sketch: Sketch) -> float:
    return sketch.quantile(0.5)


def quantile_effect(
    baseline: Sketch,
    canary: Sketch,
    p: float,
    relative: bool,
    c: float,
    *,
    clustered: tuple[ClusteredSums | None, ClusteredSums | None] = (None, None),
) -> tuple[float, float, float, float, float] | str:
    """(estimate, lower, upper, baseline quantile, canary quantile), or why not.

    ``clustered``: each arm's per-unit counts at its quantile's bucket over the step; they
    widen the interval by the design effect of events grouped within units."""
    level = float(cb.nominal_level(c))
    if not level > 0:
        return "too few events for the interval's level yet"
    diff = quantile_difference(
        baseline,
        canary,
        p,
        level,
        control_clustered=clustered[0],
        treatment_clustered=clustered[1],
    )
    for arm, role in ((diff.control, "baseline"), (diff.treatment, "canary")):
        if arm.rank_lower < 0.0 or arm.rank_upper > arm.n - 1.0:
            return (
                f"too few events in the {role} arm for the {p:g}-quantile's interval at this "
                f"level: its ranks {arm.rank_lower:.1f} to {arm.rank_upper:.1f} reach beyond "
                f"the {arm.n} values"
            )
    b, k = diff.control.estimate, diff.treatment.estimate
    if not relative:
        return diff.estimate, diff.lower, diff.upper, b, k
    if diff.relative is None or diff.relative_lower is None or diff.relative_upper is None:
        return (
            f"the baseline's quantile is {b:g}: a relative tolerance needs positive quantiles "
            "(use an absolute tolerance)"
        )
    return diff.relative, diff.relative_lower, diff.relative_upper, b, k


def quantile_problem(baseline: Sketch, canary: Sketch) -> str | None:
    if baseline.count == 0:
        return "no events in the baseline arm yet"
    if canary.count == 0:
        return "no events in the canary arm yet"
    values = np.concatenate([baseline.distinct()[0], canary.distinct()[0]])
    if np.unique(values).size < 2:
        return "no variation yet: every value is the same in both arms"
    return None
