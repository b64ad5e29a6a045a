"""Browser exposures checked by the server: how often pages claimed another variant."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from splitlab.server.deps import Admin, Ctx, ExperimentId, experiment
from splitlab.server.schemas import ExposureChecksOut

router = APIRouter(prefix="/v1/experiments", tags=["experiments"])


@router.get(
    "/{experiment_id}/exposure-checks",
    response_model=ExposureChecksOut,
    summary="Browser exposure checks",
)
def get_exposure_checks(experiment_id: ExperimentId, ctx: Ctx, key: Admin) -> dict[str, Any]:
    """Browser exposures (a request with `Origin`, or a beacon) recomputed by the server:
    how many were checked, how many claimed another variant than the server assigns (stored
    with the server's, counted by claimed -> served pair), and how many were refused because
    the server assigns none (by reason). Each event id counts once; the counts are durable."""
    found = experiment(ctx, experiment_id)
    return ctx.exposure_checks.counts(found.id).to_dict()
