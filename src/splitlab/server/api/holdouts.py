"""The holdouts: each one's share held out, its scope and the experiments it covers now."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from splitlab.config import Status
from splitlab.evaluation.holdout_view import holdout_rows
from splitlab.server.deps import Admin, Ctx
from splitlab.server.schemas import Body

router = APIRouter(prefix="/v1/holdouts", tags=["holdouts"])


class HoldoutScopeOut(Body):
    tags: list[str]


class CoveredOut(Body):
    experiment_id: str
    status: Status


class HoldoutOut(Body):
    holdout_id: str
    name: str
    status: Status
    #: Share of the units held out, in percent.
    percent: float
    hash_key: str
    #: The tags selecting the covered experiments; null: every experiment on ``hashKey``.
    scope: HoldoutScopeOut | None
    scope_text: str
    covered_experiment_ids: list[str]
    covered: list[CoveredOut]


class HoldoutList(Body):
    holdouts: list[HoldoutOut]


@router.get("", response_model=HoldoutList, summary="List holdouts")
def list_holdouts(ctx: Ctx, key: Admin) -> dict[str, Any]:
    """Every holdout (``design.type: "holdout"``) with its status, the percent of units it
    holds out, its scope and the experiments it covers now (same ``hashKey``, sharing one of
    the scope's tags when it names tags; never a switchback, a canary or another holdout),
    with their statuses. A held-out unit gets control in every covered experiment while the
    holdout runs."""
    return {"holdouts": [row.to_dict() for row in holdout_rows(ctx.registry.experiments())]}
