"""How many intervals a canary needs to roll back a true regression.

Model: each interval brings ``requests`` new requests per arm; the effect estimate after ``k``
intervals is normal around the true effect ``theta`` with variance ``V1 / k`` (``V1``: the
variance from one interval's data, e.g. ``(p_b (1 - p_b) + p_c (1 - p_c)) / requests`` for an
absolute difference of proportions). The step fails at the first ``k`` where the interval's
good-side bound passes the tolerance ``t`` (for a bad increase):

    D_k - c_k sqrt(V1 / k) > t,   c_k = c(r_opt * k * n_eff1 / n_target)

(:mod:`splitlab.stats.canary_boundary`, ``n_eff1 = requests / 2``).

* :func:`intervals_to_fail` is the first ``k`` at which the *expected* statistic reaches the
  boundary, ``(theta - t) sqrt(k / V1) >= c_k``: from that look on, each look fails with
  probability at least 1/2, so it approximates the median time to a rollback (from above:
  earlier looks may already fail).
* :func:`fail_probabilities` is the distribution of the first failing look, computed
  numerically: ``S_k = sum of k increments`` is a Gaussian random walk and the density of its
  paths that have not failed is carried from look to look by convolution with the normal
  increment on a grid (Armitage, McPherson & Rowe 1969). Passing looks are not removed (a
  regression beyond the tolerance almost never passes).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy import special

from splitlab.stats import canary_boundary as cb

FloatArray = NDArray[np.float64]


def proportion_variance(p_b: float, p_c: float, requests: int, relative: bool = False) -> float:
    """``V1`` for a proportion (one event per unit), absolute or relative (delta method)."""
    v_b = p_b * (1.0 - p_b) / requests
    v_c = p_c * (1.0 - p_c) / requests
    if not relative:
        return v_b + v_c
    ratio = p_c / p_b
    return (v_c + ratio * ratio * v_b) / (p_b * p_b)


def mean_variance(
    mean_b: float, sd_b: float, mean_c: float, sd_c: float, requests: int, relative: bool = False
) -> float:
    """``V1`` for a mean (one event per unit), absolute or relative (delta method)."""
    v_b, v_c = sd_b * sd_b / requests, sd_c * sd_c / requests
    if not relative:
        return v_b + v_c
    ratio = mean_c / mean_b
    return (v_c + ratio * ratio * v_b) / (mean_b * mean_b)


def lognormal_quantile_variance(p: float, sigma: float, requests: int, ratio: float) -> float:
    """``V1`` of ``q_c / q_b - 1`` for lognormal values with log-sd ``sigma``.

    A sample p-quantile has variance ``p (1 - p) / (n f(q)^2)`` (Bahadur 1966); for a
    lognormal, ``f(q) = phi(z_p) / (q sigma)``, so ``Var(q_hat) / q^2 = p (1 - p) sigma^2 /
    (n phi(z_p)^2)`` in each arm, and the ratio's variance is ``ratio^2`` times their sum.
    """
    z = float(special.ndtri(p))
    density = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    per_arm = p * (1.0 - p) * sigma * sigma / (requests * density * density)
    return ratio * ratio * 2.0 * per_arm


def _drift_and_boundaries(
    effect: float,
    tolerance: float,
    bad_direction: str,
    variance_one: float,
    requests: int,
    alpha: float,
    min_requests: int,
    max_intervals: int,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per look k = 1..K: k, the boundary c_k, and the margin (theta - t) in the bad direction."""
    k = np.arange(1, max_intervals + 1, dtype=float)
    r = cb.information_ratio(k * requests / 2.0, cb.target_effective_n(min_requests), alpha)
    c = cb.critical(r, alpha)
    margin = effect - tolerance if bad_direction == "increase" else -tolerance - effect
    return k, c, np.full_like(k, margin / math.sqrt(variance_one))


def intervals_to_fail(
    effect: float,
    tolerance: float,
    bad_direction: str,
    variance_one: float,
    requests: int,
    alpha: float,
    min_requests: int = 0,
    max_intervals: int = 10_000,
) -> int | None:
    """The first look at which the expected statistic crosses the fail boundary (None: never
    within ``max_intervals``; always None when the effect is within the tolerance)."""
    k, c, drift = _drift_and_boundaries(
        effect, tolerance, bad_direction, variance_one, requests, alpha, min_requests, max_intervals
    )
    crossed = np.nonzero(drift * np.sqrt(k) >= c)[0]
    return int(crossed[0]) + 1 if crossed.size else None


def fail_probabilities(
    effect: float,
    tolerance: float,
    bad_direction: str,
    variance_one: float,
    requests: int,
    alpha: float,
    min_requests: int = 0,
    max_intervals: int = 100,
    step: float = 0.02,
) -> FloatArray:
    """``P(failed by look k)`` for k = 1..max_intervals (grid recursion, grid ``step`` in sd)."""
    k, c, drift = _drift_and_boundaries(
        effect, tolerance, bad_direction, variance_one, requests, alpha, min_requests, max_intervals
    )
    # W_k = standardised centred walk; fail when W_k > c_k sqrt(k) - drift k.
    bounds = c * np.sqrt(k) - drift * k
    width = 8.0 + 8.0 * math.sqrt(max_intervals)
    grid = np.arange(-width, float(max(bounds.max(), 0.0)) + 8.0 + step, step)
    kernel_x = np.arange(-8.0, 8.0 + step / 2, step)
    kernel = np.exp(-0.5 * kernel_x * kernel_x) / math.sqrt(2.0 * math.pi) * step
    density = np.exp(-0.5 * grid * grid) / math.sqrt(2.0 * math.pi) * step  # masses of W_1
    failed = np.empty(max_intervals)
    total = 0.0
    for j in range(max_intervals):
        if j > 0:
            density = np.convolve(density, kernel, mode="same")
        over = grid > bounds[j]
        total += float(density[over].sum())
        density = np.where(over, 0.0, density)
        failed[j] = total
    return np.minimum(failed, 1.0)


def median_intervals_to_fail(probabilities: FloatArray) -> int | None:
    """The first look by which a rollback has probability at least 1/2."""
    hit = np.nonzero(probabilities >= 0.5)[0]
    return int(hit[0]) + 1 if hit.size else None
