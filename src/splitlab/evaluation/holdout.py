"""A holdout's look: a report, never an action.

A holdout (``design.type == "holdout"``) compares its held-out units (its first variant, the
control) with everyone else (its second variant) on its own metrics, like any experiment, but
what it measures is the combined effect of the changes shipped in its scope. Acting on that
would be wrong: shipping or stopping it releases the held-out units, rolling it back would
serve the held-out variant to everybody. So its look's decision is a report:

* ``halt`` stays a halt (a sample ratio mismatch or a data-quality finding: the comparison
  cannot be trusted), with no status change;
* otherwise ``continue`` ("keep it running until its planned end"), and ``stop`` only at the
  final planned look, as a proposal a person confirms (``splitlab status <id> stopped``);
* each metric gets one sentence: "holdout: the shipped changes in scope moved <metric> by
  x% (CI a% to b%)", everyone else against the held-out group.

:func:`splitlab.evaluation.policy.plan_change` makes no status change for a holdout whatever
the decision, and :mod:`splitlab.evaluation.lifecycle` refuses to roll back, ship or toggle
one.
"""

from __future__ import annotations

from splitlab.config import Experiment
from splitlab.stats.decision import sentence
from splitlab.stats.results import Comparison, Decision, MetricResult, Results

__all__ = ["HOLDOUT_NOTE", "holdout_decision", "moved_sentence"]

#: Appended to every holdout decision: what a look does not do.
HOLDOUT_NOTE = (
    "Report only: a holdout's look never ships, rolls back or stops it; it ends when a "
    "person stops it."
)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:+.2f}%"


def moved_sentence(metric: MetricResult, comparison: Comparison) -> str:
    """The sentence "holdout: the shipped changes in scope moved <metric> by x% (CI ...)".

    The lift is everyone else (the comparison's variant) relative to the held-out group (its
    control), with the comparison's own interval; without a relative interval (a control
    mean of 0) the absolute difference is quoted instead.
    """
    role = "" if metric.role == "primary" else f" ({metric.role})"
    if not comparison.estimable:
        why = comparison.reason or "no estimate yet"
        return f"Holdout: the effect on {metric.name}{role} cannot be estimated yet ({why})."
    rel, diff = comparison.relative, comparison.absolute
    if rel is not None:
        moved = f"by {_pct(rel.estimate)} (CI {_pct(rel.lower)} to {_pct(rel.upper)})"
    elif diff is not None:
        moved = (
            f"by {diff.estimate:+.4g} in absolute terms (CI {diff.lower:+.4g} to {diff.upper:+.4g})"
        )
    else:
        return f"Holdout: the effect on {metric.name}{role} cannot be estimated yet."
    verdict = (
        f"significantly {comparison.direction}"
        if comparison.significant and comparison.direction != "none"
        else "not significant at this look"
    )
    text = (
        f"Holdout: the shipped changes in scope moved {metric.name}{role} {moved}, everyone "
        f"else vs held out ({verdict})"
    )
    guard = comparison.guardrail
    if guard is not None and guard.verdict == "breached":
        text += f"; the guardrail is breached ({guard.reason.rstrip('.')})"
    return sentence(text)


def holdout_decision(results: Results, experiment: Experiment, engine: Decision) -> Decision:
    """The report a holdout's look gives instead of the engine's decision ``engine``."""
    if engine.action == "halt":
        return Decision("halt", None, (*engine.reasons, HOLDOUT_NOTE))
    reasons = [moved_sentence(m, c) for m in results.metrics for c in m.comparisons]
    where = f"look {results.look} of {results.max_peeks}"
    planned = experiment.evaluation.min_sample_size
    smallest = min(results.units.values(), default=0.0)
    if smallest < planned:
        reasons.append(
            f"The smaller group has {smallest:g} of the {planned} planned units ({where}): "
            "the estimates are still imprecise."
        )
    if results.final_look:
        reasons.insert(
            0,
            f"The holdout reached its planned end ({where}): read the result, then end it "
            f"(splitlab status {experiment.id} stopped), which gives the held-out units the "
            "shipped changes.",
        )
        return Decision("stop", None, (*reasons, HOLDOUT_NOTE))
    reasons.insert(0, f"Keep the holdout running until its planned end ({where}).")
    return Decision("continue", None, (*reasons, HOLDOUT_NOTE))
