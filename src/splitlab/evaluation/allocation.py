"""The stratified analysis of a cluster experiment with an allocation table.

The table was drawn within strata (or matched sets); the analysis that matches it compares
the arms within each stratum and combines the strata
(:mod:`splitlab.stats.stratified_cluster`). The per-stratum cluster sums come from the
segments mechanism: the exposures carry the cluster's stratum in the attribute
``design.allocation.stratumAttribute`` (a declared segment), so the store keeps one slice of
cluster sums per stratum, ``"<attribute>=<stratum>"``. The result is reported beside the
main analysis (like post-stratification); the decision stays with the pre-registered main
analysis.
"""

from __future__ import annotations

from typing import Any

from splitlab.config import Experiment, Metric
from splitlab.config.designs import ClusterDesign
from splitlab.stats.errors import StatsError
from splitlab.stats.results import num
from splitlab.stats.stratified_cluster import stratified_cluster_difference
from splitlab.stats.sums import ArmSums, ExperimentSums


def allocation_stratified(experiment: Experiment, sums: ExperimentSums) -> dict[str, Any] | None:
    """Per metric and variant, the stratified (or paired) effect; None without a table."""
    design = experiment.design
    if not isinstance(design, ClusterDesign) or design.allocation is None:
        return None
    allocation = design.allocation
    if allocation.strata is None:
        return None  # complete randomisation: the main analysis is the matching one
    attribute = allocation.stratum_attribute
    out: dict[str, Any] = {
        "method": allocation.method,
        "attribute": attribute,
        "strata": len(set(allocation.strata.values())),
        "metrics": [],
    }
    if attribute is None:
        out["note"] = (
            "design.allocation.stratumAttribute is not set, so the store keeps no per-stratum "
            "sums: no stratified analysis"
        )
        return out
    labels = sorted(set(allocation.strata.values()))
    slices = {k: sums.segments.get(f"{attribute}={k}") for k in labels}
    missing = [k for k, s in slices.items() if s is None]
    out["stratumSums"] = len(labels) - len(missing)
    out["strataWithoutSums"] = missing
    paired = allocation.method == "pair_matched"
    control = experiment.control
    for role, metric in experiment.metrics.all():
        strata = {k: s.metrics.get(metric.name, {}) for k, s in slices.items() if s is not None}
        entry: dict[str, Any] = {"name": metric.name, "role": role, "comparisons": []}
        for variant in experiment.variant_names:
            if variant != control:
                entry["comparisons"].append(
                    _compare(metric, strata, control, variant, paired, experiment.evaluation.alpha)
                )
        out["metrics"].append(entry)
    return out


def _compare(
    metric: Metric,
    strata: dict[str, Any],
    control: str,
    variant: str,
    paired: bool,
    alpha: float,
) -> dict[str, Any]:
    base: dict[str, Any] = {"variant": variant, "control": control}
    arms: dict[str, dict[str, ArmSums]] = {k: dict(v) for k, v in strata.items()}
    try:
        d = stratified_cluster_difference(
            arms, control, variant, level=metric.level, paired=paired, alpha=alpha
        )
    except StatsError as exc:
        return {**base, "estimable": False, "reason": str(exc)}
    return {
        **base,
        "estimable": True,
        "method": d.method,
        "absolute": {"estimate": num(d.estimate), "lower": num(d.lower), "upper": num(d.upper)},
        "relative": num(d.estimate / d.control_mean) if d.control_mean != 0 else None,
        "controlMean": num(d.control_mean),
        "standardError": num(d.standard_error),
        "degreesOfFreedom": num(d.df),
        "pValue": num(d.p_value),
        "strataUsed": d.strata_used,
        "strataLeftOut": list(d.strata_dropped),
    }
