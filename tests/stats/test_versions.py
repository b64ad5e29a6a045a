"""SRM per weights version and the version-stratified analysis (splitlab.stats.versions).

References: scipy.stats.chisquare per version and scipy.stats.chi2.sf of the summed statistic
(the SRM); a hand computation in numpy of the stratified difference in means (Miratrix, Sekhon
& Yu 2013: effect = sum_v W_v (mean_t,v - mean_c,v), Var = sum_v W_v^2 (s2_t,v/n_t,v +
s2_c,v/n_c,v), W_v = N_v / N) and of its delta-method relative effect; statsmodels WLS with
version dummies for the point estimate of a cohort-weighted effect.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps

from splitlab.stats import analyze, srm
from splitlab.stats.sums import ArmSums, ExperimentSums, SliceSums
from splitlab.stats.versions import WeightsVersion, srm_by_version, version_slice
from tests.stats.helpers import experiment

T = datetime(2026, 11, 1, tzinfo=UTC)
ARMS = ("control", "treatment")
V2 = [
    WeightsVersion(0, T, {"control": 0.5, "treatment": 0.5}),
    WeightsVersion(1, T + timedelta(days=3), {"control": 0.2, "treatment": 0.8}),
]


def sticky(**over: Any) -> Any:
    base: dict[str, Any] = {
        "variants": [{"name": "control", "weight": 0.2}, {"name": "treatment", "weight": 0.8}],
        "assignment": {"sticky": True},
        "metrics": {
            "primary": {"name": "revenue", "type": "continuous"},
            "secondary": [],
            "guardrails": [],
        },
        "evaluation": {"correction": "none", "maxPeeks": 1},
    }
    return experiment(**{**base, **over})


# ----------------------------------------------------------------------------- SRM


@pytest.mark.parametrize(
    "counts",
    [
        [(5030, 4970), (2010, 7990)],
        [(700, 640), (400, 1450), (90, 110)],
    ],
)
def test_srm_matches_scipy_per_version_and_chi2_of_the_sum(counts: list[tuple[int, int]]) -> None:
    weights = [(0.5, 0.5), (0.2, 0.8), (0.5, 0.5)][: len(counts)]
    versions = [
        WeightsVersion(k, T + timedelta(days=k), dict(zip(ARMS, w, strict=True)))
        for k, w in enumerate(weights)
    ]
    units = [dict(zip(ARMS, map(float, c), strict=True)) for c in counts]
    got = srm_by_version(versions, units, ARMS, 0.01)
    stat = 0.0
    assert got.by_version is not None
    for part, c, w in zip(got.by_version, counts, weights, strict=True):
        ref = sps.chisquare(c, [sum(c) * x for x in w])  # scipy.stats.chisquare per version
        assert part.p_value == pytest.approx(ref.pvalue, rel=1e-9)
        assert part.statistic == pytest.approx(ref.statistic, rel=1e-12)
        stat += float(ref.statistic)
    # The sum of independent chi-squares: scipy.stats.chi2.sf(sum, sum of the dfs).
    assert got.statistic == pytest.approx(stat, rel=1e-12)
    assert got.p_value == pytest.approx(sps.chi2.sf(stat, len(counts)), rel=1e-9)
    assert got.counts == {a: sum(c[i] for c in counts) for i, a in enumerate(ARMS)}
    doc = got.to_dict()
    assert [p["version"] for p in doc["byWeightsVersion"]] == list(range(len(counts)))


def test_mixture_counts_pass_per_version_and_fail_against_the_current_weights() -> None:
    units = [{"control": 5030.0, "treatment": 4970.0}, {"control": 2010.0, "treatment": 7990.0}]
    pooled = {a: units[0][a] + units[1][a] for a in ARMS}
    assert not srm_by_version(V2, units, ARMS, 0.01).detected
    assert srm.check(pooled, ARMS, [0.2, 0.8], 0.01).detected


def test_a_variant_expected_nowhere_but_seen_is_a_mismatch() -> None:
    versions = [WeightsVersion(0, T, {"control": 1.0, "treatment": 0.0})]
    got = srm_by_version(versions, [{"control": 10.0, "treatment": 1.0}], ARMS, 0.01)
    assert got.detected and got.p_value == 0.0
    assert got.to_dict()["byWeightsVersion"][0]["statistic"] is None  # JSON has no infinity


def test_no_units_is_no_test_and_empty_versions_do_not_count() -> None:
    empty = srm_by_version(V2, [{}, {}], ARMS, 0.01)
    assert empty.p_value is None and not empty.detected
    one = srm_by_version(V2, [{"control": 520.0, "treatment": 480.0}, {}], ARMS, 0.01)
    ref = sps.chisquare([520, 480], [500, 500])
    assert one.p_value == pytest.approx(ref.pvalue, rel=1e-9)


# ----------------------------------------------------------------------------- effects


def _cohorts(rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    """Two cohorts with different baselines (10 then 13) and splits (50/50, 20/80)."""
    out = []
    for n_c, n_t, base in ((400, 410, 10.0), (150, 620, 13.0)):
        out.append(
            {
                "control": rng.normal(base, 4.0, n_c),
                "treatment": rng.normal(base + 0.3, 4.0, n_t),
            }
        )
    return out


def _sums(cohorts: list[dict[str, np.ndarray]]) -> ExperimentSums:
    parts = []
    for c in cohorts:
        arms = {a: ArmSums.from_values(c[a]) for a in ARMS}
        parts.append(SliceSums({a: arms[a].n for a in ARMS}, {"revenue": arms}))
    pooled = parts[0] + parts[1]
    segments = {version_slice(k): p for k, p in enumerate(parts)}
    return ExperimentSums(pooled.units, pooled.metrics, "exp-stats", 1, segments)


def test_stratified_effect_matches_a_numpy_hand_computation() -> None:
    cohorts = _cohorts(np.random.default_rng(11))
    results = analyze(sticky(), _sums(cohorts), 1, versions=V2)
    (cmp,) = results.metrics[0].comparisons
    # By hand (numpy): W_v = N_v / N; effect = sum W_v d_v; Var = sum W_v^2 (s2_t/n_t + s2_c/n_c).
    sizes = np.array([c["control"].size + c["treatment"].size for c in cohorts], float)
    w = sizes / sizes.sum()
    d = np.array([c["treatment"].mean() - c["control"].mean() for c in cohorts])
    v = np.array(
        [
            c["treatment"].var(ddof=1) / c["treatment"].size
            + c["control"].var(ddof=1) / c["control"].size
            for c in cohorts
        ]
    )
    effect, se = float(w @ d), math.sqrt(float(w**2 @ v))
    # Welch-Satterthwaite df of sum W_v^2 Var(d_v) from each version's Welch df.
    df_v = []
    for c in cohorts:
        a = c["treatment"].var(ddof=1) / c["treatment"].size
        b = c["control"].var(ddof=1) / c["control"].size
        df_v.append(
            (a + b) ** 2 / (a * a / (c["treatment"].size - 1) + b * b / (c["control"].size - 1))
        )
    parts = w**2 * v
    df = float(parts.sum() ** 2 / np.sum(parts**2 / np.array(df_v)))
    assert cmp.absolute is not None and cmp.absolute.estimate == pytest.approx(effect, rel=1e-9)
    q = sps.t.ppf(0.975, df)
    assert cmp.absolute.lower == pytest.approx(effect - q * se, rel=1e-7)
    assert cmp.p_value == pytest.approx(2 * sps.t.sf(abs(effect / se), df), rel=1e-6)
    # Relative effect, delta method on (effect, m_c) with m_c = sum W_v mean_c,v:
    # Var = Var(e)/m^2 - 2 e Cov(e, m)/m^3 + e^2 Var(m)/m^4, Cov(e, m) = -Var(m).
    m_c = float(w @ np.array([c["control"].mean() for c in cohorts]))
    var_m = float(w**2 @ np.array([c["control"].var(ddof=1) / c["control"].size for c in cohorts]))
    rel = effect / m_c
    se_rel = math.sqrt(se**2 / m_c**2 + 2 * effect * var_m / m_c**3 + effect**2 * var_m / m_c**4)
    assert cmp.relative is not None and cmp.relative.estimate == pytest.approx(rel, rel=1e-9)
    assert cmp.relative.upper == pytest.approx(rel + q * se_rel, rel=1e-6)
    assert cmp.control_mean == pytest.approx(m_c, rel=1e-9)
    assert results.srm.by_version is not None


def test_point_estimate_equals_statsmodels_wls_with_version_dummies() -> None:
    """Regressing y on treatment x version indicators (cell means) and averaging the
    per-version treatment coefficients with weights N_v / N gives the same estimate."""
    sm = pytest.importorskip("statsmodels.api")
    cohorts = _cohorts(np.random.default_rng(12))
    y, x = [], []
    for k, c in enumerate(cohorts):
        for a in ARMS:
            y.append(c[a])
            cols = np.zeros((c[a].size, 4))
            cols[:, 2 * k] = 1.0  # version k's intercept
            cols[:, 2 * k + 1] = 1.0 if a == "treatment" else 0.0  # its treatment effect
            x.append(cols)
    fit = sm.WLS(np.concatenate(y), np.vstack(x), weights=np.ones(sum(map(len, y)))).fit()
    sizes = np.array([sum(len(c[a]) for a in ARMS) for c in cohorts], float)
    expected = float(sizes @ fit.params[[1, 3]] / sizes.sum())
    (cmp,) = analyze(sticky(), _sums(cohorts), 1, versions=V2).metrics[0].comparisons
    assert cmp.absolute is not None and cmp.absolute.estimate == pytest.approx(expected, rel=1e-9)


def test_one_version_is_the_classic_analysis() -> None:
    cohorts = _cohorts(np.random.default_rng(13))
    sums = _sums(cohorts)
    plain = analyze(sticky(), sums, 1).to_dict()
    assert analyze(sticky(), sums, 1, versions=V2[:1]).to_dict() == plain
    assert "byWeightsVersion" not in plain["srm"]
    # Not sticky: the versions are not used (nothing kept units in their first variant).
    loose = experiment(
        variants=[{"name": "control", "weight": 0.2}, {"name": "treatment", "weight": 0.8}],
        metrics={"primary": {"name": "revenue", "type": "continuous"}, "secondary": [],
                 "guardrails": []},
        evaluation={"correction": "none", "maxPeeks": 1},
    )  # fmt: skip
    assert "byWeightsVersion" not in analyze(loose, sums, 1, versions=V2).to_dict()["srm"]


def test_a_version_too_small_to_compare_is_left_out_with_a_note() -> None:
    rng = np.random.default_rng(14)
    cohorts = _cohorts(rng)
    cohorts.append({"control": rng.normal(13, 4, 1), "treatment": rng.normal(13, 4, 5)})
    parts = []
    for c in cohorts:
        arms = {a: ArmSums.from_values(c[a]) for a in ARMS}
        parts.append(SliceSums({a: arms[a].n for a in ARMS}, {"revenue": arms}))
    pooled = parts[0] + parts[1] + parts[2]
    sums = ExperimentSums(pooled.units, pooled.metrics, "exp-stats", 1,
                          {version_slice(k): p for k, p in enumerate(parts)})  # fmt: skip
    three = [*V2, WeightsVersion(2, T + timedelta(days=5), {"control": 0.2, "treatment": 0.8})]
    (cmp,) = analyze(sticky(), sums, 1, versions=three).metrics[0].comparisons
    (two,) = analyze(sticky(), _sums(cohorts[:2]), 1, versions=V2).metrics[0].comparisons
    assert cmp.absolute is not None and two.absolute is not None
    assert cmp.absolute.estimate == pytest.approx(two.absolute.estimate, rel=1e-12)
    assert any("v2 (control has 1 unit(s)" in n for n in cmp.notes)


def test_bayesian_conversion_takes_the_normal_model_when_stratified() -> None:
    """A weighted combination of versions is not a Beta-binomial count: the chance to beat
    control is Phi(effect / SE) of the stratified estimate (the normal model)."""
    rng = np.random.default_rng(15)
    cohorts = [
        {"control": rng.random(500) < 0.10, "treatment": rng.random(500) < 0.11},
        {"control": rng.random(200) < 0.20, "treatment": rng.random(800) < 0.21},
    ]
    parts = []
    for c in cohorts:
        arms = {a: ArmSums.from_values(c[a].astype(float)) for a in ARMS}
        parts.append(SliceSums({a: arms[a].n for a in ARMS}, {"buy": arms}))
    pooled = parts[0] + parts[1]
    sums = ExperimentSums(pooled.units, pooled.metrics, "exp-stats", 1,
                          {version_slice(k): p for k, p in enumerate(parts)})  # fmt: skip
    exp = sticky(
        metrics={"primary": {"name": "buy", "type": "conversion"}, "secondary": [],
                 "guardrails": []},
        evaluation={"method": "bayesian", "correction": "none", "maxPeeks": 1},
    )  # fmt: skip
    (cmp,) = analyze(exp, sums, 1, versions=V2).metrics[0].comparisons
    assert cmp.absolute is not None and cmp.bayesian is not None
    sizes = np.array([sum(c[a].size for a in ARMS) for c in cohorts], float)
    w = sizes / sizes.sum()
    d = np.array([c["treatment"].mean() - c["control"].mean() for c in cohorts])
    v = np.array([sum(c[a].mean() * (1 - c[a].mean()) / c[a].size for a in ARMS) for c in cohorts])
    effect, se = float(w @ d), math.sqrt(float(w**2 @ v))
    assert cmp.bayesian.chance_to_beat_control == pytest.approx(sps.norm.cdf(effect / se), rel=1e-6)


# ------------------------------------------------- more references, one per kind of metric

V3 = [*V2, WeightsVersion(2, T + timedelta(days=6), {"control": 0.3, "treatment": 0.7})]


def _three(kind: str, rng: np.random.Generator) -> list[dict[str, tuple[Any, Any, Any]]]:
    """Three cohorts (baselines 10, 13, 12; splits 50/50, 20/80, 30/70): per arm the metric,
    the CUPED covariate and the ratio's denominator (None when unused)."""
    out = []
    for n_c, n_t, base in ((400, 410, 10.0), (150, 620, 13.0), (90, 240, 12.0)):
        cohort: dict[str, tuple[Any, Any, Any]] = {}
        for arm, n, lift in (("control", n_c, 0.0), ("treatment", n_t, 0.4)):
            x = rng.normal(base, 3.0, n)
            if kind == "cuped":
                cohort[arm] = (0.8 * x + rng.normal(lift, 2.0, n), x, None)
            elif kind == "ratio":
                d = rng.poisson(3.0, n) + 1.0
                cohort[arm] = (d * rng.normal(base / 3 + lift, 1.0, n), None, d)
            elif kind == "conversion":
                p = 0.1 + base / 200 + (0.02 if arm == "treatment" else 0.0)
                cohort[arm] = ((rng.random(n) < p).astype(float), None, None)
            else:
                cohort[arm] = (rng.normal(base + lift, 4.0, n), None, None)
        out.append(cohort)
    return out


