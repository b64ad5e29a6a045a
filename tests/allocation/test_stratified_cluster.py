"""The stratified and paired cluster estimators against statsmodels and the papers' formulas."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from splitlab.stats.errors import StatsError
from splitlab.stats.stratified_cluster import stratified_cluster_difference
from splitlab.stats.sums import ArmSums

RNG_SEED = 20261204


def clusters(n_strata: int, per_arm: list[int], seed: int = RNG_SEED) -> pd.DataFrame:
    """Cluster-level data: stratum, arm, size D (users), total Y; effects differ by stratum."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n_strata):
        for arm in ("control", "treat"):
            g = per_arm[k]
            d = rng.integers(20, 400, size=g).astype(float)
            rate = 2.0 + k + (0.3 + 0.1 * k if arm == "treat" else 0.0)
            y = d * rate + rng.normal(0.0, 4.0 + k, size=g) * np.sqrt(d)
            rows += [(f"s{k}", arm, di, yi) for di, yi in zip(d, y, strict=True)]
    return pd.DataFrame(rows, columns=["stratum", "arm", "d", "y"])


def sums_of(frame: pd.DataFrame) -> dict[str, dict[str, ArmSums]]:
    """Per stratum and arm, the cluster sums (ArmSums over clusters with a denominator)."""
    out: dict[str, dict[str, ArmSums]] = {}
    for (stratum, arm), part in frame.groupby(["stratum", "arm"]):
        out.setdefault(str(stratum), {})[str(arm)] = ArmSums.from_values(
            part["y"].to_numpy(), denominator=part["d"].to_numpy()
        )
    return out


def test_stratified_cluster_level_matches_cell_means_regression_with_hc2() -> None:
    """Cluster level: Σ W_k (mean_tk - mean_ck) and Σ W_k² (s²_t/G_t + s²_c/G_c).

    Reference: statsmodels OLS of Y_c on one dummy per stratum x arm cell with HC2
    covariance, whose diagonal is exactly s²_cell / G_cell (MacKinnon & White 1985); the
    effect is the W-weighted contrast of the cell coefficients and its variance w' V w.
    """
    frame = clusters(4, [5, 6, 8, 4])
    got = stratified_cluster_difference(sums_of(frame), "control", "treat", level="cluster")
    frame["cell"] = frame["stratum"] + ":" + frame["arm"]
    fit = smf.ols("y ~ 0 + C(cell)", frame).fit(cov_type="HC2")
    sizes = frame.groupby("stratum").size()
    weights = sizes / sizes.sum()
    contrast = np.zeros(len(fit.params))
    for i, name in enumerate(fit.params.index):
        stratum, arm = name[len("C(cell)[") : -1].split(":")
        contrast[i] = weights[stratum] * (1.0 if arm == "treat" else -1.0)
    assert got.estimate == pytest.approx(float(contrast @ fit.params), rel=1e-10)
    se = math.sqrt(float(contrast @ fit.cov_params().to_numpy() @ contrast))
    assert got.standard_error == pytest.approx(se, rel=1e-9)
    assert got.df == len(frame) - 8 and got.strata_used == 4


def test_stratified_equals_fixed_effects_ols_when_every_stratum_splits_alike() -> None:
    """With the same treated share in every stratum, the cluster-weighted stratified effect
    is the OLS coefficient of treat with stratum fixed effects (statsmodels)."""
    frame = clusters(4, [6, 6, 9, 3])
    got = stratified_cluster_difference(sums_of(frame), "control", "treat", level="cluster")
    frame["treat"] = (frame["arm"] == "treat").astype(float)
    fit = smf.ols("y ~ treat + C(stratum)", frame).fit()
    assert got.estimate == pytest.approx(float(fit.params["treat"]), rel=1e-10)


