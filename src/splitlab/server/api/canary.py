"""A canary's state (the ramp, judgments, distributions) and judging it now."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from splitlab.config import Experiment, Status
from splitlab.evaluation.canary import judge_canary
from splitlab.evaluation.canary_view import canary_view
from splitlab.server.deps import Admin, Ctx, ExperimentId, experiment
from splitlab.server.errors import ApiError
from splitlab.store.canary_ledger import CanaryLedger

router = APIRouter(prefix="/v1/experiments", tags=["canary"])

OBJECT = {"content": {"application/json": {"schema": {"type": "object"}}}}

STATE = (
    "The canary's state (docs/canary.md#the-canary-state-json): experimentId, status, "
    "intervalMinutes, step {index, percent, startedAt, minMinutes, minRequests}, ramp [{percent, "
    "minMinutes, minRequests, startedAt, endedAt, outcome: passed|failed|current|pending|"
    "promoted}], judgments [{at, step, percent, verdict, action: wait|advance|promote|"
    "rollback, reason, metrics}] (oldest first) and distributions {metric: {baseline, canary}} "
    "(sketches of the current step's mann_whitney and quantile metrics)."
)


def _canary(ctx: Any, experiment_id: str) -> Experiment:
    found = experiment(ctx, experiment_id)
    if not found.is_canary:
        kind = "classic" if found.design is None else found.design.type
        raise ApiError(
            409, f"experiment {experiment_id!r} is a {kind} experiment; a canary state exists "
            'only for design.type "canary"', code="not_canary",
            details=[{"path": "path.experiment_id", "value": experiment_id,
                      "expected": "the id of a canary experiment"}],
        )  # fmt: skip
    return found


@router.get(
    "/{experiment_id}/canary",
    summary="Canary state",
    responses={200: {"description": STATE, **OBJECT}},
)
def get_canary(experiment_id: ExperimentId, ctx: Ctx, key: Admin) -> Any:
    """The canary's ramp, each step's outcome, every judgment and the current distributions.

    Only for ``design.type: "canary"`` (409 otherwise).
    """
    _canary(ctx, experiment_id)
    return canary_view(ctx.registry, CanaryLedger.for_store(ctx.registry), experiment_id)


@router.post(
    "/{experiment_id}/canary/judge",
    summary="Judge a canary now",
    responses={200: {"description": "The canary's state after the judgment: " + STATE, **OBJECT}},
)
def post_canary_judge(experiment_id: ExperimentId, ctx: Ctx, key: Admin) -> Any:
    """Judge the running canary's closed intervals now (as the monitor does every interval)
    and act on the judgment: wait, advance, promote or roll back. 409 unless it is a running
    canary with at least one closed interval in its current step."""
    found = _canary(ctx, experiment_id)
    if found.status is not Status.RUNNING:
        raise ApiError(
            409, f"canary {experiment_id!r} is {found.status.value!r}; only a running canary "
            "is judged", code="not_running",
            details=[{"path": "path.experiment_id", "value": experiment_id,
                      "expected": "a running canary"}],
        )  # fmt: skip
    ledger = CanaryLedger.for_store(ctx.registry)
    outcome = judge_canary(ctx.events, ctx.registry, experiment_id, ledger=ledger, force=True)
    if outcome is None:
        raise ApiError(
            409, f"canary {experiment_id!r}: no interval of the current step has closed yet",
            code="no_closed_interval",
        )  # fmt: skip
    ctx.refresh()
    return canary_view(ctx.registry, ledger, experiment_id)