def _three_sums(cohorts: list[dict[str, tuple[Any, Any, Any]]], name: str) -> ExperimentSums:
    parts = []
    for c in cohorts:
        arms = {a: ArmSums.from_values(*c[a]) for a in ARMS}
        parts.append(SliceSums({a: arms[a].n for a in ARMS}, {name: arms}))
    pooled = parts[0] + parts[1] + parts[2]
    segments = {version_slice(k): p for k, p in enumerate(parts)}
    return ExperimentSums(pooled.units, pooled.metrics, "exp-stats", 1, segments)


def _weights(cohorts: list[dict[str, tuple[Any, Any, Any]]]) -> np.ndarray:
    sizes = np.array([sum(len(c[a][0]) for a in ARMS) for c in cohorts], float)
    return sizes / sizes.sum()


def _compare(cohorts: list[dict[str, tuple[Any, Any, Any]]], metric: dict[str, Any]) -> Any:
    exp = sticky(metrics={"primary": metric, "secondary": [], "guardrails": []})
    results = analyze(exp, _three_sums(cohorts, metric["name"]), 1, versions=V3)
    (cmp,) = results.metrics[0].comparisons
    return cmp


def _combined_p(w: np.ndarray, est: list[float], var: list[float], dfs: list[float]) -> float:
    effect, parts = float(w @ np.array(est)), w**2 * np.array(var)
    df = float(parts.sum() ** 2 / np.sum(parts**2 / np.array(dfs)))  # Satterthwaite 1946
    return float(2 * sps.t.sf(abs(effect) / math.sqrt(parts.sum()), df))


