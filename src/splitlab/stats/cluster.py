"""Cluster-randomised experiments: the difference of ratios of cluster totals, and its checks.

The clusters (``assignment.hashKey``, e.g. accounts) are randomised; the metrics are measured
per analysis unit (``design.analysisUnit``, e.g. users). The store sends sums over clusters:
per arm ``n = G`` clusters, ``sum = sum Y_c``, ``sumSq = sum Y_c^2`` with Y_c the cluster's
total, and the denominator ``D_c`` (the cluster's analysis units, or its total of a ratio
metric's denominator) with ``sum D_c``, ``sum D_c^2``, ``sum Y_c D_c``.

* ``level: "unit"`` (per-unit means, rates and ratios): ``R = sum Y_c / sum D_c``, whose
  cluster-robust (CR0) variance is ``sum_c (Y_c - R D_c)^2 / (sum D_c)^2`` (Liang & Zeger
  1986; for a difference of two arms it is exactly the cluster-robust variance of the
  treatment coefficient of the regression ``y ~ treated``). The difference's variance is
  multiplied by the CR1 factor ``c = G/(G - 1) * (N - 1)/(N - K)`` (G clusters and N analysis
  units in the two arms, K = 2; Stata's and statsmodels' default, Cameron & Miller 2015) and
  the test uses Student's t with G - 1 degrees of freedom (``frequentist_z_test``: normal).
  A conversion rate uses the same empirical cluster variance, never ``p(1 - p)``.
* ``level: "cluster"``: each cluster's total Y_c is one observation; Welch's test on the
  cluster means (:func:`splitlab.stats.difference.compare`, with its Welch-Satterthwaite df).
* CUPED (``level: "unit"``): the regression-adjusted ratio of Deng, Knoblich & Lu 2018
  ("Applying the Delta Method in Metric Analytics", KDD): both the metric and the covariate
  are linearised as ratios, ``L_Y = (Y_c - R_Y D_c)/mean(D)`` and
  ``L_X = (X_c - R_X D_c)/mean(D)`` with ``R_X = sum X_c / sum D_c``; theta is pooled across
  arms as in :mod:`splitlab.stats.cuped`; the adjusted difference is
  ``(R_Y,t - R_Y,c) - theta (R_X,t - R_X,c)`` with CR0 variance
  ``sum_c (e_Y,c - theta e_X,c)^2 / (sum D_c)^2`` per arm, then the CR1 factor.

docs/statistics.md, "Cluster-randomised experiments", has every formula with its source.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from scipy import special

from splitlab.config import Experiment, Metric, MetricType
from splitlab.stats.difference import (
    Difference,
    NotEstimable,
    adjusted_arms,
    compare,
    overflowed,
    too_few,
    two_sided_p,
    welch_df,
)
from splitlab.stats.moments import ArmView, mean_view, sample_cov, sample_var
from splitlab.stats.ratio import ratio_view
from splitlab.stats.sums import ArmSums, ExperimentSums, arm_pair, count

Correction = Literal["CR0", "CR1"]

#: The small-sample correction applied to every cluster analysis (CR1, as Stata and
#: statsmodels define it; Cameron & Miller 2015).
SMALL_SAMPLE_CORRECTION: Correction = "CR1"
#: Parameters of the regression ``y ~ 1 + treated`` whose coefficient is the difference.
K_PARAMETERS = 2
#: Fewer clusters than this in an arm: the t(G - 1) approximation of the cluster-robust test
#: is doubtful. Cameron & Miller (2015, "A Practitioner's Guide to Cluster-Robust Inference",
#: J. Human Resources 50:317, section VI) put "few" clusters somewhere between fewer than 20
#: and fewer than 50 in balanced designs; 20 per arm is 40 in a two-arm test, and there CR1
#: with t(G - 1) rejects 5.5-5.6% of A/A tests at alpha 0.05 in bench/cluster_stats.py
#: (10 users per account, ICC 0.2), 5.8-6.3% at 10 per arm and 6.7-7.2% at 5.
MIN_CLUSTERS_PER_ARM = 20
#: Two-sided level of the Welch test of equal mean cluster sizes across arms. Checked at every
#: look, like SRM, so it uses the SRM halt level (0.01) to keep false alarms rare.
BALANCE_ALPHA = 0.01

Estimate = tuple[Difference | None, str | None, tuple[str, ...], tuple[float, float]]


def unit_view(arm: ArmSums, use_covariate: bool) -> ArmView:
    """An arm's ratio of cluster totals and the sample variance of its linearised values.

    ``var`` is ``sum_c (Y_c - R D_c)^2 / ((G - 1) mean(D)^2)``; the arm's CR0 variance is
    ``var * (G - 1) / G^2`` (:func:`cr0_var_of_mean`). With a covariate carrying
    ``sumProductDenominator`` the covariate is linearised the same way around its own ratio
    ``R_X = sum X_c / sum D_c`` (``x_mean``).
    """
    view = ratio_view(arm, False)  # the ratio and its linearised variance, over clusters
    den, cov, g = arm.denominator, arm.covariate, arm.n
    if not use_covariate or den is None or den.sum == 0 or g < 2:
        return view
    if cov is None or cov.sum_product_denominator is None:
        return view
    r, var = view.mean, view.var
    d_bar = den.sum / g
    s_dd = sample_var(g, den.sum, den.sum_sq)
    s_yd = sample_cov(g, arm.sum, den.sum, den.sum_product)
    r_x = cov.sum / den.sum
    s_xx = sample_var(g, cov.sum, cov.sum_sq)
    s_xd = sample_cov(g, cov.sum, den.sum, cov.sum_product_denominator)
    s_xy = sample_cov(g, cov.sum, arm.sum, cov.sum_product)
    x_var = max(s_xx - 2.0 * r_x * s_xd + r_x * r_x * s_dd, 0.0) / (d_bar * d_bar)
    xy = (s_xy - r * s_xd - r_x * s_yd + r * r_x * s_dd) / (d_bar * d_bar)
    return ArmView(g, r, var, r_x, x_var, xy)


def cr0_var_of_mean(view: ArmView, per_cluster_var: float) -> float:
    """CR0 variance of an arm's ratio: ``sum_c e_c^2 / (sum D_c)^2`` from the L-scale var."""
    return per_cluster_var * (view.n - 1.0) / (view.n * view.n)


