"""Power and sample size: units per variant for an effect, the effect for a sample size.

Standardised effect d = effect / sigma; the two-sample test's power with n_1 units in one arm
and n_2 = ratio * n_1 in the other:

* z (normal): ``Phi(d sqrt(n_e) - z_{1-a/2}) + Phi(-d sqrt(n_e) - z_{1-a/2})`` with
  ``n_e = n_1 / (1 + 1/ratio)`` (both tails, as statsmodels' ``NormalIndPower``);
* t: the same with the noncentral t distribution, ``df = n_1 + n_2 - 2`` and noncentrality
  ``d sqrt(n_e)`` (as statsmodels' ``TTestIndPower``; Cohen 1988, ch. 2).

For a conversion rate the effect is standardised by the unpooled binomial sd,
``sigma = sqrt((p_0 q_0 + p_1 q_1) / 2)``. Sample sizes are solved exactly (Brent's method).
With m comparisons in a Bonferroni family each test runs at alpha / m, which is what makes
"too many variants" (the article's pitfall 3) cost power.

Cluster-randomised designs: units in one cluster are correlated (intra-cluster correlation
ICC), so a cluster of m units carries less information than m independent units. The design
effect for clusters of unequal sizes with mean m and coefficient of variation CV is
``DE = 1 + ((CV^2 + 1) m - 1) ICC`` (Eldridge, Ashby & Kerry 2006, Int. J. Epidemiology
35:1292, eq. 4); with equal sizes it is ``1 + (m - 1) ICC`` (Donner, Birkett & Buck 1981).
The sample size of an individually randomised test times DE is the analysis units needed;
divided by m, the clusters per arm.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal

from scipy import optimize, special

Test = Literal["z", "t"]


def power(d: float, n1: float, alpha: float, ratio: float = 1.0, test: Test = "z") -> float:
    """Power of the two-sided two-sample test for standardised effect d."""
    n_e = n1 / (1.0 + 1.0 / ratio)
    nc = abs(d) * math.sqrt(n_e)
    if test == "z":
        crit = float(special.ndtri(1.0 - alpha / 2.0))
        return float(special.ndtr(nc - crit) + special.ndtr(-nc - crit))
    df = n1 * (1.0 + ratio) - 2.0
    if df > 1e7:
        return power(d, n1, alpha, ratio, "z")
    crit = float(special.stdtrit(df, 1.0 - alpha / 2.0))
    return float(1.0 - special.nctdtr(df, nc, crit) + special.nctdtr(df, nc, -crit))


def sample_size(
    d: float, alpha: float, target: float, ratio: float = 1.0, test: Test = "z"
) -> float:
    """Units in the first arm (per variant when ratio = 1) to reach `target` power."""
    if d == 0:
        raise ValueError("the effect must not be zero")
    low = 2.0 + 1e-9 if test == "z" else 1.5 + 1.0 / ratio
    high = 4.0
    while power(d, high, alpha, ratio, test) < target:
        low, high = high, high * 2.0
        if high > 1e13:
            raise ValueError(f"no sample size below 1e13 reaches power {target} for d = {d}")
    return float(
        optimize.brentq(lambda n: power(d, n, alpha, ratio, test) - target, low, high, xtol=1e-9)
    )


def minimum_detectable_effect(
    n1: float, alpha: float, target: float, ratio: float = 1.0, test: Test = "z"
) -> float:
    """The standardised effect detectable with `target` power at n1 units per variant."""
    return float(optimize.brentq(lambda d: power(d, n1, alpha, ratio, test) - target, 1e-9, 100.0))


def conversion_sd(p0: float, p1: float) -> float:
    return math.sqrt((p0 * (1.0 - p0) + p1 * (1.0 - p1)) / 2.0)


def conversion_sample_size(
    baseline: float, lift: float, alpha: float, target: float, relative: bool = True
) -> float:
    """Units per variant to detect a change of a conversion rate (relative by default)."""
    p1 = baseline * (1.0 + lift) if relative else baseline + lift
    if not 0 < baseline < 1 or not 0 < p1 < 1:
        raise ValueError(f"rates must be within (0, 1) (got {baseline!r} -> {p1!r})")
    return sample_size((p1 - baseline) / conversion_sd(baseline, p1), alpha, target)


def design_effect(icc: float, mean_size: float, cv: float = 0.0) -> float:
    """``1 + ((CV^2 + 1) m - 1) ICC``: variance inflation of a cluster design (module doc)."""
    if not 0 <= icc <= 1:
        raise ValueError(f"icc must be within [0, 1] (got {icc!r})")
    if not mean_size >= 1:
        raise ValueError(f"the mean cluster size must be >= 1 (got {mean_size!r})")
    if not cv >= 0:
        raise ValueError(f"the cluster sizes' coefficient of variation must be >= 0 (got {cv!r})")
    return 1.0 + ((cv * cv + 1.0) * mean_size - 1.0) * icc


def clusters_per_arm(units: float, icc: float, mean_size: float, cv: float = 0.0) -> float:
    """Clusters per arm matching `units` individually randomised units per arm."""
    return units * design_effect(icc, mean_size, cv) / mean_size


def duration_days(
    n_per_variant: float, variants: int, daily_units: float, traffic_allocation: float = 1.0
) -> float:
    """Days of traffic needed to expose n_per_variant units to each of `variants` arms."""
    if daily_units <= 0 or traffic_allocation <= 0:
        raise ValueError("daily units and traffic allocation must be positive")
    return n_per_variant * variants / (daily_units * traffic_allocation)


@lru_cache(maxsize=256)
def family_warning(
    comparisons: int,
    alpha: float,
    target: float,
    min_sample_size: int,
    correction: str,
    *,
    noun: str = "units",
) -> str | None:
    """A warning when correcting for the family leaves the primary metric under-powered.

    The plan's effect is the one detectable at alpha with the target power and minSampleSize
    units per variant; the warning fires when, at alpha / m, that effect has power below
    target - 0.1. `noun` (plural) names what minSampleSize counts: "clusters" for a cluster
    design, "cells" for a switchback.
    """
    if correction == "none" or comparisons <= 1:
        return None
    d = minimum_detectable_effect(min_sample_size, alpha, target)
    achieved = power(d, min_sample_size, alpha / comparisons)
    if achieved >= target - 0.1:
        return None
    needed = sample_size(d, alpha / comparisons, target)
    return (
        f"With {comparisons} comparisons corrected by {correction}, the primary metric has "
        f"{achieved:.0%} power (not {target:.0%}) for the effect the plan was sized for; "
        f"about {math.ceil(needed)} {noun} per variant would restore it, or test fewer "
        "variants or metrics."
    )
