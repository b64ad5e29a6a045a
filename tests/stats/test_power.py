"""Power and sample size against statsmodels' power solvers."""

from __future__ import annotations

import pytest
from statsmodels.stats.power import NormalIndPower, tt_ind_solve_power, zt_ind_solve_power

from splitlab.stats import power


@pytest.mark.parametrize("d,alpha,target,ratio", [(0.1, 0.05, 0.8, 1.0), (0.25, 0.01, 0.9, 2.0)])
def test_sample_size_z_matches_statsmodels(
    d: float, alpha: float, target: float, ratio: float
) -> None:
    """Units per arm (z test) = statsmodels zt_ind_solve_power."""
    ref = zt_ind_solve_power(effect_size=d, alpha=alpha, power=target, ratio=ratio)
    assert power.sample_size(d, alpha, target, ratio) == pytest.approx(ref, rel=1e-5)


@pytest.mark.parametrize("d,alpha,target", [(0.5, 0.05, 0.8), (0.2, 0.05, 0.9)])
def test_sample_size_t_matches_statsmodels(d: float, alpha: float, target: float) -> None:
    """Units per arm (t test) = statsmodels tt_ind_solve_power."""
    ref = tt_ind_solve_power(effect_size=d, alpha=alpha, power=target)
    assert power.sample_size(d, alpha, target, test="t") == pytest.approx(ref, rel=1e-5)


def test_power_matches_normal_ind_power() -> None:
    """Power at a sample size = statsmodels NormalIndPower().power."""
    ref = NormalIndPower().power(effect_size=0.05, nobs1=4000, alpha=0.05)
    assert power.power(0.05, 4000, 0.05) == pytest.approx(ref, rel=1e-10)


def test_mde_inverts_sample_size() -> None:
    """The MDE at the sample size for effect d is d; also = statsmodels solving for effect."""
    n = power.sample_size(0.08, 0.05, 0.8)
    assert power.minimum_detectable_effect(n, 0.05, 0.8) == pytest.approx(0.08, rel=1e-6)
    ref = zt_ind_solve_power(nobs1=5000, alpha=0.05, power=0.8)
    assert power.minimum_detectable_effect(5000, 0.05, 0.8) == pytest.approx(ref, rel=1e-4)


def test_conversion_sample_size_uses_unpooled_sd() -> None:
    """10% -> 11%: d = 0.01 / sqrt((0.09 + 0.0979)/2), then the z solver (statsmodels)."""
    d = 0.01 / ((0.1 * 0.9 + 0.11 * 0.89) / 2) ** 0.5
    ref = NormalIndPower().solve_power(effect_size=d, alpha=0.05, power=0.8)
    assert power.conversion_sample_size(0.1, 0.1, 0.05, 0.8) == pytest.approx(ref, rel=1e-5)


def test_duration_days() -> None:
    """15000 per variant x 3 arms at 10000 units/day and 25% traffic: 18 days."""
    assert power.duration_days(15000, 3, 10000, 0.25) == pytest.approx(18.0)


def test_family_warning_fires_for_many_comparisons_only() -> None:
    """Pitfall 3: with 12 Bonferroni comparisons the primary metric loses power; with 1 not."""
    assert power.family_warning(1, 0.05, 0.8, 10000, "bonferroni") is None
    text = power.family_warning(12, 0.05, 0.8, 10000, "bonferroni")
    assert text is not None and "12 comparisons" in text
    assert power.family_warning(12, 0.05, 0.8, 10000, "none") is None


def test_family_warning_names_what_min_sample_size_counts() -> None:
    """Cluster designs count clusters, switchbacks cells; the default stays units."""
    for noun in ("units", "clusters", "cells"):
        text = power.family_warning(12, 0.05, 0.8, 10000, "bonferroni", noun=noun)
        assert text is not None and f" {noun} per variant would restore it" in text
