"""The two-sample tests against scipy and statsmodels on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportions_ztest,
)
from statsmodels.stats.proportion import (
    test_proportions_2indep as wald_2indep,
)

from splitlab.stats.difference import Difference, NotEstimable, compare, welch_df
from splitlab.stats.moments import mean_view
from splitlab.stats.sums import ArmSums


def _welch(c: np.ndarray, t: np.ndarray) -> Difference:
    d = compare(
        mean_view(ArmSums.from_values(c), False, False),
        mean_view(ArmSums.from_values(t), False, False),
        "welch",
    )
    assert isinstance(d, Difference)
    return d


@pytest.mark.parametrize("n_c,n_t,seed", [(8, 5, 1), (40, 90, 2), (2000, 1500, 3)])
def test_welch_matches_scipy_ttest_ind_unequal_var(n_c: int, n_t: int, seed: int) -> None:
    """From sums, statistic, df, p-value and interval equal scipy's Welch test on raw data."""
    rng = np.random.default_rng(seed)
    c = rng.normal(10.0, 1.0, n_c)
    t = rng.lognormal(2.3, 0.6, n_t)
    d = _welch(c, t)
    ref = sps.ttest_ind(t, c, equal_var=False)  # reference: scipy.stats.ttest_ind(equal_var=False)
    assert d.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert d.p_value == pytest.approx(ref.pvalue, rel=1e-8)
    assert d.df == pytest.approx(ref.df, rel=1e-9)
    ci = ref.confidence_interval(0.95)
    q = d.critical(0.05)
    assert d.estimate - q * d.se == pytest.approx(ci.low, rel=1e-8)
    assert d.estimate + q * d.se == pytest.approx(ci.high, rel=1e-8)


def test_welch_df_is_not_pooled_df() -> None:
    """Welch-Satterthwaite df (the article's defect 10 used n1 + n2 - 2 with Welch's SE)."""
    df = welch_df(4.0 / 10, 10, 1.0 / 30, 30)
    assert df != pytest.approx(38)
    assert 9 < df < 12


@pytest.mark.parametrize("x_c,n_c,x_t,n_t", [(100, 1000, 130, 1000), (12, 80, 25, 95)])
def test_proportions_match_statsmodels(x_c: int, n_c: int, x_t: int, n_t: int) -> None:
    """Unpooled Wald z statistic/p-value = statsmodels test_proportions_2indep(method="wald")
    and the interval = confint_proportions_2indep(method="wald"): one SE for both."""
    c = mean_view(ArmSums(n_c, x_c, x_c), True, False)
    t = mean_view(ArmSums(n_t, x_t, x_t), True, False)
    d = compare(c, t, "proportions")
    assert isinstance(d, Difference)
    ref = wald_2indep(x_t, n_t, x_c, n_c, method="wald", compare="diff")
    assert d.statistic == pytest.approx(ref.statistic, rel=1e-10)
    assert d.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    low, high = confint_proportions_2indep(x_t, n_t, x_c, n_c, method="wald", compare="diff")
    q = d.critical(0.05)
    assert d.estimate - q * d.se == pytest.approx(low, rel=1e-9)
    assert d.estimate + q * d.se == pytest.approx(high, rel=1e-9)


def test_pooled_test_could_contradict_the_wald_interval() -> None:
    """Why one SE: at 200/2000 vs 66/500 the pooled z-test (statsmodels proportions_ztest)
    gives p = 0.038 while the unpooled Wald 95% interval starts at -0.00045 (includes 0);
    splitlab's test and interval both use the unpooled SE and agree."""
    x_c, n_c, x_t, n_t = 200, 2000, 66, 500
    _, pooled_p = proportions_ztest([x_t, x_c], [n_t, n_c])
    low, _ = confint_proportions_2indep(x_t, n_t, x_c, n_c, method="wald", compare="diff")
    d = compare(
        mean_view(ArmSums(n_c, x_c, x_c), True, False),
        mean_view(ArmSums(n_t, x_t, x_t), True, False),
        "proportions",
    )
    assert isinstance(d, Difference)
    assert pooled_p == pytest.approx(0.03793, abs=1e-5)
    assert low == pytest.approx(-0.000452, abs=1e-6)
    assert d.p_value > 0.05
    assert d.estimate - d.critical(0.05) * d.se == pytest.approx(low, rel=1e-9)


def test_degenerate_rates_fall_back_to_the_pooled_se() -> None:
    """0/50 against 50/50 has no unpooled variance; the pooled SE is used, with a note."""
    d = compare(
        mean_view(ArmSums(50, 0, 0), True, False),
        mean_view(ArmSums(50, 50, 50), True, False),
        "proportions",
    )
    assert isinstance(d, Difference)
    assert d.se == pytest.approx(np.sqrt(0.25 * (2 / 50)), rel=1e-12)
    assert d.statistic == pytest.approx(d.estimate / d.se)
    assert any("pooled SE" in n for n in d.notes)


def test_z_test_uses_the_normal_distribution() -> None:
    """frequentist_z_test: p-value from N(0, 1) (large-sample), unlike Welch's t."""
    rng = np.random.default_rng(4)
    c, t = rng.normal(0, 1, 12), rng.normal(0.5, 1, 12)
    views = [mean_view(ArmSums.from_values(x), False, False) for x in (c, t)]
    z = compare(*views, "z")
    w = compare(*views, "welch")
    assert isinstance(z, Difference) and isinstance(w, Difference)
    assert z.p_value == pytest.approx(2 * sps.norm.sf(abs(z.statistic)), rel=1e-12)
    assert w.p_value > z.p_value


@pytest.mark.parametrize(
    "control,treatment,fragment",
    [
        (ArmSums(0, 0, 0), ArmSums(10, 5, 5), "at least 2"),
        (ArmSums(1, 1, 1), ArmSums(10, 5, 5), "at least 2"),
        (ArmSums(10, 30, 90), ArmSums(10, 30, 90), "no variance"),
    ],
)
def test_not_estimable_cases_have_reasons(
    control: ArmSums, treatment: ArmSums, fragment: str
) -> None:
    """Zero units or zero variance give a reason instead of a division by zero."""
    out = compare(mean_view(control, False, False), mean_view(treatment, False, False), "welch")
    assert isinstance(out, NotEstimable)
    assert fragment in out.reason


def test_proportions_with_no_conversions_are_not_estimable() -> None:
    """0 conversions in both arms: no variance, a reason, no NaN."""
    out = compare(
        mean_view(ArmSums(500, 0, 0), True, False),
        mean_view(ArmSums(500, 0, 0), True, False),
        "proportions",
    )
    assert isinstance(out, NotEstimable)
    assert "no unit converted" in out.reason