def test_the_variance_is_statsmodels_hc2_of_a_saturated_regression() -> None:
    """OLS of y on version intercepts and version x treatment indicators with HC2 standard
    errors gives each cell's Welch variance; the contrast sum_v W_v beta_v and its SE
    (statsmodels ``t_test``) are the stratified effect and its SE."""
    sm = pytest.importorskip("statsmodels.api")
    cohorts = _three("continuous", np.random.default_rng(21))
    y, x = [], []
    for k, c in enumerate(cohorts):
        for a in ARMS:
            cols = np.zeros((len(c[a][0]), 6))
            cols[:, 2 * k] = 1.0
            cols[:, 2 * k + 1] = 1.0 if a == "treatment" else 0.0
            y.append(c[a][0])
            x.append(cols)
    fit = sm.OLS(np.concatenate(y), np.vstack(x)).fit(cov_type="HC2")
    contrast = np.zeros(6)
    contrast[[1, 3, 5]] = _weights(cohorts)
    ref = fit.t_test(contrast)  # statsmodels OLS, HC2, linear contrast
    ref_effect = float(np.asarray(ref.effect).ravel()[0])
    ref_se = float(np.asarray(ref.sd).ravel()[0])
    cmp = _compare(cohorts, {"name": "revenue", "type": "continuous"})
    assert cmp.absolute.estimate == pytest.approx(ref_effect, rel=1e-9)
    # The SE enters the p-value with the Satterthwaite df of the versions' Welch dfs.
    dfs = []
    for c in cohorts:
        v = {a: c[a][0].var(ddof=1) / len(c[a][0]) for a in ARMS}
        dfs.append(sum(v.values()) ** 2 / sum(v[a] ** 2 / (len(c[a][0]) - 1) for a in ARMS))
    w = _weights(cohorts)
    welch = [sum(c[a][0].var(ddof=1) / len(c[a][0]) for a in ARMS) for c in cohorts]
    parts = w**2 * np.array(welch)  # sum_v W_v^2 Var_v, by hand
    assert math.sqrt(parts.sum()) == pytest.approx(ref_se, rel=1e-9)
    df = float(parts.sum() ** 2 / np.sum(parts**2 / np.array(dfs)))
    assert cmp.p_value == pytest.approx(2 * sps.t.sf(abs(ref_effect) / ref_se, df), rel=1e-6)