def test_stratified_unit_level_matches_weighted_regression() -> None:
    """Unit level: per cell the ratio Σ Y / Σ D and its delta-method variance.

    Reference: statsmodels WLS of the cluster means Y_c / D_c on cell dummies, weights D_c
    (its coefficients are the ratios of totals) with the HC0 sandwich, which per cell is
    Σ (Y_c - R D_c)² / (Σ D_c)²; the delta method of Donner & Klar (2000) multiplies it by
    G / (G - 1). Stratum weights are the strata's shares of analysis units.
    """
    frame = clusters(3, [7, 5, 9])
    got = stratified_cluster_difference(sums_of(frame), "control", "treat", level="unit")
    frame["cell"] = frame["stratum"] + ":" + frame["arm"]
    frame["mean"] = frame["y"] / frame["d"]
    fit = smf.wls("mean ~ 0 + C(cell)", frame, weights=frame["d"]).fit(cov_type="HC0")
    counts = frame.groupby("cell").size()
    units = frame.groupby("stratum")["d"].sum()
    weights = units / units.sum()
    estimate = variance = 0.0
    for name, coef in fit.params.items():
        cell = str(name)[len("C(cell)[") : -1]
        stratum, arm = cell.split(":")
        sign = 1.0 if arm == "treat" else -1.0
        g = counts[cell]
        estimate += weights[stratum] * sign * coef
        variance += weights[stratum] ** 2 * fit.cov_params().loc[name, name] * g / (g - 1)
    assert got.estimate == pytest.approx(estimate, rel=1e-10)
    assert got.standard_error == pytest.approx(math.sqrt(variance), rel=1e-9)


