"""CUPED against an ANCOVA fit (statsmodels OLS) and the 1 - rho^2 variance reduction."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from splitlab.stats.difference import Difference, compare
from splitlab.stats.moments import mean_view
from splitlab.stats.sums import ArmSums


def _arms(rng: np.random.Generator, n: int, rho: float, effect: float = 0.0) -> tuple:
    out = []
    for shift in (0.0, effect):
        x = rng.normal(5.0, 2.0, n)
        y = 10.0 + shift + rho * (x - 5.0) / 2.0 * 3.0 + np.sqrt(1 - rho**2) * rng.normal(0, 3.0, n)
        out.append((y, x))
    return tuple(out)


def _diff(c: tuple, t: tuple, cuped: bool) -> Difference:
    views = [mean_view(ArmSums.from_values(y, covariate=x), False, cuped) for y, x in (c, t)]
    d = compare(*views, "welch", use_cuped=cuped)
    assert isinstance(d, Difference)
    return d


def test_estimate_equals_ancova_treatment_coefficient() -> None:
    """CUPED's pooled theta is ANCOVA's common slope, so the adjusted difference equals the
    treatment coefficient of OLS y ~ 1 + treated + x (statsmodels)."""
    rng = np.random.default_rng(11)
    c, t = _arms(rng, 700, 0.6, effect=0.4)
    d = _diff(c, t, True)
    y = np.concatenate([c[0], t[0]])
    x = np.concatenate([c[1], t[1]])
    treated = np.r_[np.zeros(len(c[0])), np.ones(len(t[0]))]
    fit = sm.OLS(y, sm.add_constant(np.column_stack([treated, x]))).fit()
    assert d.estimate == pytest.approx(fit.params[1], rel=1e-9)
    assert d.theta == pytest.approx(fit.params[2], rel=1e-9)


def test_variance_shrinks_by_one_minus_rho_squared() -> None:
    """Var(CUPED estimate) / Var(plain estimate) ~= 1 - rho^2 (Deng et al. 2013, eq. 4)."""
    rng = np.random.default_rng(12)
    rho = 0.7
    c, t = _arms(rng, 20000, rho)
    ratio = (_diff(c, t, True).se / _diff(c, t, False).se) ** 2
    assert ratio == pytest.approx(1 - rho**2, abs=0.02)


def test_unbiased_and_smaller_spread_across_replicates() -> None:
    """Over replicates the CUPED estimate centres on the true effect with less spread."""
    rng = np.random.default_rng(13)
    plain, adjusted = [], []
    for _ in range(300):
        c, t = _arms(rng, 300, 0.8, effect=0.5)
        plain.append(_diff(c, t, False).estimate)
        adjusted.append(_diff(c, t, True).estimate)
    assert np.mean(adjusted) == pytest.approx(0.5, abs=0.03)
    assert np.var(adjusted) < 0.5 * np.var(plain)


def test_constant_covariate_falls_back_with_a_note() -> None:
    """A covariate without variance: no CUPED, a note, the plain estimate."""
    rng = np.random.default_rng(14)
    y_c, y_t = rng.normal(0, 1, 50), rng.normal(0, 1, 50)
    c = (y_c, np.full(50, 3.0))
    t = (y_t, np.full(50, 3.0))
    d = _diff(c, t, True)
    assert d.theta is None
    assert any("CUPED not applied" in n for n in d.notes)
    assert d.estimate == pytest.approx(y_t.mean() - y_c.mean())
