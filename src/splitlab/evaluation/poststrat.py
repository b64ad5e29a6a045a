"""Post-stratification on a declared segment (``evaluation.postStratify``).

When an attribute recorded at exposure (``region``, ``platform``) explains part of a metric's
variance, comparing variants within each stratum and averaging the stratum effects with fixed
weights removes that part from the error. With strata k = 1..K, ``N_k`` the exposed units of
stratum k pooled over all variants and ``W_k = N_k / N``:

    effect      = sum_k W_k (mean_t,k - mean_c,k)
    Var(effect) = sum_k W_k^2 (s2_t,k / n_t,k + s2_c,k / n_c,k)

(Miratrix, Sekhon & Yu 2013, "Adjusting treatment effect estimates by post-stratification in
randomized experiments", JRSS-B 75(2), eq. for the post-stratified estimator and its variance
conditional on the stratum sizes). The relative effect divides by the post-stratified control
mean ``m_c = sum_k W_k mean_c,k``; its delta-method variance is
``Var(effect)/m_c^2 + effect^2 Var(m_c)/m_c^4 + 2 effect Var(m_c)/m_c^3`` (the covariance of
effect and m_c is ``-Var(m_c)``). Intervals and p-values are normal (large strata). Ratio
metrics, and every metric of a cluster-randomised experiment (whose sums are cluster totals),
are left to the main analysis. Results are reported beside the main analysis, with
the variance ratio against the unstratified difference; the decision stays with the
pre-registered main analysis.
"""

from __future__ import annotations

import math
from typing import Any

from scipy import special

from splitlab.config import Experiment, Metric, MetricType
from splitlab.stats.moments import mean_view
from splitlab.stats.results import num
from splitlab.stats.sums import ArmSums, ExperimentSums


def post_stratified(experiment: Experiment, sums: ExperimentSums) -> dict[str, Any] | None:
    """Post-stratified effects for every non-ratio metric (None when not configured)."""
    attribute = experiment.evaluation.post_stratify
    if attribute is None:
        return None
    prefix = f"{attribute}="
    strata = sorted(k for k in sums.segments if k.startswith(prefix))
    out: dict[str, Any] = {"attribute": attribute, "strata": len(strata), "metrics": []}
    if experiment.is_cluster:
        # Cluster sums hold cluster totals, not per-unit values: the per-unit means and
        # variances below would be wrong. The main analysis is the cluster estimator.
        out["note"] = (
            "post-stratification is not applied to cluster-randomised experiments; "
            "the main analysis uses the cluster estimator"
        )
        return out
    if not strata:
        out["note"] = f"no strata for {attribute!r} in the sums: nothing to post-stratify"
        return out
    sizes = {k: sum(sums.segments[k].units.values()) for k in strata}
    total = sum(sizes.values())
    weights = {k: (sizes[k] / total if total > 0 else 0.0) for k in strata}
    out["weights"] = weights
    alpha = experiment.evaluation.alpha
    z_crit = float(special.ndtri(1.0 - alpha / 2.0))
    control = experiment.control
    for role, metric in experiment.metrics.all():
        entry: dict[str, Any] = {"name": metric.name, "role": role, "comparisons": []}
        for variant in experiment.variant_names:
            if variant == control:
                continue
            entry["comparisons"].append(
                _compare(metric, sums, strata, weights, control, variant, z_crit)
            )
        out["metrics"].append(entry)
    return out


def _compare(
    metric: Metric,
    sums: ExperimentSums,
    strata: list[str],
    weights: dict[str, float],
    control: str,
    variant: str,
    z_crit: float,
) -> dict[str, Any]:
    base: dict[str, Any] = {"variant": variant, "control": control}
    if metric.type == MetricType.RATIO:
        return {**base, "estimable": False, "reason": "ratio metrics are not post-stratified"}
    if metric.type == MetricType.QUANTILE:
        return {**base, "estimable": False, "reason": "quantile metrics are not post-stratified"}
    if metric.type == MetricType.TIME_TO_EVENT:
        return {
            **base,
            "estimable": False,
            "reason": "time-to-event metrics are not post-stratified",
        }
    binary = metric.type in (MetricType.CONVERSION, MetricType.RETENTION)
    empty = ArmSums(0.0, 0.0, 0.0)
    effect = var_effect = m_c = var_m_c = 0.0
    for k in strata:
        arms = sums.segments[k].metrics.get(metric.name, {})
        c = mean_view(arms.get(control, empty), binary, False)
        t = mean_view(arms.get(variant, empty), binary, False)
        if c.n < 2 or t.n < 2:
            return {
                **base,
                "estimable": False,
                "reason": f"stratum {k} has fewer than 2 units in {control} or {variant}",
            }
        w = weights[k]
        effect += w * (t.mean - c.mean)
        var_effect += w * w * (t.var / t.n + c.var / c.n)
        m_c += w * c.mean
        var_m_c += w * w * c.var / c.n
    se = math.sqrt(var_effect)
    z = effect / se if se > 0 else 0.0
    p = float(2.0 * special.ndtr(-abs(z))) if se > 0 else 1.0
    result: dict[str, Any] = {
        **base,
        "estimable": True,
        "absolute": {
            "estimate": num(effect),
            "lower": num(effect - z_crit * se),
            "upper": num(effect + z_crit * se),
        },
        "relative": None,
        "standardError": num(se),
        "pValue": num(p),
        "varianceRatio": _variance_ratio(metric, sums, control, variant, var_effect, binary),
    }
    if m_c != 0:
        rel = effect / m_c
        var_rel = var_effect / m_c**2 + effect**2 * var_m_c / m_c**4 + 2 * effect * var_m_c / m_c**3
        se_rel = math.sqrt(max(var_rel, 0.0))
        result["relative"] = {
            "estimate": num(rel),
            "lower": num(rel - z_crit * se_rel),
            "upper": num(rel + z_crit * se_rel),
        }
    return result


def _variance_ratio(
    metric: Metric,
    sums: ExperimentSums,
    control: str,
    variant: str,
    var_effect: float,
    binary: bool,
) -> float | None:
    """Post-stratified variance over the unstratified one (below 1: variance was reduced)."""
    arms = sums.metrics.get(metric.name, {})
    empty = ArmSums(0.0, 0.0, 0.0)
    c = mean_view(arms.get(control, empty), binary, False)
    t = mean_view(arms.get(variant, empty), binary, False)
    if c.n < 1 or t.n < 1:
        return None
    plain = t.var / t.n + c.var / c.n
    return num(var_effect / plain) if plain > 0 else None
