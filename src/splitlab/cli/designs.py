"""How the command line names an experiment's design, from its definition or a look's results."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splitlab.config import Experiment


def _duration(seconds: int) -> str:
    for size, name in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if seconds % size == 0:
            return f"{seconds // size} {name}"
    return f"{seconds} s"


def design_label(experiment: Experiment) -> str:
    """The design in a few words: ``classic``, ``cluster accountId -> userId``,
    ``switchback region every 1 h (burn-in 10 min)``."""
    d = experiment.design
    if d is None:
        return "classic"
    if d.type == "cluster":
        return f"cluster {experiment.assignment.hash_key} -> {d.analysis_unit}"
    if d.type == "canary":
        steps = " -> ".join(f"{s.percent:g}%" for s in d.ramp)
        return f"canary {steps} (step {d.step + 1}, every {d.interval_minutes} min)"
    if d.type == "bandit":
        return (
            f"bandit thompson (weights v{d.weights_version}, every {d.update_interval_minutes} min)"
        )
    if d.type == "holdout":
        scope = ", ".join(d.scope.tags) if d.scope is not None else "every experiment"
        return f"holdout {d.percent:g}% (scope: {scope})"
    return (
        f"switchback {d.unit or 'global'} every {_duration(d.period_seconds)} "
        f"(burn-in {_duration(d.burn_in_seconds)})"
    )


def _arms(counts: Any) -> str:
    if not isinstance(counts, Mapping):
        return "?"
    return ", ".join(f"{v} {n:,.0f}" if isinstance(n, int | float) else f"{v} ?"
                     for v, n in counts.items())  # fmt: skip


def results_design_lines(design: Mapping[str, Any] | None) -> list[str]:
    """A look's ``results.design`` block in words (nothing for a classic experiment)."""
    if not isinstance(design, Mapping):
        return []
    kind = design.get("type")
    if kind == "cluster":
        lines = [
            f"Design: cluster ({design.get('clusterKey')} randomised, metrics per "
            f"{design.get('analysisUnit')}); clusters {_arms(design.get('clusters'))}; "
            f"{design.get('analysisUnit')} {_arms(design.get('analysisUnits'))}; "
            f"small-sample correction {design.get('smallSampleCorrection')}"
        ]
    elif kind == "switchback":
        unit = design.get("unit") or "global"
        lines = [
            f"Design: switchback ({unit}, {_duration(int(design.get('periodSeconds') or 0))} "
            f"periods, burn-in {_duration(int(design.get('burnInSeconds') or 0))}); cells "
            f"{_arms(design.get('cells'))} over {design.get('units')} unit(s) x "
            f"{design.get('periods')} periods; estimator {design.get('estimator')}"
        ]
    else:
        lines = [f"Design: {kind}"]
    return lines + [f"  ! {w}" for w in design.get("warnings") or []]
