"""Ratio metrics by the delta method: against raw-data linearisation and replicate spread."""

from __future__ import annotations

import numpy as np
import pytest

from splitlab.stats.difference import Difference, compare
from splitlab.stats.ratio import ratio_view
from splitlab.stats.sums import ArmSums


def _sample(rng: np.random.Generator, n: int, rate: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    sessions = rng.poisson(4.0, n) + 1.0
    clicks = rng.binomial(sessions.astype(int), rate).astype(float)
    return clicks, sessions


def test_variance_equals_linearised_observations_computed_on_raw_data() -> None:
    """Var(R) = var(L)/n with L = (Y - R D)/mean(D), computed here with numpy on raw data
    (Deng, Knoblich & Lu 2018, section 2)."""
    rng = np.random.default_rng(21)
    y, d = _sample(rng, 3000)
    view = ratio_view(ArmSums.from_values(y, denominator=d), False)
    r = y.sum() / d.sum()
    lin = (y - r * d) / d.mean()
    assert view.mean == pytest.approx(r)
    assert view.var == pytest.approx(np.var(lin, ddof=1), rel=1e-9)


def test_delta_se_matches_spread_across_replicates() -> None:
    """With strongly correlated numerator and denominator the delta SE (covariance included)
    matches the empirical sd of R over 2000 replicates within 8%."""
    rng = np.random.default_rng(22)
    ratios, ses = [], []
    for _ in range(2000):
        y, d = _sample(rng, 200)
        view = ratio_view(ArmSums.from_values(y, denominator=d), False)
        ratios.append(view.mean)
        ses.append(np.sqrt(view.var_of_mean))
    assert np.mean(ses) == pytest.approx(np.std(ratios), rel=0.08)


def test_ratio_cuped_needs_and_uses_the_denominator_cross_product() -> None:
    """CUPED on a ratio metric reduces variance when sumProductDenominator is present."""
    rng = np.random.default_rng(23)
    arms = []
    for _ in range(2):
        y, d = _sample(rng, 4000)
        x = y + rng.normal(0, 1.0, len(y))  # a pre-period value correlated with clicks
        arms.append(ArmSums.from_values(y, covariate=x, denominator=d))
    plain = compare(ratio_view(arms[0], False), ratio_view(arms[1], False), "welch")
    views = [ratio_view(a, True) for a in arms]
    adjusted = compare(views[0], views[1], "welch", use_cuped=True)
    assert isinstance(plain, Difference) and isinstance(adjusted, Difference)
    assert adjusted.theta is not None
    assert adjusted.se < 0.8 * plain.se


def test_zero_denominator_is_not_estimable() -> None:
    """No denominator at all in an arm: the view is empty and compare says why."""
    view = ratio_view(ArmSums(10, 5, 5, denominator=None), False)
    assert view.n == 10 and view.var == 0.0
