"""The mixture SPRT in closed form against numerical integration of its definition."""

from __future__ import annotations

import math

import pytest
from scipy import integrate
from scipy import stats as sps

from splitlab.stats import msprt


def _lambda_by_quadrature(d: float, v: float, tau2: float) -> float:
    """Reference: Lambda = integral of N(d; theta, V) / N(d; 0, V) over theta ~ N(0, tau^2)
    (Johari et al. 2017, eq. 2), by scipy quad."""
    sd, tau = math.sqrt(v), math.sqrt(tau2)

    def integrand(theta: float) -> float:
        ratio = sps.norm.pdf(d, theta, sd) / sps.norm.pdf(d, 0.0, sd)
        return float(ratio * sps.norm.pdf(theta, 0.0, tau))

    val, _ = integrate.quad(integrand, -12 * tau, 12 * tau, limit=200)
    return float(val)


@pytest.mark.parametrize("d,v,tau2", [(0.3, 0.01, 0.02), (0.05, 0.01, 0.001), (-0.4, 0.04, 0.1)])
def test_p_value_is_inverse_of_the_mixture_likelihood_ratio(
    d: float, v: float, tau2: float
) -> None:
    """p = min(1, 1/Lambda) with Lambda from the closed form = the integral definition."""
    lam = _lambda_by_quadrature(d, v, tau2)
    assert msprt.p_value(d, v, tau2) == pytest.approx(min(1.0, 1.0 / lam), rel=1e-7)


def test_interval_edge_is_where_lambda_reaches_one_over_alpha() -> None:
    """At D = half-width the mixture likelihood ratio is exactly 1/alpha."""
    v, tau2, alpha = 0.02, 0.05, 0.05
    edge = msprt.half_width(v, tau2, alpha)
    assert _lambda_by_quadrature(edge, v, tau2) == pytest.approx(1 / alpha, rel=1e-6)


def test_tiny_variances_do_not_underflow() -> None:
    """The scale-free form works for any units (a variance of 1e-242 is fine)."""
    assert msprt.p_value(3e-121, 1e-242, 1e-243) == pytest.approx(msprt.p_value(3.0, 1.0, 0.1))


def test_default_tau_is_the_planned_effect() -> None:
    """Default tau = (z_{1-a/2} + z_power) sqrt(2/n): 2.8016 * sqrt(2/10000) at 0.05/0.8."""
    want = (sps.norm.ppf(0.975) + sps.norm.ppf(0.8)) * math.sqrt(2 / 10000)
    assert msprt.default_tau(0.05, 0.8, 10000) == pytest.approx(want)
