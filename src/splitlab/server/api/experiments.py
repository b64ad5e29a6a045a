"""Experiments: create, read, list, update while draft, status, toggle, rollback, audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from splitlab.config import Experiment, Status, parse_experiment, parse_json
from splitlab.evaluation.lifecycle import change_status, check_layers, history, set_toggle
from splitlab.server.deps import Admin, Ctx, ExperimentId, experiment
from splitlab.server.errors import ApiError, malformed_json
from splitlab.server.schemas import (
    AuditLog,
    ExperimentList,
    RollbackRequest,
    StatusChange,
    Toggle,
)
from splitlab.server.sql_metrics import check_sql_metrics
from splitlab.store.registry import DuplicateExperimentError
from splitlab.tracking.jsontext import json_problem

router = APIRouter(prefix="/v1/experiments", tags=["experiments"])

DEFINITION: dict[str, Any] = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Experiment"}}},
}
DEFINITION_OUT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The definition as registered now (camelCase, defaults filled in).",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Experiment"}}},
    }
}


async def _definition(request: Request) -> Experiment:
    body = await request.body()
    problem = json_problem(body)  # the gateway refuses these first; this keeps the route safe
    if problem is not None:
        raise malformed_json(problem)
    return parse_experiment(parse_json(body.decode("utf-8"), "request body"), "request body")


def _wire(found: Experiment) -> JSONResponse:
    return JSONResponse(found.to_wire())


@router.get("", response_model=ExperimentList, summary="List experiments")
def list_experiments(ctx: Ctx, key: Admin) -> dict[str, Any]:
    """Every registered experiment with its status and latest decision."""
    items = []
    for found in ctx.registry.experiments():
        looks = ctx.registry.looks(found.id, include_peeks=False)
        latest = looks[-1].to_dict().get("decision") if looks else None
        items.append(
            {
                "experimentId": found.id,
                "name": found.name,
                "status": found.status,
                "trafficAllocation": found.traffic_allocation,
                "variants": list(found.variant_names),
                "forcedVariant": found.forced_variant,
                "shippedVariant": found.shipped_variant,
                "looks": len(looks),
                "latestDecision": latest,
            }
        )
    return {"experiments": items}


@router.post(
    "",
    status_code=201,
    summary="Create an experiment",
    openapi_extra={"requestBody": DEFINITION},
    responses={201: DEFINITION_OUT[200]},
)
async def create_experiment(request: Request, ctx: Ctx, key: Admin) -> JSONResponse:
    """Register a definition (the article's JSON format).

    A definition whose status is not ``draft`` is registered as a draft and then moved to its
    status through the lifecycle, so the audit log records the start.
    """
    definition = await _definition(request)
    await check_sql_metrics(ctx, definition)
    wanted = definition.status
    registry = ctx.registry
    with registry.transaction():
        # the duplicate id first: a layer check would compare the definition with its
        # registered namesake as if replacing it and report a misleading range conflict
        try:
            registry.create(definition.model_copy(update={"status": Status.DRAFT}), at=_now())
        except DuplicateExperimentError as exc:
            raise ApiError(409, str(exc), code="duplicate_experiment", details=[
                {"path": "$.experimentId", "value": definition.id,
                 "expected": "an experimentId that is not registered yet"}]) from exc  # fmt: skip
        check_layers(registry, definition)  # a conflict rolls the insert back
        if wanted is not Status.DRAFT:
            change_status(
                registry, definition.id, wanted, by=key.principal,
                reason=f"created with status {wanted.value!r}",
                variant=definition.shipped_variant if wanted is Status.SHIPPED else None,
            )  # fmt: skip
    ctx.refresh()
    response = _wire(registry.get(definition.id))
    response.status_code = 201
    response.headers["Location"] = f"/v1/experiments/{definition.id}"
    return response


@router.get("/{experiment_id}", summary="Read an experiment", responses=DEFINITION_OUT)
def read_experiment(experiment_id: ExperimentId, ctx: Ctx, key: Admin) -> JSONResponse:
    """The definition as registered now (status, shipped variant and toggle included)."""
    return _wire(experiment(ctx, experiment_id))


@router.put(
    "/{experiment_id}",
    summary="Replace a draft's definition",
    openapi_extra={"requestBody": DEFINITION},
    responses=DEFINITION_OUT,
)
async def update_experiment(
    experiment_id: ExperimentId, request: Request, ctx: Ctx, key: Admin
) -> JSONResponse:
    """Replace the definition of a ``draft`` experiment; a started one is a 409."""
    definition = await _definition(request)
    await check_sql_metrics(ctx, definition)
    if definition.id != experiment_id:
        raise ApiError(422, "the request body is not valid", code="validation_error", details=[
            {"path": "$.experimentId", "value": definition.id,
             "expected": f"the id in the URL ({experiment_id!r})"}])  # fmt: skip
    current = ctx.registry.get(experiment_id)
    if current.status is not Status.DRAFT or definition.status is not Status.DRAFT:
        raise ApiError(
            409,
            f"experiment {experiment_id!r} is {current.status.value!r}: only a draft's "
            "definition may change (start a new experiment instead); change the status "
            "with POST /v1/experiments/{id}/status",
            code="not_draft",
            details=[{"path": "$.status", "value": current.status.value, "expected": "draft"}],
        )
    check_layers(ctx.registry, definition)
    ctx.registry.write_state(
        definition, kind="definition", from_value=None, to_value=None,
        by=key.principal, reason="definition replaced while draft", at=_now(),
    )  # fmt: skip
    ctx.refresh()
    return _wire(ctx.registry.get(experiment_id))


@router.post("/{experiment_id}/status", summary="Change the status", responses=DEFINITION_OUT)
def post_status(
    experiment_id: ExperimentId, body: StatusChange, ctx: Ctx, key: Admin
) -> JSONResponse:
    """Move the experiment through its lifecycle (draft -> running -> paused -> stopped |
    rolled_back | shipped); every change is recorded with who and why."""
    changed = change_status(
        ctx.registry, experiment_id, body.status, by=key.principal, reason=body.reason,
        variant=body.variant,
    )  # fmt: skip
    ctx.refresh()
    return _wire(changed)


@router.post("/{experiment_id}/toggle", summary="Set or clear the variant toggle",
             responses=DEFINITION_OUT)  # fmt: skip
def post_toggle(experiment_id: ExperimentId, body: Toggle, ctx: Ctx, key: Admin) -> JSONResponse:
    """Force one variant (usually control) for everyone at once, or clear it with null."""
    changed = set_toggle(
        ctx.registry, experiment_id, body.variant, by=key.principal, reason=body.reason
    )
    ctx.refresh()
    return _wire(changed)


@router.post("/{experiment_id}/rollback", summary="Roll back", responses=DEFINITION_OUT)
def post_rollback(
    experiment_id: ExperimentId, body: RollbackRequest, ctx: Ctx, key: Admin
) -> JSONResponse:
    """Status ``rolled_back``: from now on everyone gets control (final)."""
    changed = change_status(
        ctx.registry, experiment_id, Status.ROLLED_BACK, by=key.principal, reason=body.reason
    )
    ctx.refresh()
    return _wire(changed)


@router.get("/{experiment_id}/audit", response_model=AuditLog, summary="Audit log")
def get_audit(experiment_id: ExperimentId, ctx: Ctx, key: Admin) -> dict[str, Any]:
    """Every status change and toggle: who, when, why, from what to what."""
    return {"changes": [c.to_dict() for c in history(ctx.registry, experiment_id)]}


def _now() -> datetime:
    return datetime.now(UTC)
