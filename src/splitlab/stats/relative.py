"""The relative effect (lift) and its interval: delta method, or Fieller's theorem.

The relative effect is ``estimate / control mean`` where the control mean is control's raw
(unadjusted) mean, also under CUPED: the lift reads as "percent of what control does".

* Delta method, for the ratio a/b of two asymptotically normal estimates:
  ``Var(a/b) ~= Var(a)/b^2 - 2 a Cov(a, b)/b^3 + a^2 Var(b)/b^4``
  (Casella & Berger, Statistical Inference, 5.5.4); Cov(a, b) is not zero, since the
  difference contains control's mean.
* Fieller (1954): the set of rho with ``(a - rho b)^2 <= q^2 Var(a - rho b)`` solves a quadratic;
  it is a bounded interval only when b is itself significantly different from zero
  (``b^2 > q^2 Var(b)``); otherwise the relative effect has no finite interval. At rho = 0 the
  inequality is ``a^2 <= q^2 Var(a)``, so 0 lies in Fieller's interval exactly when the test on
  the difference (same q) does not reject; the delta-method interval has another pivot and can
  disagree with that test near the boundary (docs/statistics.md, "Relative effect").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from splitlab.stats.difference import Difference


@dataclass(frozen=True, slots=True)
class Interval:
    estimate: float
    lower: float
    upper: float


def excludes_zero(i: Interval | None) -> bool:
    """Whether an interval lies entirely on one side of 0 (None, no interval: False)."""
    return i is not None and (i.lower > 0 or i.upper < 0)


def relative_se(d: Difference) -> float | None:
    """Delta-method SE of estimate / control mean; None when the control mean is zero (or so
    close to zero that the lift is not a finite number)."""
    b = d.control_mean
    if b == 0:
        return None
    r = d.estimate / b
    var = d.se * d.se - 2.0 * r * d.cov_estimate_control + r * r * d.var_control_mean
    se = math.sqrt(max(var, 0.0)) / abs(b)
    return se if math.isfinite(se) and math.isfinite(r) else None


def delta_interval(d: Difference, critical: float) -> Interval | None:
    """Relative effect with a symmetric delta-method interval."""
    se = relative_se(d)
    if se is None:
        return None
    rel = d.estimate / d.control_mean
    return Interval(rel, rel - critical * se, rel + critical * se)


def fieller_interval(d: Difference, critical: float) -> Interval | None:
    """Relative effect with Fieller's interval; None when it is unbounded."""
    a, b = d.estimate, d.control_mean
    if b == 0:
        return None
    q2 = critical * critical
    v_aa, v_bb, v_ab = d.se * d.se, d.var_control_mean, d.cov_estimate_control
    big_a = b * b - q2 * v_bb
    if big_a <= 0:
        return None
    big_b = a * b - q2 * v_ab
    big_c = a * a - q2 * v_aa
    disc = max(big_b * big_b - big_a * big_c, 0.0)
    root = math.sqrt(disc)
    return Interval(a / b, (big_b - root) / big_a, (big_b + root) / big_a)
