"""From a look's results to the decision and the status change it causes.

The decision itself comes from the statistics engine (:func:`splitlab.stats.decision.decide`,
in the order data quality -> guardrails -> minSampleSize -> primary metric); this module adds
what only a look against the store knows (data-quality findings, secondary metrics as
context) and then the experiment's own policy:

* ``rollback`` (a guardrail with ``action: rollback`` breached) with ``rollback.enabled`` and
  ``guardrail_breach`` in ``rollback.conditions``: status ``rolled_back``, with the guardrail,
  variant, estimated harm and threshold in the audit record;
* ``halt`` with a sample ratio mismatch, ``rollback.enabled`` and ``srm_detected``: status
  ``rolled_back`` with the SRM test in the record;
* ``ship`` with ``rollback.autoDeploy``: status ``shipped`` with that variant; without it the
  ship is only *proposed* and the status stays ``running`` until a person confirms;
* ``stop`` with ``autoDeploy``: status ``stopped``; otherwise proposed.

A holdout's look is a report (:mod:`splitlab.evaluation.holdout`): whatever its results and
policy, it changes no status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from splitlab.config import Experiment, Status
from splitlab.evaluation.holdout import holdout_decision
from splitlab.evaluation.quality import QualityReport
from splitlab.stats.decision import decide, sentence
from splitlab.stats.results import Decision, Results


@dataclass(frozen=True)
class PlannedChange:
    """A status change a look's decision calls for under the experiment's policy."""

    status: Status
    variant: str | None
    reason: str
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "status",
            "to": self.status.value,
            "variant": self.variant,
            "reason": self.reason,
            "details": self.details,
        }


def look_decision(results: Results, experiment: Experiment, quality: QualityReport) -> Decision:
    """The one decision of a look: the stats engine's, with data quality and context added."""
    decision = decide(results, experiment)
    if quality.halting:
        halted = decide(results, experiment, data_quality=quality.halting)
        srm_reasons = decision.reasons if results.srm.detected else ()
        decision = Decision("halt", None, (*srm_reasons, *halted.reasons))
    context = [sentence(w) for w in quality.warnings]
    if experiment.is_holdout:
        decision = holdout_decision(results, experiment, decision)
    else:
        context += _secondary_context(results)
    return Decision(decision.action, decision.variant, (*decision.reasons, *context))


def plan_change(
    decision: Decision, results: Results, experiment: Experiment
) -> tuple[PlannedChange | None, tuple[str, ...]]:
    """The status change the policy calls for, and sentences explaining what was (not) done."""
    if experiment.is_holdout:  # a report only (evaluation.holdout), whatever the policy
        return None, ()
    policy = experiment.rollback
    if decision.action == "rollback":
        details: dict[str, Any] = {
            "condition": "guardrail_breach",
            "guardrails": breached_guardrails(results),
        }
        if policy.enabled and "guardrail_breach" in policy.conditions:
            names = ", ".join(
                sorted({f"{g['metric']} ({g['variant']})" for g in details["guardrails"]})
            )
            return PlannedChange(
                Status.ROLLED_BACK, None, f"guardrail breached: {names}", details
            ), ("Rolled back automatically (rollback.conditions has guardrail_breach).",)
        return None, (
            "Rollback recommended but not automatic (rollback.enabled is false or "
            "rollback.conditions lacks guardrail_breach): a person must act.",
        )
    if decision.action == "halt" and results.srm.detected:
        details = {"condition": "srm_detected", "srm": results.srm.to_dict()}
        if policy.enabled and "srm_detected" in policy.conditions:
            p = results.srm.p_value
            return PlannedChange(
                Status.ROLLED_BACK,
                None,
                f"sample ratio mismatch (p = {p:.3g} < {results.srm.threshold:g})",
                details,
            ), ("Rolled back automatically (rollback.conditions has srm_detected).",)
        return None, ("Halted; no automatic rollback for an SRM (srm_detected not enabled).",)
    if decision.action == "halt":
        return None, (
            "Halted on data quality: fix assignment or tracking before trusting any metric "
            "(no automatic status change for this finding).",
        )
    if decision.action == "ship" and decision.variant is not None:
        if policy.auto_deploy:
            return PlannedChange(
                Status.SHIPPED,
                decision.variant,
                f"{decision.variant} won on {experiment.metrics.primary.name}",
                {"variant": decision.variant},
            ), (f"Shipped automatically (rollback.autoDeploy): everyone gets {decision.variant}.",)
        return None, (
            f"Proposed: rollback.autoDeploy is false, so the status stays "
            f"{experiment.status.value} until a person ships {decision.variant} "
            f"(splitlab status {experiment.id} shipped --variant {decision.variant}).",
        )
    if decision.action == "stop":
        if policy.auto_deploy:
            return PlannedChange(Status.STOPPED, None, "no effect at the final planned look", {}), (
                "Stopped automatically (rollback.autoDeploy).",
            )
        return None, ("Proposed: stop the experiment (a person confirms; autoDeploy is false).",)
    return None, ()


def breached_guardrails(results: Results) -> list[dict[str, Any]]:
    """Which guardrail, which variant, what value against what threshold."""
    found: list[dict[str, Any]] = []
    for metric in results.metrics:
        if metric.role != "guardrail":
            continue
        for c in metric.comparisons:
            g = c.guardrail
            if g is None or g.verdict != "breached":
                continue
            harm = g.harm
            found.append(
                {
                    "metric": metric.name,
                    "variant": c.variant,
                    "action": g.action,
                    "value": None if harm is None else harm.estimate,
                    "lowerBound": None if harm is None else harm.lower,
                    "threshold": g.margin,
                    "thresholdType": g.threshold_type,
                    "controlMean": c.control_mean,
                    "variantMean": c.variant_mean,
                    "reason": g.reason,
                }
            )
    return found


def _secondary_context(results: Results) -> list[str]:
    out: list[str] = []
    for metric in results.metrics:
        if metric.role != "secondary":
            continue
        for c in metric.comparisons:
            if c.estimable and c.significant and c.direction != "none":
                out.append(
                    f"Context only: {c.variant} is significantly {c.direction} than control on "
                    f"the secondary metric {metric.name}; secondary metrics do not decide."
                )
    return out