def test_cuped_within_versions_matches_statsmodels_ols_per_version() -> None:
    """CUPED with theta pooled over both arms of a version is, for the point estimate, the
    treatment coefficient of OLS y ~ 1 + T + x within that version (statsmodels); its
    variance is the Welch variance of the adjusted values (numpy)."""
    sm = pytest.importorskip("statsmodels.api")
    cohorts = _three("cuped", np.random.default_rng(22))
    est, var, dfs = [], [], []
    for c in cohorts:
        y = np.concatenate([c[a][0] for a in ARMS])
        x = np.concatenate([c[a][1] for a in ARMS])
        t = np.concatenate([np.zeros(len(c["control"][0])), np.ones(len(c["treatment"][0]))])
        fit = sm.OLS(y, np.column_stack([np.ones_like(y), t, x])).fit()  # statsmodels OLS
        est.append(float(fit.params[1]))
        adjusted = {a: c[a][0] - fit.params[2] * c[a][1] for a in ARMS}
        v = {a: adjusted[a].var(ddof=1) / len(adjusted[a]) for a in ARMS}
        var.append(sum(v.values()))
        dfs.append(sum(v.values()) ** 2 / sum(v[a] ** 2 / (len(adjusted[a]) - 1) for a in ARMS))
    w = _weights(cohorts)
    cmp = _compare(cohorts, {"name": "revenue", "type": "continuous", "cuped": True})
    assert cmp.absolute.estimate == pytest.approx(float(w @ np.array(est)), rel=1e-9)
    assert cmp.p_value == pytest.approx(_combined_p(w, est, var, dfs), rel=1e-6)
    assert "CUPED theta estimated within each weights version" in cmp.notes


