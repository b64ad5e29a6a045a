"""The always-valid boundary of a canary: a normal-mixture confidence sequence.

A canary is judged after every interval, for as long as a step lasts, so its intervals must
hold at every look at once. The normal-mixture (Robbins 1970) confidence sequence does: for
an asymptotically normal estimate D with variance V and a mixing variance tau^2 on the scale
of the effect, the set

    |D - theta| <= sqrt(V) * c(r),   c(r) = sqrt((1 + r) / r * (ln(1 + r) - 2 ln alpha)),
    r = tau^2 / V,

covers the true theta at every look with probability at least 1 - alpha (Ville's inequality
on the mixture likelihood ratio, as in :mod:`splitlab.stats.msprt`; Waudby-Smith, Arnold, Wu,
McAuliffe & Ramdas 2024, "Time-uniform central limit theory and asymptotic confidence
sequences", Annals of Statistics, justify it for any asymptotically normal statistic with a
plug-in variance). ``r`` is the information ratio: it grows in proportion to the data.

Mixing scale: ``r = r_opt * n_eff / n_target`` where ``n_eff = n_b n_c / (n_b + n_c)`` is the
effective number of requests (summed over intervals for the stratified Mann-Whitney test),
``n_target`` the effective number at the step's ``minRequests`` per arm (half of it; 1,000
requests per arm when ``minRequests`` is 0), and ``r_opt`` the ratio at which the sequence is
narrowest for that sample size: the root of ``r = ln(1 + r) - 2 ln alpha`` (setting the
derivative of ``c(r)^2 / r`` to zero; Waudby-Smith et al. 2024 give its approximation
``-2 ln alpha + ln(1 - 2 ln alpha)``). The sequence is then tightest when a step may first
advance, and within 30 % of that width from a tenth to ten times that sample size.

Each kind's interval is its fixed-sample interval at the nominal two-sided level ``2 Phi(-c)``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from splitlab.stats.msprt import critical

__all__ = [
    "DEFAULT_TARGET_REQUESTS",
    "alpha_per_metric",
    "critical",
    "effective_n",
    "information_ratio",
    "nominal_level",
    "optimal_ratio",
    "target_effective_n",
]

FloatArray = NDArray[np.float64]

#: The target sample size per arm when a step sets no ``minRequests``.
DEFAULT_TARGET_REQUESTS = 1000


def alpha_per_metric(alpha: float, steps: int, metrics: int) -> float:
    """Bonferroni over judged steps and metrics: each step's sequence of each metric."""
    return alpha / (max(steps, 1) * max(metrics, 1))


def optimal_ratio(alpha: float) -> float:
    """``r_opt``: the root of ``r = ln(1 + r) - 2 ln alpha`` (fixed-point iteration)."""
    big_l = -2.0 * math.log(alpha)
    r = big_l + math.log1p(big_l)
    for _ in range(100):
        r = big_l + math.log1p(r)
    return r


def target_effective_n(min_requests: int) -> float:
    """Effective requests ``m m / (m + m) = m / 2`` at ``m`` requests per arm."""
    m = min_requests if min_requests > 0 else DEFAULT_TARGET_REQUESTS
    return m / 2.0


def effective_n(n_b: ArrayLike, n_c: ArrayLike) -> FloatArray:
    """``n_b n_c / (n_b + n_c)`` (0 when an arm is empty)."""
    b = np.asarray(n_b, dtype=float)
    c = np.asarray(n_c, dtype=float)
    total = b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(total > 0, b * c / np.where(total > 0, total, 1.0), 0.0)
    return np.asarray(out, dtype=float)


def information_ratio(n_eff: ArrayLike, target: float, alpha: float) -> FloatArray:
    """``r = r_opt * n_eff / n_target``."""
    return np.asarray(optimal_ratio(alpha) * np.asarray(n_eff, dtype=float) / target)


def nominal_level(c: ArrayLike) -> FloatArray:
    """The two-sided fixed-sample level with the same critical value: ``2 Phi(-c)``."""
    return np.asarray(2.0 * special.ndtr(-np.asarray(c, dtype=float)))