def cr1_factor(clusters: float, units: float | None) -> float:
    """``G/(G - 1) * (N - 1)/(N - K)``; without N (unknown) only ``G/(G - 1)``."""
    factor = clusters / (clusters - 1.0)
    if units is not None and units > K_PARAMETERS:
        factor *= (units - 1.0) / (units - K_PARAMETERS)
    return factor


def compare_units(
    control: ArmView,
    treatment: ArmView,
    *,
    use_cuped: bool = False,
    correction: Correction = SMALL_SAMPLE_CORRECTION,
    analysis_units: float | None = None,
    normal: bool = False,
) -> Difference | NotEstimable:
    """The difference of two arms' ratios of cluster totals, with its cluster-robust test.

    `analysis_units` is N in the CR1 factor (the two arms' analysis units); `normal` tests
    with the normal distribution instead of t(G - 1).
    """
    refused = too_few(control, treatment, "cluster")
    if refused is not None:
        return refused
    arms = adjusted_arms(control, treatment, use_cuped)
    theta, cov_raw_c = arms.theta, arms.cov_raw_c
    clusters = control.n + treatment.n
    factor = 1.0 if correction == "CR0" else cr1_factor(clusters, analysis_units)
    v_c = factor * cr0_var_of_mean(control, arms.var_c)
    v_t = factor * cr0_var_of_mean(treatment, arms.var_t)
    se = math.sqrt(v_c + v_t)
    estimate = arms.mean_t - arms.mean_c
    overflow = overflowed(se, estimate, control, treatment)
    if overflow is not None:
        return overflow
    if not se > 0:
        return NotEstimable("the metric has no variance between clusters in either arm")
    df = math.inf if normal else clusters - 1.0
    statistic = estimate / se
    return Difference(
        estimate=estimate,
        se=se,
        df=df,
        statistic=statistic,
        p_value=two_sided_p(statistic, df),
        control_mean=control.mean,
        treatment_mean=treatment.mean,
        var_control_mean=factor * cr0_var_of_mean(control, control.var),
        cov_estimate_control=-factor * cr0_var_of_mean(control, cov_raw_c),
        theta=theta,
        notes=arms.notes,
    )