def test_ratio_metrics_within_versions_match_the_delta_method_by_hand() -> None:
    """Per version R = sum Y / sum D per arm, Var from the linearised L = (Y - R D) / mean D
    (Deng, Knoblich & Lu 2018), by hand in numpy; combined with W_v = N_v / N."""
    cohorts = _three("ratio", np.random.default_rng(23))
    est, var, dfs = [], [], []
    for c in cohorts:
        r, v = {}, {}
        for a in ARMS:
            y, _, d = c[a]
            r[a] = y.sum() / d.sum()
            v[a] = ((y - r[a] * d) / d.mean()).var(ddof=1) / len(y)
        est.append(r["treatment"] - r["control"])
        var.append(sum(v.values()))
        dfs.append(sum(v.values()) ** 2 / sum(v[a] ** 2 / (len(c[a][0]) - 1) for a in ARMS))
    w = _weights(cohorts)
    metric = {"name": "rpv", "type": "ratio", "numerator": "rev", "denominator": "visits"}
    cmp = _compare(cohorts, metric)
    assert cmp.absolute.estimate == pytest.approx(float(w @ np.array(est)), rel=1e-9)
    assert cmp.p_value == pytest.approx(_combined_p(w, est, var, dfs), rel=1e-6)


def test_conversions_within_versions_match_statsmodels_wald() -> None:
    """Per version the two-proportion Wald variance of statsmodels'
    ``test_proportions_2indep(method="wald")``; combined, a z test."""
    proportion = pytest.importorskip("statsmodels.stats.proportion")
    cohorts = _three("conversion", np.random.default_rng(24))
    est, var = [], []
    for c in cohorts:
        xt, nt = c["treatment"][0].sum(), len(c["treatment"][0])
        xc, nc = c["control"][0].sum(), len(c["control"][0])
        ref = proportion.test_proportions_2indep(xt, nt, xc, nc, method="wald", compare="diff")
        est.append(float(ref.diff))
        var.append(float((ref.diff / ref.statistic) ** 2))
    w = _weights(cohorts)
    effect, se = float(w @ np.array(est)), math.sqrt(float(w**2 @ np.array(var)))
    cmp = _compare(cohorts, {"name": "buy", "type": "conversion"})
    assert cmp.absolute.estimate == pytest.approx(effect, rel=1e-9)
    assert cmp.p_value == pytest.approx(2 * sps.norm.sf(abs(effect) / se), rel=1e-9)


