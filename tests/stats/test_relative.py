"""Relative effect: the delta method in closed form and Fieller's interval by brute force."""

from __future__ import annotations

import numpy as np
import pytest

from splitlab.stats import relative
from splitlab.stats.difference import Difference


def _diff(mu_c: float, mu_t: float, v_c: float, v_t: float) -> Difference:
    return Difference(
        estimate=mu_t - mu_c,
        se=float(np.sqrt(v_c + v_t)),
        df=float("inf"),
        statistic=0.0,
        p_value=1.0,
        control_mean=mu_c,
        treatment_mean=mu_t,
        var_control_mean=v_c,
        cov_estimate_control=-v_c,
    )


def test_delta_se_equals_textbook_ratio_of_independent_means() -> None:
    """Without CUPED, Var(mu_t/mu_c - 1) = v_t/mu_c^2 + mu_t^2 v_c/mu_c^4 (Casella & Berger
    5.5.4, for the ratio of two independent means)."""
    mu_c, mu_t, v_c, v_t = 2.0, 2.3, 0.01, 0.02
    want = np.sqrt(v_t / mu_c**2 + mu_t**2 * v_c / mu_c**4)
    assert relative.relative_se(_diff(mu_c, mu_t, v_c, v_t)) == pytest.approx(want, rel=1e-12)


def test_fieller_interval_matches_brute_force_scan() -> None:
    """Fieller's interval is {rho: (a - rho b)^2 <= q^2 Var(a - rho b)}; scanned on a grid."""
    d = _diff(1.0, 1.15, 0.004, 0.006)
    q = 1.959963984540054
    got = relative.fieller_interval(d, q)
    assert got is not None
    a, b = d.estimate, d.control_mean
    grid = np.linspace(-0.5, 0.8, 1_300_001)
    var = d.se**2 - 2 * grid * d.cov_estimate_control + grid**2 * d.var_control_mean
    inside = grid[(a - grid * b) ** 2 <= q * q * var]
    assert got.lower == pytest.approx(inside.min(), abs=2e-6)
    assert got.upper == pytest.approx(inside.max(), abs=2e-6)


def test_fieller_is_unbounded_when_control_mean_is_not_clearly_nonzero() -> None:
    """b^2 <= q^2 Var(b): no finite interval, reported as None."""
    assert relative.fieller_interval(_diff(0.01, 0.05, 0.01, 0.01), 1.96) is None


def test_zero_control_mean_has_no_relative_effect() -> None:
    """A zero control mean makes the lift undefined (None, not inf)."""
    d = _diff(0.0, 0.2, 0.01, 0.01)
    assert relative.delta_interval(d, 1.96) is None
    assert relative.fieller_interval(d, 1.96) is None