def _analysis_units(sums: ExperimentSums, variant: str, arm: ArmSums, metric: Metric) -> float:
    """N of one arm: the sizes' sum, else (means and rates) the denominator's sum; NaN: none."""
    sizes = (sums.cluster_sizes or {}).get(variant)
    if sizes is not None:
        return sizes.sum
    if metric.type != MetricType.RATIO and arm.denominator is not None:
        return arm.denominator.sum
    return math.nan


def estimate(
    experiment: Experiment, sums: ExperimentSums, metric: Metric, variant: str, cache: object
) -> Estimate:
    """The registry's cluster entry (:data:`splitlab.stats.analyze.ESTIMATORS`)."""
    del cache  # the views are cheap; the classic entry's cache is keyed for its own views
    pair = arm_pair(sums, metric.name, experiment.control, variant)
    if isinstance(pair, str):
        return None, pair, (), (0.0, 0.0)
    c_arm, t_arm = pair
    units = (c_arm.n, t_arm.n)
    normal = experiment.evaluation.method == "frequentist_z_test"
    notes: list[str] = []
    if metric.cuped and (c_arm.covariate is None or t_arm.covariate is None):
        notes.append("CUPED not applied: the sums carry no covariate for both arms")
    if metric.level == "cluster":
        c_view = mean_view(c_arm, False, metric.cuped)
        t_view = mean_view(t_arm, False, metric.cuped)
        use_cuped = metric.cuped and c_view.x_var is not None and t_view.x_var is not None
        result = compare(c_view, t_view, "z" if normal else "welch", use_cuped, noun="cluster")
    else:
        problem = _unit_level_problem(c_arm, t_arm, variant)
        if problem is not None:
            return None, problem, tuple(notes), units
        if metric.cuped and not notes and not all(map(_has_spd, (c_arm, t_arm))):
            notes.append(
                "CUPED not applied: a clustered metric's covariate needs "
                "sumProductDenominator (the sum of X_c D_c)"
            )
        c_view, t_view = unit_view(c_arm, metric.cuped), unit_view(t_arm, metric.cuped)
        n_c = _analysis_units(sums, experiment.control, c_arm, metric)
        n_t = _analysis_units(sums, variant, t_arm, metric)
        result = compare_units(
            c_view,
            t_view,
            use_cuped=metric.cuped and c_view.x_var is not None and t_view.x_var is not None,
            normal=normal,
            analysis_units=None if math.isnan(n_c + n_t) else n_c + n_t,
        )
    if isinstance(result, NotEstimable):
        return None, result.reason, tuple(notes), units
    return result, None, tuple(notes) + result.notes, units


def _unit_level_problem(control: ArmSums, treatment: ArmSums, variant: str) -> str | None:
    """Why a per-unit metric's cluster sums cannot give a ratio (None: they can)."""
    if control.denominator is None or treatment.denominator is None:
        return "cluster sums need denominator sums (the sum of D_c) in both arms"
    for label, arm in (("control", control), (variant, treatment)):
        if arm.denominator is not None and arm.denominator.sum == 0 and arm.n > 0:
            return f"the denominator sums to zero in {label}"
    return None


def _has_spd(arm: ArmSums) -> bool:
    return arm.covariate is not None and arm.covariate.sum_product_denominator is not None


