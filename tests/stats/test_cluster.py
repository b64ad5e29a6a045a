"""The cluster estimator against statsmodels' cluster-robust OLS and numpy by hand.

References: statsmodels ``OLS(y, [1, treated]).fit(cov_type="cluster")`` on the raw rows
(CR0 with ``use_correction=False``; CR1 with ``use_correction=True, df_correction=True`` and
``use_t=True``, p-value from t(G - 1)); numpy delta-method and regression-adjusted-ratio
computations on the same rows for ratio metrics and clustered CUPED (Deng, Knoblich & Lu
2018); scipy's Welch test for ``level: "cluster"``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats as sps

from splitlab.config import Experiment
from splitlab.stats import ArmSums, ExperimentSums, cluster
from splitlab.stats.difference import Difference
from tests.stats.cluster_data import Rows, arm_sums, totals, users_in_accounts
from tests.stats.helpers import experiment

REL = 1e-6


def _ols(rows: Rows, correction: bool) -> sm.regression.linear_model.RegressionResultsWrapper:
    design = sm.add_constant(rows.treated)
    kwds = {"groups": rows.cluster, "use_correction": correction, "df_correction": correction}
    return sm.OLS(rows.y, design).fit(cov_type="cluster", cov_kwds=kwds, use_t=correction)


def _ours(rows: Rows, correction: cluster.Correction, **kw: bool) -> Difference:
    (c_arm, c_sizes), (t_arm, t_sizes) = arm_sums(rows, 0, **kw), arm_sums(rows, 1, **kw)
    use_cuped = kw.get("covariate", False)
    result = cluster.compare_units(
        cluster.unit_view(c_arm, use_cuped),
        cluster.unit_view(t_arm, use_cuped),
        use_cuped=use_cuped,
        correction=correction,
        analysis_units=c_sizes.sum + t_sizes.sum,
    )
    assert isinstance(result, Difference)
    return result


@pytest.mark.parametrize("binary", [False, True], ids=["continuous", "conversion"])
def test_cr0_equals_statsmodels_cluster_without_correction(binary: bool) -> None:
    rows = users_in_accounts(np.random.default_rng(11), effect=0.3, binary=binary)
    ref = _ols(rows, correction=False)
    ours = _ours(rows, "CR0")
    assert ours.estimate == pytest.approx(ref.params[1], rel=REL)
    assert ours.se == pytest.approx(ref.bse[1], rel=REL)


@pytest.mark.parametrize("binary", [False, True], ids=["continuous", "conversion"])
def test_cr1_equals_statsmodels_corrected_with_t_on_g_minus_1(binary: bool) -> None:
    rows = users_in_accounts(np.random.default_rng(12), clusters=(25, 31), binary=binary)
    ref = _ols(rows, correction=True)
    ours = _ours(rows, "CR1")
    g = np.unique(rows.cluster).size
    assert ref.df_resid_inference == g - 1  # statsmodels' df with df_correction
    assert ours.df == g - 1
    assert ours.estimate == pytest.approx(ref.params[1], rel=REL)
    assert ours.se == pytest.approx(ref.bse[1], rel=REL)
    assert ours.p_value == pytest.approx(ref.pvalues[1], rel=REL)
    assert ours.statistic == pytest.approx(ref.tvalues[1], rel=REL)


def test_conversion_uses_the_empirical_cluster_variance_not_p_times_q() -> None:
    """With a strong account effect the clustered SE is far above the binomial one."""
    rows = users_in_accounts(np.random.default_rng(13), icc=0.6, mean_size=30, binary=True)
    ours = _ours(rows, "CR0")
    p_c, p_t = ours.control_mean, ours.treatment_mean
    n_c, n_t = (rows.treated == 0).sum(), (rows.treated == 1).sum()
    binomial = np.sqrt(p_c * (1 - p_c) / n_c + p_t * (1 - p_t) / n_t)
    assert ours.se > 1.5 * binomial


def _numpy_ratio(rows: Rows, numerator: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """Difference of ratios of totals and its CR1 SE, by hand (delta method per arm)."""
    parts = []
    for arm in (0, 1):
        sel = rows.treated == arm
        ids = np.unique(rows.cluster[sel])
        y_c = np.array([numerator[rows.cluster == c].sum() for c in ids])
        d_c = np.array([den[rows.cluster == c].sum() for c in ids])
        r = y_c.sum() / d_c.sum()
        parts.append((r, np.sum((y_c - r * d_c) ** 2) / d_c.sum() ** 2, ids.size))
    g = parts[0][2] + parts[1][2]
    n = rows.y.size
    factor = g / (g - 1) * (n - 1) / (n - 2)  # CR1 (Stata/statsmodels), K = 2
    return parts[1][0] - parts[0][0], float(np.sqrt(factor * (parts[0][1] + parts[1][1])))


def test_ratio_metric_equals_numpy_delta_method() -> None:
    rows = users_in_accounts(np.random.default_rng(14), effect=0.2)
    estimate, se = _numpy_ratio(rows, rows.y, rows.den)
    ours = _ours(rows, "CR1", ratio=True)
    assert ours.estimate == pytest.approx(estimate, rel=REL)
    assert ours.se == pytest.approx(se, rel=REL)


def _numpy_cuped(rows: Rows) -> tuple[float, float, float]:
    """The regression-adjusted ratio (Deng, Knoblich & Lu 2018) by hand on the rows.

    Per cluster: e_Y = Y_c - R_Y m_c and e_X = X_c - R_X m_c (both linearised as ratios);
    theta is the coefficient of L_X = e_X / mean(m) in the cluster-level OLS
    ``L_Y ~ 1 + treated + L_X`` (numpy lstsq), which is the within-arm pooled slope.
    """
    y_tot, x_tot = totals(rows, rows.y), totals(rows, rows.x)
    m_tot = totals(rows, np.ones_like(rows.y))
    arm = totals(rows, rows.treated) > 0
    ly, lx, rs, res = [], [], [], []
    for a in (False, True):
        y, x, m = y_tot[arm == a], x_tot[arm == a], m_tot[arm == a]
        r_y, r_x = y.sum() / m.sum(), x.sum() / m.sum()
        e_y, e_x = y - r_y * m, x - r_x * m
        ly.append(e_y / m.mean())
        lx.append(e_x / m.mean())
        rs.append((r_y, r_x, m.sum()))
        res.append((e_y, e_x))
    design = np.column_stack([np.ones(arm.size), np.r_[np.zeros(ly[0].size), np.ones(ly[1].size)],
                              np.r_[lx[0], lx[1]]])  # fmt: skip
    theta = float(np.linalg.lstsq(design, np.r_[ly[0], ly[1]], rcond=None)[0][2])
    estimate = (rs[1][0] - rs[0][0]) - theta * (rs[1][1] - rs[0][1])
    var0 = sum(
        np.sum((e_y - theta * e_x) ** 2) / r[2] ** 2 for (e_y, e_x), r in zip(res, rs, strict=True)
    )
    g, n = arm.size, rows.y.size
    return estimate, float(np.sqrt(g / (g - 1) * (n - 1) / (n - 2) * var0)), theta


def test_clustered_cuped_equals_numpy_regression_adjusted_ratio() -> None:
    rows = users_in_accounts(np.random.default_rng(15), effect=0.25)
    estimate, se, theta = _numpy_cuped(rows)
    ours = _ours(rows, "CR1", covariate=True)
    assert ours.theta == pytest.approx(theta, rel=REL)
    assert ours.estimate == pytest.approx(estimate, rel=REL)
    assert ours.se == pytest.approx(se, rel=REL)
    assert ours.se < 0.8 * _ours(rows, "CR1").se  # the covariate explains much of Y


def test_cluster_level_metric_is_welch_on_cluster_totals() -> None:
    rows = users_in_accounts(np.random.default_rng(16), effect=0.4)
    exp = experiment(
        assignment={"hashKey": "accountId"},
        design={"type": "cluster", "analysisUnit": "userId"},
        variants=["control", "variant-a"],
        metrics={"primary": {"name": "rev", "type": "continuous", "level": "cluster"},
                 "secondary": [], "guardrails": []},
    )  # fmt: skip
    (c_arm, c_sizes), (t_arm, t_sizes) = arm_sums(rows, 0), arm_sums(rows, 1)
    sums = ExperimentSums(
        {"control": c_arm.n, "variant-a": t_arm.n},
        {"rev": {"control": c_arm, "variant-a": t_arm}},
        cluster_sizes={"control": c_sizes, "variant-a": t_sizes},
    )
    diff, reason, _, units = cluster.estimate(exp, sums, exp.metrics.primary, "variant-a", {})
    assert reason is None and diff is not None
    y_c = totals(rows, rows.y)
    arm = totals(rows, rows.treated) > 0
    ref = sps.ttest_ind(y_c[arm], y_c[~arm], equal_var=False)  # scipy Welch on Y_c
    assert diff.statistic == pytest.approx(ref.statistic, rel=REL)
    assert diff.p_value == pytest.approx(ref.pvalue, rel=REL)
    assert units == (40, 45)


def test_cr1_factor_and_few_clusters_refused() -> None:
    # G/(G-1)*(N-1)/(N-K) with G = 10, N = 100, K = 2: 10/9 * 99/98 (by hand)
    assert cluster.cr1_factor(10, 100) == pytest.approx(10 / 9 * 99 / 98, rel=1e-12)
    assert cluster.cr1_factor(10, None) == pytest.approx(10 / 9, rel=1e-12)
    one = cluster.unit_view(ArmSums.from_values([3.0], None, [2.0]), False)
    two = cluster.unit_view(ArmSums.from_values([3.0, 1.0], None, [2.0, 1.0]), False)
    result = cluster.compare_units(one, two)
    assert not isinstance(result, Difference)
    assert "1 cluster(s)" in result.reason


def _one_metric(metric: dict[str, object]) -> Experiment:
    return experiment(
        assignment={"hashKey": "accountId"},
        design={"type": "cluster", "analysisUnit": "userId"},
        variants=["control", "variant-a"],
        metrics={"primary": metric, "secondary": [], "guardrails": []},
    )


def _sums(arms: tuple[ArmSums, ArmSums], sizes: tuple[ArmSums, ArmSums] | None) -> ExperimentSums:
    names = ("control", "variant-a")
    return ExperimentSums(
        {v: a.n for v, a in zip(names, arms, strict=True)},
        {"m": dict(zip(names, arms, strict=True))},
        cluster_sizes=None if sizes is None else dict(zip(names, sizes, strict=True)),
    )


def test_a_per_cluster_metric_with_one_cluster_says_clusters() -> None:
    """Each observation of a `level: "cluster"` metric is a cluster, and the reason says so."""
    exp = _one_metric({"name": "m", "type": "continuous", "level": "cluster"})
    arms = (ArmSums.from_values([4.0, 6.0, 9.0]), ArmSums.from_values([5.0]))
    diff, reason, _, units = cluster.estimate(exp, _sums(arms, None), exp.metrics.primary,
                                              "variant-a", {})  # fmt: skip
    assert diff is None and units == (3, 1)
    assert reason == "the variant has 1 cluster(s); at least 2 per arm are needed"


def test_ratio_metric_through_the_registry_entry_uses_n_from_cluster_sizes() -> None:
    rows = users_in_accounts(np.random.default_rng(17), effect=0.2)
    (c_arm, c_sizes), (t_arm, t_sizes) = (
        arm_sums(rows, 0, ratio=True),
        arm_sums(rows, 1, ratio=True),
    )
    exp = _one_metric({"name": "m", "type": "ratio", "numerator": "a", "denominator": "b"})
    diff, reason, _, _ = cluster.estimate(
        exp, _sums((c_arm, t_arm), (c_sizes, t_sizes)), exp.metrics.primary, "variant-a", {}
    )
    estimate, se = _numpy_ratio(rows, rows.y, rows.den)  # N = the rows (users)
    assert reason is None and diff is not None
    assert diff.estimate == pytest.approx(estimate, rel=REL)
    assert diff.se == pytest.approx(se, rel=REL)
    # Without clusterSizes a ratio metric's N is unknown: the factor is G/(G - 1) alone.
    bare, _, _, _ = cluster.estimate(
        exp, _sums((c_arm, t_arm), None), exp.metrics.primary, "variant-a", {}
    )
    n = rows.y.size
    assert bare is not None
    assert bare.se == pytest.approx(se / np.sqrt((n - 1) / (n - 2)), rel=REL)


def test_cuped_needs_the_covariate_times_denominator_sum() -> None:
    rows = users_in_accounts(np.random.default_rng(18))
    (c_arm, _), (t_arm, _) = arm_sums(rows, 0, covariate=True), arm_sums(rows, 1, covariate=True)
    assert c_arm.covariate is not None and t_arm.covariate is not None
    no_spd = [
        ArmSums(a.n, a.sum, a.sum_sq, replace(a.covariate, sum_product_denominator=None),
                a.denominator)
        for a in (c_arm, t_arm) if a.covariate is not None
    ]  # fmt: skip
    exp = _one_metric({"name": "m", "type": "continuous", "cuped": True})
    diff, _, notes, _ = cluster.estimate(
        exp, _sums((no_spd[0], no_spd[1]), None), exp.metrics.primary, "variant-a", {}
    )
    assert diff is not None and diff.theta is None
    assert any("sumProductDenominator" in n for n in notes)
    plain = _ours(rows, "CR1")
    assert diff.estimate == pytest.approx(plain.estimate, rel=REL)


def test_missing_denominator_is_not_estimable_with_a_reason() -> None:
    exp = _one_metric({"name": "m", "type": "continuous"})
    arm = ArmSums.from_values([3.0, 4.0, 8.0])
    diff, reason, _, units = cluster.estimate(
        exp, _sums((arm, arm), None), exp.metrics.primary, "variant-a", {}
    )
    assert diff is None and reason is not None and "denominator" in reason
    assert units == (3, 3)
