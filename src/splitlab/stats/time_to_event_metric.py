"""A time-to-event metric in ``analyze``: the difference of the two arms' restricted mean
survival times (RMST) up to the metric's horizon, as a
:class:`~splitlab.stats.difference.Difference`, so that corrections, sequential looks,
guardrails and decisions treat it like any other metric (docs/statistics.md, "Retention and
time to event").

Each arm's sums carry its survival table (hours from the first exposure to the first event,
censored at the cut-off or at the horizon); :func:`splitlab.stats.survival.rmst` gives each
arm's RMST and the Greenwood-type variance of that estimator. The difference (variant -
control, in hours) is tested with the normal distribution (``df`` infinite): ``z = (mu_t -
mu_c) / sqrt(var_t + var_c)``, two-sided, the arms being independent. ``control_mean`` and
``treatment_mean`` are the two RMSTs, ``var_control_mean`` the control's variance and the
covariance of the difference with the control's RMST is ``-var_c``, so the relative change
and its interval come from the same delta method as for means. Sequential looks use the same
z machinery as other metrics (alpha spending on z, or the mSPRT with this standard error).
"""

from __future__ import annotations

import math

from scipy import special

from splitlab.config import Metric
from splitlab.stats.difference import Difference
from splitlab.stats.sums import ArmSums
from splitlab.stats.survival import follow_up_short, rmst

UNSUPPORTED_DESIGN = (
    "time-to-event metrics are analysed for individually randomised experiments only; a "
    "cluster or switchback design compares cluster or cell totals, which have no survival table"
)


def describe(metric: Metric) -> str:
    """``"restricted mean time to purchase within 72 h"``."""
    tau = metric.horizon_hours
    within = f" within {tau:g} h" if tau is not None else ""
    return f"restricted mean time to {metric.event_name}{within}"


def estimate(
    metric: Metric, control: ArmSums, treatment: ArmSums, alpha: float
) -> tuple[Difference | None, str | None, tuple[str, ...]]:
    """(difference, None, notes) or (None, reason, notes) for a time-to-event metric.

    ``alpha`` is unused (the test is a plain z-test); it is taken for the same signature as
    :func:`splitlab.stats.quantile_metric.estimate`.
    """
    del alpha
    tau = metric.horizon_hours
    if tau is None:
        return None, "a time-to-event metric needs its horizon (metrics[].horizonHours)", ()
    notes = (describe(metric),)
    for arm_label, arm in (("control", control), ("the variant", treatment)):
        table = arm.survival
        if table is None:
            if arm.n == 0:
                return None, f"{arm_label} has no units exposed to this metric", notes
            return (
                None,
                f"the sums carry no survival table for {arm_label} (a time-to-event metric "
                "needs one)",
                notes,
            )
        if table.units < 2:
            return (
                None,
                f"{arm_label} has {table.units:g} unit(s) in its survival table; at least 2 "
                "are needed",
                notes,
            )
        if follow_up_short(table, tau):
            return (
                None,
                f"no unit of {arm_label} has been followed for the whole horizon yet (longest "
                f"follow-up {table.times[-1]:g} h < {tau:g} h): the restricted mean up to "
                f"{tau:g} h would be extrapolated",
                notes,
            )
    assert control.survival is not None and treatment.survival is not None
    c = rmst(control.survival, tau)
    t = rmst(treatment.survival, tau)
    var = c.variance + t.variance
    se = math.sqrt(var)
    if not (se > 0 and math.isfinite(se)):
        return (
            None,
            f"the restricted means have no sampling variability (no event before {tau:g} h "
            "in either arm, or every unit's event at the same time)",
            notes,
        )
    diff = t.estimate - c.estimate
    z = diff / se
    p = float(2.0 * special.ndtr(-abs(z)))
    return (
        Difference(diff, se, math.inf, z, p, c.estimate, t.estimate, c.variance, -c.variance),
        None,
        notes,
    )
