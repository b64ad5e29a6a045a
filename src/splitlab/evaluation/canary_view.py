"""A canary's state as one JSON document: the ramp, its steps' outcomes, the judgments so far
and the current step's distributions (``GET /v1/experiments/{id}/canary``, ``splitlab canary
status --json``; docs/canary.md describes every key).
"""

from __future__ import annotations

from typing import Any

from splitlab.config import Status
from splitlab.evaluation.canary import canary_arm, design_of
from splitlab.store.canary_ledger import CanaryLedger
from splitlab.store.registry import format_time
from splitlab.store.registry_backend import RegistryBackend

#: The states in which a canary is over, and what a pipeline makes of them.
FINISHED = {Status.SHIPPED, Status.ROLLED_BACK, Status.STOPPED}


def canary_view(
    registry: RegistryBackend, ledger: CanaryLedger, experiment_id: str
) -> dict[str, Any]:
    """The canary's state (see the module docstring); an EvaluationError for a non-canary."""
    experiment = registry.get(experiment_id)
    design = design_of(experiment)
    steps = design.canary_steps
    changes = registry.changes(experiment_id)
    started: dict[int, str] = {}
    for change in changes:
        if change.kind == "canary_step" and change.details is not None:
            to_step, at = change.details.get("toStep"), change.details.get("stepStartedAt")
            if isinstance(to_step, int) and isinstance(at, str):
                started[to_step] = at
    if design.step_started_at is not None:
        started[design.step] = design.step_started_at
    final_at = next(
        (
            format_time(c.at)
            for c in reversed(changes)
            if c.kind == "status" and c.to_value in {s.value for s in FINISHED}
        ),
        None,
    )
    promoted = experiment.status is Status.SHIPPED and experiment.shipped_variant == canary_arm(
        experiment
    )
    ramp: list[dict[str, Any]] = []
    for i, step in enumerate(design.ramp):
        judged = i < len(steps)
        if not judged:
            outcome = "promoted" if promoted else "pending"
            begin, end = (final_at, None) if promoted else (None, None)
        else:
            begin = started.get(i)
            end = started.get(i + 1) if i < design.step else None
            if i < design.step:
                outcome = "passed"
            elif i > design.step:
                outcome = "pending"
            elif experiment.status is Status.RUNNING or experiment.status is Status.PAUSED:
                outcome = "current"
            else:
                outcome = "passed" if promoted else "failed"
                end = final_at
        ramp.append(
            {
                "percent": step.percent,
                "minMinutes": step.min_minutes,
                "minRequests": step.min_requests,
                "startedAt": begin,
                "endedAt": end,
                "outcome": outcome,
            }
        )
    current = steps[design.step]
    records = ledger.judgments(experiment_id)
    judgments = []
    for record in records:
        doc = record.to_dict()
        judgments.append(
            {
                "at": doc["at"],
                "step": doc["step"],
                "percent": doc["percent"],
                "verdict": doc["verdict"],
                "action": doc["action"],
                "reason": doc["reason"],
                "metrics": (doc.get("judgment") or {}).get("metrics", []),
            }
        )
    now_step = [r.to_dict() for r in records if r.step == design.step]
    distributions = now_step[-1].get("distributions", {}) if now_step else {}
    return {
        "experimentId": experiment.id,
        "status": experiment.status.value,
        "intervalMinutes": design.interval_minutes,
        "step": {
            "index": design.step,
            "percent": current.percent,
            "startedAt": design.step_started_at,
            "minMinutes": current.min_minutes,
            "minRequests": current.min_requests,
        },
        "ramp": ramp,
        "judgments": judgments,
        "distributions": distributions,
    }
