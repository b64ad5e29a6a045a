"""A quantile metric in ``analyze``: the difference of two arms' quantiles as a
:class:`~splitlab.stats.difference.Difference`, so that corrections, sequential looks,
guardrails and decisions treat it like any other metric.

The arms' sums carry the values' sketch (and, for a quantile per event, the clustered sums);
:func:`splitlab.stats.quantile.quantile_difference` gives the absolute difference, its
standard error (from each arm's order-statistic interval) and a normal-approximation p-value.
The ``Difference`` uses the normal distribution (``df`` infinite); its ``control_mean`` and
``treatment_mean`` are the two quantiles and ``var_control_mean`` the control quantile's
squared standard error, so the relative change and its interval come from the same delta
method as for means. Sequential looks use the same machinery as other metrics: the alpha
spending boundary on the z statistic, or the mSPRT with this standard error.
"""

from __future__ import annotations

import math

from scipy import special

from splitlab.config import Metric
from splitlab.stats.difference import Difference
from splitlab.stats.quantile import design_effect, quantile_difference
from splitlab.stats.sums import ArmSums

UNSUPPORTED_DESIGN = (
    "quantile metrics are analysed for classic (and canary) experiments only; a cluster or "
    "switchback design compares cluster or cell totals, which have no quantile sketch"
)


def label(metric: Metric) -> str:
    """``p95`` for quantile 0.95 (``p99.9`` for 0.999)."""
    q = (metric.quantile or 0.0) * 100.0
    return f"p{q:g}"


def describe(metric: Metric) -> str:
    """``"p95 per event"``: the quantile and what it is taken over."""
    return f"{label(metric)} per {metric.per}"


def estimate(
    metric: Metric, control: ArmSums, treatment: ArmSums, alpha: float
) -> tuple[Difference | None, str | None, tuple[str, ...]]:
    """(difference, None, notes) or (None, reason, notes) for a quantile metric."""
    p = metric.quantile
    if p is None:
        return None, "a quantile metric needs its quantile (metrics[].quantile)", ()
    name = describe(metric)
    for arm_label, arm in (("control", control), ("the variant", treatment)):
        if arm.sketch is None:
            if arm.n == 0:
                return None, f"{arm_label} has no values of this metric", (name,)
            return (
                None,
                f"the sums carry no sketch for {arm_label} (a quantile metric needs one)",
                (name,),
            )
        if arm.sketch.count < 2:
            return (
                None,
                f"{arm_label} has {arm.sketch.count} value(s); at least 2 are needed",
                (name,),
            )
    assert control.sketch is not None and treatment.sketch is not None
    notes = [name]
    if metric.per == "event":
        if control.clustered is None or treatment.clustered is None:
            notes.append(
                "no per-unit sums for this quantile: its interval treats the events as "
                "independent (narrower than it should be when units have several events)"
            )
        else:
            notes.append(
                "interval widened for events grouped in units (design effect "
                f"{_deff(control):.2g} in control, {_deff(treatment):.2g} in the variant)"
            )
    d = quantile_difference(
        control.sketch,
        treatment.sketch,
        p,
        alpha,
        control_clustered=control.clustered if metric.per == "event" else None,
        treatment_clustered=treatment.clustered if metric.per == "event" else None,
    )
    if not d.se > 0 or not math.isfinite(d.se):
        return (
            None,
            "the quantiles have no sampling variability to test (every value tied)",
            (tuple(notes)),
        )
    se_c = d.control.se(_z(alpha))
    return (
        Difference(
            d.estimate,
            d.se,
            math.inf,
            d.z,
            d.p_value,
            d.control.estimate,
            d.treatment.estimate,
            se_c**2,
            -(se_c**2),
        ),
        None,
        tuple(notes),
    )


def _z(alpha: float) -> float:
    return float(special.ndtri(1.0 - alpha / 2.0))


def _deff(arm: ArmSums) -> float:
    return design_effect(arm.clustered) if arm.clustered is not None else 1.0
