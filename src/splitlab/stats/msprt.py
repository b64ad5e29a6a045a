"""Always-valid inference: the mixture sequential probability ratio test (mSPRT).

For an estimated difference D with variance V (normal approximation) and a normal mixing
distribution N(0, tau^2) over the true difference, the mixture likelihood ratio against
"no difference" is (Johari, Koomen, Pekelis, Walsh 2017, "Peeking at A/B tests", KDD;
Robbins 1970):

    Lambda = sqrt(V / (V + tau^2)) * exp( D^2 tau^2 / (2 V (V + tau^2)) ).

Lambda is a non-negative martingale under H0, so by Ville's inequality rejecting when
Lambda >= 1/alpha keeps the error rate at alpha however often one looks. The always-valid
p-value is ``min(1, 1/Lambda)`` (the running minimum over looks is the evaluation layer's
job, since this engine is stateless), and the always-valid interval is

    D +/- sqrt( V (V + tau^2) / tau^2 * (ln((V + tau^2) / V) - 2 ln alpha) ).

Tuning parameter: ``tau`` is given in standard deviations of the per-unit metric (so
tau_abs^2 = tau^2 sigma^2 with sigma^2 the per-unit variance implied by V). Default: the
standardised effect the plan can detect, ``(z_{1-alpha/2} + z_power) sqrt(2 / minSampleSize)``;
the test is most sensitive to effects of about that size.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special


def default_tau(alpha: float, power: float, min_sample_size: int) -> float:
    """The planned minimum detectable effect in per-unit standard deviations."""
    z = float(special.ndtri(1.0 - alpha / 2.0) + special.ndtri(power))
    return z * math.sqrt(2.0 / min_sample_size)


def mixing_variance(tau: float, variance: float, n_control: float, n_treatment: float) -> float:
    """tau^2 on the scale of the difference: tau^2 times the implied per-unit variance."""
    sigma2 = variance / (1.0 / n_control + 1.0 / n_treatment)
    return tau * tau * sigma2


def p_value(estimate: float, variance: float, tau2: float) -> float:
    """Always-valid p-value at this look: min(1, 1 / Lambda).

    Computed in the scale-free form ``r = tau^2 / V``, ``z^2 = D^2 / V``:
    ``ln Lambda = -ln(1 + r)/2 + z^2 r / (2 (1 + r))`` (no underflow for tiny variances).
    """
    if variance <= 0 or tau2 <= 0:
        return 1.0
    r = tau2 / variance
    z2 = estimate * estimate / variance
    log_lambda = -0.5 * math.log1p(r) + z2 * r / (2.0 * (1.0 + r))
    return 1.0 if log_lambda <= 0 else math.exp(-log_lambda)


def critical(r: ArrayLike, alpha: float) -> NDArray[np.float64]:
    """The interval's half-width in standard errors, ``sqrt((1 + r) / r (ln(1 + r) - 2 ln
    alpha))`` with ``r = tau^2 / V`` (vectorised; infinite where ``r <= 0``: no information)."""
    ratio = np.asarray(r, dtype=float)
    safe = np.where(ratio > 0, ratio, 1.0)
    c = np.sqrt((1.0 + safe) / safe * (np.log1p(safe) - 2.0 * math.log(alpha)))
    return np.asarray(np.where(ratio > 0, c, np.inf))


def half_width(variance: float, tau2: float, alpha: float) -> float:
    """Half-width of the always-valid interval at level alpha (scale-free form)."""
    return math.sqrt(variance) * float(critical(tau2 / variance, alpha))
