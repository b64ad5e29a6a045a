"""The Bayesian option: posterior of the difference, chance to beat control, expected loss.

* Conversion: independent Beta(1, 1) priors (uniform) on each arm's rate, so the posterior is
  Beta(1 + conversions, 1 + non-conversions). P(p_B > p_A) has a closed form for integer
  parameters (Evan Miller, "Formulas for Bayesian A/B testing", 2015):
  ``sum_{i=0}^{a_B - 1} B(a_A + i, b_A + b_B) / ((b_B + i) B(1 + i, b_B) B(a_A, b_A))``, and
  the expected loss of choosing B, ``E[max(p_A - p_B, 0)]``, follows from it (Chris Stucchio,
  "Bayesian A/B testing at VWO", 2015). The credible interval of the difference uses the
  normal approximation of the two Beta posteriors (their means and variances).
* Means and ratios: a flat (improper) prior on each arm's mean, so with large samples the
  posterior of the difference is N(estimate, SE^2) (Gelman et al., Bayesian Data Analysis,
  3rd ed., 4.1); chance to beat = Phi(d / SE) and the expected loss of a normal X,
  ``E[max(-X, 0)] = s phi(m/s) - m Phi(-m/s)``.

"Beat" and "loss" are taken in the metric's wanted direction.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from splitlab.stats.relative import Interval
from splitlab.stats.results import BayesianResult

#: Above this many terms the closed-form sum gives way to the normal approximation.
MAX_TERMS = 50_000


def _difference_moments(a: float, b: float, c: float, d: float) -> tuple[float, float]:
    """Mean and variance of X - Y for independent X ~ Beta(c, d) and Y ~ Beta(a, b)."""
    mean = c / (c + d) - a / (a + b)
    var = c * d / ((c + d) ** 2 * (c + d + 1)) + a * b / ((a + b) ** 2 * (a + b + 1))
    return mean, var


def prob_greater(a: float, b: float, c: float, d: float) -> float:
    """P(X > Y) for X ~ Beta(c, d) and Y ~ Beta(a, b)."""
    if float(c).is_integer() and 0 < c <= MAX_TERMS:
        i = np.arange(int(c), dtype=float)
        terms = (
            special.betaln(a + i, b + d)
            - np.log(d + i)
            - special.betaln(1.0 + i, d)
            - special.betaln(a, b)
        )
        return float(min(1.0, max(0.0, np.exp(terms).sum())))
    if float(a).is_integer() and 0 < a <= MAX_TERMS:
        return 1.0 - prob_greater(c, d, a, b)
    mean, var = _difference_moments(a, b, c, d)
    return float(special.ndtr(mean / math.sqrt(var)))


def beta_expected_loss(a: float, b: float, c: float, d: float) -> float:
    """E[max(p_A - p_B, 0)] for p_A ~ Beta(a, b), p_B ~ Beta(c, d): the loss of choosing B."""
    left = a / (a + b) * prob_greater(c, d, a + 1.0, b)
    right = c / (c + d) * prob_greater(c + 1.0, d, a, b)
    return max(left - right, 0.0)


def conversion(
    conv_c: float, n_c: float, conv_t: float, n_t: float, increase: bool, level: float
) -> BayesianResult:
    """Beta-binomial posteriors with uniform priors."""
    a, b = 1.0 + conv_c, 1.0 + n_c - conv_c
    c, d = 1.0 + conv_t, 1.0 + n_t - conv_t
    if increase:
        chance = prob_greater(a, b, c, d)
        loss = beta_expected_loss(a, b, c, d)
    else:
        chance = 1.0 - prob_greater(a, b, c, d)
        loss = beta_expected_loss(c, d, a, b)
    mean, var = _difference_moments(a, b, c, d)
    q = float(special.ndtri(1.0 - level / 2.0)) * math.sqrt(var)
    return BayesianResult(chance, loss, Interval(mean, mean - q, mean + q), "beta(1, 1) per arm")


def normal(estimate: float, se: float, increase: bool, level: float) -> BayesianResult:
    """Flat priors: the posterior of the difference is N(estimate, se^2)."""
    m = estimate if increase else -estimate
    z = m / se
    chance = float(special.ndtr(z))
    loss = se * math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi) - m * float(special.ndtr(-z))
    q = float(special.ndtri(1.0 - level / 2.0)) * se
    return BayesianResult(
        chance, max(loss, 0.0), Interval(estimate, estimate - q, estimate + q), "flat"
    )
