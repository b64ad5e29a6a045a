"""A bandit's status: its weight updates (oldest first) and the readout of the latest."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from splitlab.evaluation.bandit import bandit_status
from splitlab.server.deps import Admin, Ctx, ExperimentId, experiment
from splitlab.server.errors import ApiError

router = APIRouter(prefix="/v1/experiments", tags=["results"])

OBJECT = {"content": {"application/json": {"schema": {"type": "object"}}}}


@router.get(
    "/{experiment_id}/bandit",
    summary="Bandit status",
    responses={
        200: {
            "description": (
                "experimentId, status, weightsVersion, updates (version, at, cutoff, seed, "
                "epsilon, burnIn, arms {units, rewardMean, posterior, pBest, weight}, srm "
                "{pValue, detected, counts, expected}; oldest first) and readout (method, "
                "comparisons of each arm with the control: estimate, lower, upper; regret; "
                "note). See docs/bandits.md."
            ),
            **OBJECT,
        }
    },
)
def get_bandit(experiment_id: ExperimentId, ctx: Ctx, key: Admin) -> Any:
    """The bandit's updates and readout (a 409 for an experiment that is not a bandit)."""
    found = experiment(ctx, experiment_id)
    if not found.is_bandit:
        raise ApiError(
            409,
            f"experiment {experiment_id!r} is not a bandit (design.type is "
            f"{found.design.type if found.design else None!r}); expected 'bandit'",
            code="not_a_bandit",
        )
    return bandit_status(ctx.registry, experiment_id)
