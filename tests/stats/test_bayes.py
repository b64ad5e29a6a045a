"""Bayesian summaries against numerical integration of the same posteriors."""

from __future__ import annotations

import math

import pytest
from scipy import integrate
from scipy import stats as sps

from splitlab.stats import bayes


def _quad_prob_greater(a: float, b: float, c: float, d: float) -> float:
    """Reference: P(Beta(c,d) > Beta(a,b)) = integral of f_X(x) F_Y(x) dx (scipy quad)."""
    fx = sps.beta(c, d)
    fy = sps.beta(a, b)
    val, _ = integrate.quad(lambda x: fx.pdf(x) * fy.cdf(x), 0, 1, limit=200, epsabs=1e-12)
    return float(val)


def _quad_loss(a: float, b: float, c: float, d: float) -> float:
    """Reference: E[max(p_A - p_B, 0)] by 2-D integration of the two Beta densities."""
    fa, fb = sps.beta(a, b), sps.beta(c, d)
    val, _ = integrate.dblquad(
        lambda y, x: (x - y) * fa.pdf(x) * fb.pdf(y), 0, 1, 0, lambda x: x, epsabs=1e-10
    )
    return float(val)


@pytest.mark.parametrize(
    "a,b,c,d", [(3, 9, 5, 7), (11, 91, 16, 86), (1, 1, 2, 1), (40, 60, 35, 65)]
)
def test_beta_closed_form_matches_quadrature(a: int, b: int, c: int, d: int) -> None:
    """Evan Miller's closed form for P(p_B > p_A) equals numerical integration."""
    assert bayes.prob_greater(a, b, c, d) == pytest.approx(_quad_prob_greater(a, b, c, d), abs=1e-8)


@pytest.mark.parametrize("a,b,c,d", [(3, 9, 5, 7), (11, 91, 16, 86)])
def test_expected_loss_matches_quadrature(a: int, b: int, c: int, d: int) -> None:
    """The closed-form expected loss of choosing B equals E[max(p_A - p_B, 0)] by dblquad."""
    assert bayes.beta_expected_loss(a, b, c, d) == pytest.approx(_quad_loss(a, b, c, d), abs=1e-7)


def test_conversion_uses_uniform_priors() -> None:
    """With Beta(1, 1) priors, 0/0 data gives chance 1/2 (symmetry)."""
    out = bayes.conversion(0, 0, 0, 0, True, 0.05)
    assert out.chance_to_beat_control == pytest.approx(0.5, abs=1e-12)


def test_direction_flips_chance_and_loss() -> None:
    """For a metric that should decrease, beating control means a lower rate."""
    up = bayes.conversion(100, 1000, 130, 1000, True, 0.05)
    down = bayes.conversion(100, 1000, 130, 1000, False, 0.05)
    assert up.chance_to_beat_control + down.chance_to_beat_control == pytest.approx(1.0)
    assert down.expected_loss > up.expected_loss


def test_normal_posterior_closed_forms() -> None:
    """Flat prior: chance = Phi(d/se); loss = E[max(-X, 0)] for X ~ N(d, se^2) (by quad)."""
    d, se = 0.3, 0.5
    out = bayes.normal(d, se, True, 0.05)
    assert out.chance_to_beat_control == pytest.approx(sps.norm.cdf(d / se))
    ref, _ = integrate.quad(lambda x: max(-x, 0.0) * sps.norm.pdf(x, d, se), -10, 10, points=[0])
    assert out.expected_loss == pytest.approx(ref, abs=1e-9)
    assert out.credible_interval.upper - d == pytest.approx(1.959963984540054 * se)
    assert math.isfinite(out.expected_loss)