def paired_frame(m: int, seed: int, equal_sizes: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for j in range(m):
        base = rng.normal(10.0, 3.0)
        size = rng.integers(50, 500)
        for arm in ("control", "treat"):
            d = float(size if equal_sizes else rng.integers(50, 500))
            mean = base + (0.8 if arm == "treat" else 0.0) + rng.normal(0.0, 1.0)
            rows.append((f"pair-{j:02d}", arm, d, mean * d))
    return pd.DataFrame(rows, columns=["stratum", "arm", "d", "y"])


def test_paired_cluster_level_matches_pair_fixed_effects_ols() -> None:
    """Cluster level pairs: mean of d_j and s_d / sqrt(m), which is OLS of Y_c on treat with
    pair fixed effects (statsmodels): same coefficient, standard error and m - 1 df."""
    frame = paired_frame(30, 1, equal_sizes=False)
    got = stratified_cluster_difference(
        sums_of(frame), "control", "treat", level="cluster", paired=True
    )
    frame["treat"] = (frame["arm"] == "treat").astype(float)
    fit = smf.ols("y ~ treat + C(stratum)", frame).fit()
    assert got.estimate == pytest.approx(float(fit.params["treat"]), rel=1e-10)
    assert got.standard_error == pytest.approx(float(fit.bse["treat"]), rel=1e-9)
    assert got.df == fit.df_resid == 29
    lower, upper = fit.conf_int().loc["treat"]
    assert (got.lower, got.upper) == (pytest.approx(lower), pytest.approx(upper))


def test_paired_unit_level_is_imai_king_nall() -> None:
    """Unit level pairs: Imai, King & Nall (2009), eqs. 3 and 6, in the paper's notation:
    psi = (1/n) Σ_k (n1k + n2k) psi_k, Var = m / ((m - 1) n²) Σ_k ((n1k + n2k) psi_k - n psi / m)²
    with psi_k the difference of the two clusters' means and n = Σ_k (n1k + n2k)."""
    frame = paired_frame(25, 2, equal_sizes=False)
    got = stratified_cluster_difference(
        sums_of(frame), "control", "treat", level="unit", paired=True
    )
    wide = frame.pivot(index="stratum", columns="arm", values=["y", "d"])
    n_k = (wide["d"]["treat"] + wide["d"]["control"]).to_numpy()
    psi_k = wide["y"]["treat"] / wide["d"]["treat"] - wide["y"]["control"] / wide["d"]["control"]
    psi_k = psi_k.to_numpy()
    m, n = len(n_k), n_k.sum()
    psi = float((n_k * psi_k).sum() / n)
    var = m / ((m - 1) * n**2) * float(((n_k * psi_k - n * psi / m) ** 2).sum())
    assert got.estimate == pytest.approx(psi, rel=1e-10)
    assert got.standard_error == pytest.approx(math.sqrt(var), rel=1e-9)


def test_strata_without_both_arms_or_a_variance_are_left_out_and_named() -> None:
    """A stratum lacking the treatment arm, or with one cluster in an arm, is named."""
    frame = clusters(3, [4, 4, 4])
    sums = sums_of(frame)
    del sums["s1"]["treat"]
    sums["s2"]["treat"] = ArmSums.from_values([5.0], denominator=[10.0])
    got = stratified_cluster_difference(sums, "control", "treat", level="unit")
    assert got.strata_dropped == ("s1", "s2") and got.strata_used == 1
    with pytest.raises(StatsError, match="two or more clusters in both arms"):
        stratified_cluster_difference({"s2": sums["s2"]}, "control", "treat")
    with pytest.raises(StatsError, match="denominator"):
        stratified_cluster_difference(
            {"s": {"control": ArmSums(3, 1, 1), "treat": ArmSums(3, 1, 1)}}, "control", "treat"
        )


def _coverage(paired: bool, runs: int = 2000) -> float:
    """Share of 95% intervals covering the true effect over `runs` fixed-seed experiments."""
    rng = np.random.default_rng(7 if paired else 8)
    covered = 0
    true = 0.5
    for _ in range(runs):
        strata: dict[str, dict[str, ArmSums]] = {}
        if paired:
            base = rng.normal(0.0, 3.0, size=20)
            for j in range(20):
                y = base[j] + np.array([0.0, true]) + rng.normal(0.0, 1.0, size=2)
                strata[f"p{j}"] = {
                    "c": ArmSums.from_values(y[:1]),
                    "t": ArmSums.from_values(y[1:]),
                }
        else:
            for k, (g, sd) in enumerate(((4, 1.0), (6, 1.5), (8, 2.0), (12, 1.0))):
                y_c = k + rng.normal(0.0, sd, size=g)
                y_t = k + true + rng.normal(0.0, sd, size=g)
                strata[f"s{k}"] = {"c": ArmSums.from_values(y_c), "t": ArmSums.from_values(y_t)}
        d = stratified_cluster_difference(strata, "c", "t", level="cluster", paired=paired)
        covered += d.lower <= true <= d.upper
    return covered / runs


@pytest.mark.parametrize("paired", [False, True])
def test_intervals_cover_at_their_level(paired: bool) -> None:
    """2,000 simulated experiments: 95% intervals cover the effect 95% of the time, within 3
    Monte Carlo standard errors (sqrt(0.95 * 0.05 / 2000) = 0.0049)."""
    assert abs(_coverage(paired) - 0.95) < 3 * math.sqrt(0.95 * 0.05 / 2000)


@pytest.mark.parametrize("paired", [True, False])
def test_a_stratum_with_no_denominator_yet_is_left_out_like_a_missing_arm(paired: bool) -> None:
    """A tenant with no orders yet (Σ D_c = 0 in control) would otherwise make the whole
    comparison fail; it is named in strata_dropped and the other sets give the estimate,
    exactly the estimate computed without it."""
    frame = paired_frame(30, 3, equal_sizes=False) if paired else clusters(3, [4, 4, 4])
    sums = sums_of(frame)
    label = sorted(sums)[7 if paired else 1]
    good = {k: v for k, v in sums.items() if k != label}
    sums[label]["control"] = ArmSums.from_values([0.0] * (1 if paired else 4),
                                                 denominator=[0.0] * (1 if paired else 4))  # fmt: skip
    got = stratified_cluster_difference(sums, "control", "treat", level="unit", paired=paired)
    want = stratified_cluster_difference(good, "control", "treat", level="unit", paired=paired)
    assert got.strata_dropped == (label,)
    assert got.strata_used == (29 if paired else 2)
    assert got.estimate == pytest.approx(want.estimate, rel=1e-12)
    assert got.standard_error == pytest.approx(want.standard_error, rel=1e-12)
