"""Which outlier caps a look applies (docs/statistics.md, "Outlier capping").

A percentile cap computed afresh at every look would move with the data, and the estimand
with it. So it is computed at each look until the first *planned* look at which every arm
has reached ``evaluation.minSampleSize`` units, fixed there, recorded in that look's
document (``capping``), and reused by every later look and peek. Before that it is
*provisional*. A fixed cap never moves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from splitlab.config import Experiment
from splitlab.stats.capping import AppliedCap
from splitlab.stats.sums import ExperimentSums
from splitlab.store.registry import LookRecord

Known = dict[tuple[str, str], tuple[float, int]]


def fixed_caps(experiment: Experiment, planned: Sequence[LookRecord]) -> Known:
    """The percentile caps fixed at an earlier planned look, by (metric, target): the value
    and the look that fixed it. A cap whose rule has changed since is not reused."""
    rules = _rules(experiment)
    known: Known = {}
    for record in planned:
        for entry in record.to_dict().get("capping", []):
            cap = AppliedCap.from_dict(entry)
            key = (cap.metric, cap.target)
            if cap.fixed_at is None or cap.value is None or key in known:
                continue
            if rules.get(key) == entry["rule"]:
                known[key] = (cap.value, cap.fixed_at)
    return known


def settle(
    experiment: Experiment, sums: ExperimentSums, known: Known, look: int, *, peek: bool
) -> tuple[AppliedCap, ...]:
    """The caps of `sums` with ``fixed_at`` set: a recorded one's look, this look when it is
    a planned look that reaches the minimum sample size in every arm, else None."""
    reached = (
        not peek
        and bool(sums.units)
        and (min(sums.units.values()) >= experiment.evaluation.min_sample_size)
    )
    out: list[AppliedCap] = []
    for cap in sums.capping:
        if cap.rule.type != "percentile":
            out.append(cap)
        elif (cap.metric, cap.target) in known:
            out.append(replace(cap, fixed_at=known[(cap.metric, cap.target)][1]))
        elif reached and cap.value is not None:
            out.append(replace(cap, fixed_at=look))
        else:
            out.append(cap)
    return tuple(out)


def capping_notes(capping: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per applied cap, for the decision's reasons."""
    return [f"Capping: {AppliedCap.from_dict(c).line()}" for c in capping]


def _rules(experiment: Experiment) -> dict[tuple[str, str], Any]:
    rules: dict[tuple[str, str], Any] = {}
    for _, metric in experiment.metrics.all():
        for target, rule in (("value", metric.cap), ("covariate", metric.covariate_rule)):
            if rule is not None and (target == "value" or metric.cuped):
                rules[(metric.name, target)] = rule.model_dump(by_alias=True, exclude_none=True)
    return rules
