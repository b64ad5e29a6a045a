"""Guardrails: one-sided non-inferiority tests with the guardrail's threshold as margin.

Let "harm" be the change in the guardrail's unwanted direction (for a metric that should
decrease, variant - control; for one that should increase, control - variant), on the
absolute scale or, with ``thresholdType: relative``, relative to control's mean. With a
one-sided bound at level alpha (the guardrail's own sequential boundary when looks are
sequential):

* breached: the lower bound of harm is above the margin (the variant is shown to be worse
  than control by more than the threshold);
* passed: the upper bound of harm is below the margin (non-inferiority shown);
* unknown: neither yet, or not estimable. Never "passed" without evidence.

Guardrails are not part of the multiple-comparison family: each is its own safety check.
"""

from __future__ import annotations

import math

from scipy import special

from splitlab.config import Guardrail
from splitlab.stats import msprt, relative
from splitlab.stats.difference import Difference
from splitlab.stats.relative import Interval
from splitlab.stats.results import GuardrailCheck


def one_sided_critical(d: Difference, one_sided_level: float) -> float:
    """Critical value of the test's distribution for a one-sided level."""
    if math.isinf(d.df):
        return float(special.ndtri(1.0 - one_sided_level))
    return float(special.stdtrit(d.df, 1.0 - one_sided_level))


def check(
    guardrail: Guardrail,
    d: Difference | None,
    reason: str | None,
    one_sided_level: float | None,
    always_valid_tau2: float | None = None,
    alpha: float = 0.05,
) -> GuardrailCheck:
    """The verdict for one variant; `one_sided_level` None means no alpha left at this look."""
    margin = guardrail.threshold
    kind = guardrail.threshold_type
    action = guardrail.action

    def unknown(why: str, harm: Interval | None = None) -> GuardrailCheck:
        return GuardrailCheck("unknown", margin, kind, action, why, harm)

    if d is None:
        return unknown(f"not estimable: {reason}")
    sign = 1.0 if guardrail.direction == "decrease" else -1.0
    if kind == "relative":
        se = relative.relative_se(d)
        if se is None:
            return unknown("control's mean is zero, so a relative threshold cannot be judged")
        harm = sign * d.estimate / d.control_mean
    else:
        se, harm = d.se, sign * d.estimate
    if always_valid_tau2 is not None:
        scale = se / d.se if d.se > 0 else 1.0
        width = msprt.half_width(d.se**2, always_valid_tau2, alpha) * scale
    elif one_sided_level is None:
        return unknown("no alpha is left at this look for the guardrail's test")
    else:
        width = one_sided_critical(d, one_sided_level) * se
    bounds = Interval(harm, harm - width, harm + width)
    unit = "" if kind == "absolute" else " relative to control"
    shown = f"harm {harm:+.4g}{unit}, bounds {bounds.lower:+.4g} to {bounds.upper:+.4g}"
    if bounds.lower > margin:
        why = f"worse than control by more than the allowed {margin:g}{unit} ({shown})"
        return GuardrailCheck("breached", margin, kind, action, why, bounds)
    if bounds.upper < margin:
        why = f"shown to be worse by less than the allowed {margin:g}{unit} ({shown})"
        return GuardrailCheck("passed", margin, kind, action, why, bounds)
    return unknown(
        f"too little data to tell against the allowed {margin:g}{unit} ({shown})", bounds
    )