def test_a_version_with_no_unit_in_an_arm() -> None:
    """A version whose control got no unit: its SRM term is a mismatch (scipy.stats.chisquare
    of [0, 50] against 20/80 of 50: (0 - 10)^2 / 10 + (50 - 40)^2 / 40 = 12.5), and its
    comparison is left out with a note, the estimate being version 0's alone."""
    rng = np.random.default_rng(25)
    first = {a: ArmSums.from_values(rng.normal(10, 4, 300)) for a in ARMS}
    v0 = SliceSums({a: first[a].n for a in ARMS}, {"revenue": first})
    late = ArmSums.from_values(rng.normal(13, 4, 50))
    v1 = SliceSums({"treatment": late.n}, {"revenue": {"treatment": late}})  # no control key
    pooled = v0 + v1
    sums = ExperimentSums(pooled.units, pooled.metrics, "exp-stats", 1,
                          {version_slice(0): v0, version_slice(1): v1})  # fmt: skip
    results = analyze(sticky(), sums, 1, versions=V2)
    assert results.srm.by_version is not None
    ref = sps.chisquare([0, 50], [10, 40])  # scipy.stats.chisquare
    assert results.srm.by_version[1].statistic == pytest.approx(12.5, rel=1e-12)
    assert results.srm.by_version[1].p_value == pytest.approx(ref.pvalue, rel=1e-9)
    v0_stat = float(sps.chisquare([300, 300]).statistic)  # version 0: 300 and 300 at 50/50
    # scipy.stats.chi2.sf of the summed statistic on 1 + 1 degrees of freedom
    assert results.srm.p_value == pytest.approx(sps.chi2.sf(v0_stat + 12.5, 2), rel=1e-9)
    (cmp,) = results.metrics[0].comparisons
    classic = analyze(sticky(variants=[{"name": "control", "weight": 0.5},
                                       {"name": "treatment", "weight": 0.5}]),
                      ExperimentSums(v0.units, v0.metrics, "exp-stats", 1), 1)  # fmt: skip
    assert cmp.absolute.estimate == pytest.approx(
        classic.metrics[0].comparisons[0].absolute.estimate, rel=1e-12
    )
    assert any("v1 (control has 0 unit(s)" in n for n in cmp.notes)