@dataclass(frozen=True, slots=True)
class ClusterDesignResult:
    """The ``design`` block of a cluster experiment's results."""

    analysis_unit: str
    cluster_key: str
    clusters: Mapping[str, float]
    analysis_units: Mapping[str, float | None]
    small_sample_correction: str = SMALL_SAMPLE_CORRECTION
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "cluster",
            "analysisUnit": self.analysis_unit,
            "clusterKey": self.cluster_key,
            "clusters": {k: count(v) for k, v in self.clusters.items()},
            "analysisUnits": {k: count(v) for k, v in self.analysis_units.items()},
            "smallSampleCorrection": self.small_sample_correction,
            "warnings": list(self.warnings),
        }

    def summary(self) -> str:
        """One line for the terminal: who was randomised, who was measured, how many."""
        arms = ", ".join(
            f"{v} {count(g)} clusters / {_shown(self.analysis_units.get(v))} units"
            for v, g in self.clusters.items()
        )
        return (
            f"Design: cluster-randomised by {self.cluster_key}, metrics per "
            f"{self.analysis_unit}; {arms}; small-sample correction "
            f"{self.small_sample_correction}"
        )


def _shown(x: float | None) -> str:
    return "?" if x is None else str(count(x))


def size_balance_p(control: ArmSums, treatment: ArmSums) -> float | None:
    """Welch's two-sided p-value for equal mean cluster sizes m_c (None: not testable)."""
    if control.n < 2 or treatment.n < 2:
        return None
    v_c = sample_var(control.n, control.sum, control.sum_sq) / control.n
    v_t = sample_var(treatment.n, treatment.sum, treatment.sum_sq) / treatment.n
    diff = treatment.sum / treatment.n - control.sum / control.n
    if not v_c + v_t > 0:
        return 1.0 if diff == 0 else 0.0
    df = welch_df(v_c, control.n, v_t, treatment.n)
    return float(2.0 * special.stdtr(df, -abs(diff) / math.sqrt(v_c + v_t)))


def design_result(experiment: Experiment, sums: ExperimentSums) -> ClusterDesignResult:
    """Clusters and analysis units per arm, with the few-clusters and size-balance warnings."""
    names = experiment.variant_names
    sizes = sums.cluster_sizes
    clusters = {v: float(sums.units.get(v, 0.0)) for v in names}
    units = {v: (None if sizes is None or v not in sizes else sizes[v].sum) for v in names}
    warnings: list[str] = []
    few = [f"{v} ({count(g)})" for v, g in clusters.items() if g < MIN_CLUSTERS_PER_ARM]
    if few:
        warnings.append(
            f"Few clusters: {', '.join(few)} below {MIN_CLUSTERS_PER_ARM} per arm; the "
            "cluster-robust t test is approximate with so few clusters and may reject too "
            "often. Treat p-values near the threshold with caution, or randomise more clusters."
        )
    assert experiment.design is not None and experiment.design.type == "cluster"
    unit = experiment.design.analysis_unit
    if sizes is None:
        warnings.append(
            "The sums carry no clusterSizes, so the balance of cluster sizes was not checked."
        )
    else:
        empty = ArmSums(0.0, 0.0, 0.0)
        control = sizes.get(experiment.control, empty)
        for v in names:
            if v == experiment.control:
                continue
            p = size_balance_p(control, sizes.get(v, empty))
            if p is not None and p < BALANCE_ALPHA:
                warnings.append(
                    f"Cluster sizes differ between {experiment.control} and {v} (Welch test "
                    f"on {unit} per cluster, p = {p:.2g} < {BALANCE_ALPHA}): if the variant "
                    f"changes how many {unit}s a cluster has, per-{unit} metrics compare "
                    'different populations and are biased. Prefer level: "cluster" metrics '
                    "(totals per cluster) for the decision."
                )
    return ClusterDesignResult(
        analysis_unit=unit,
        cluster_key=experiment.assignment.hash_key,
        clusters=clusters,
        analysis_units=units,
        warnings=tuple(warnings),
    )
