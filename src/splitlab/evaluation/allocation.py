"""The stratified analysis of a cluster experiment with an allocation table.

The table was drawn within strata (or matched sets); the analysis that matches it compares
the arms within each stratum and combines the strata
(:mod:`splitlab.stats.stratified_cluster`). The per-stratum cluster sums come from the
store, which labels each cluster with its entry in ``design.allocation.strata`` and keeps one
slice per stratum, ``"@stratum=<label>"`` (:func:`~splitlab.config.allocation.stratum_slice`):
no exposure attribute is needed. Sums without those slices (computed elsewhere) may instead
carry the stratum as a segment, ``design.allocation.stratumAttribute``; the store's slices
are preferred when both are there, as they do not depend on what the application sent. The
result is reported beside the main analysis (like post-stratification); the decision stays
with the pre-registered main analysis.
"""

from __future__ import annotations

from typing import Any

from splitlab.config import Experiment, Metric
from splitlab.config.allocation import STRATUM_SLICE_PREFIX, stratum_slice
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
    labels = sorted(set(allocation.strata.values()))
    out: dict[str, Any] = {
        "method": allocation.method,
        "source": "table",
        "attribute": attribute,
        "strata": len(labels),
        "metrics": [],
    }
    if any(name.startswith(STRATUM_SLICE_PREFIX) for name in sums.segments):
        slices = {k: sums.segments.get(stratum_slice(k)) for k in labels}
    elif attribute is not None:
        out["source"] = "attribute"
        slices = {k: sums.segments.get(f"{attribute}={k}") for k in labels}
    else:
        out["note"] = (
            "the sums hold no per-stratum slices ('@stratum=<label>', which the store makes "
            "from design.allocation.strata) and design.allocation.stratumAttribute is not "
            "set: no stratified analysis"
        )
        return out
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
