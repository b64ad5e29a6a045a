"""Data and decisions: summary (sufficient statistics), evaluate (a look), results, ledger,
and a switchback's cell table."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from splitlab.config import Experiment
from splitlab.config.designs import SwitchbackDesign
from splitlab.evaluation import run_look
from splitlab.evaluation.cutoff import CUTOFF_RULE
from splitlab.evaluation.look import results_json
from splitlab.server.deps import SEGMENT_PATTERN, Admin, Ctx, ExperimentId, experiment, segment_of
from splitlab.server.errors import ApiError
from splitlab.server.schemas import Cutoff, EvaluateRequest, LooksLedger
from splitlab.server.schemas_curves import LookDocument
from splitlab.store.registry import LookRecord, format_time

router = APIRouter(prefix="/v1/experiments", tags=["results"])

OBJECT = {"content": {"application/json": {"schema": {"type": "object"}}}}
#: A look document: the results JSON (keys left open) with its ``curves`` block described.
LOOK = {"model": LookDocument}


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def summary_look(found: Experiment, taken: int) -> int:
    """The look a summary is for: the next planned one, at most the last (as a peek's)."""
    ev = found.evaluation
    return taken + 1 if ev.allow_extra_looks else min(taken + 1, ev.max_peeks)


def _document(record: LookRecord) -> Response:
    """A recorded look as the results JSON plus its ledger data (same bytes every time)."""
    return Response(results_json(record).encode(), media_type="application/json")


RESULTS = (
    "The results JSON (docs/architecture.md#the-results-json, as `splitlab analyze --json` prints it) at the top level (experimentId, "
    "look, srm, decision, metrics, ...), plus dataQuality, segments, postStratified, actions "
    "and `ledger` (seq, number, "
    "peek, analysisLook, takenAt, cutoff, triggeredBy, status, decisionAction, inputs); for "
    "retention and time-to-event metrics also `curves` (docs/metrics.md)."
)


@router.get(
    "/{experiment_id}/summary",
    summary="Sufficient statistics",
    responses={
        200: {
            "description": (
                "The sums JSON (docs/architecture.md#the-sufficient-statistics-json, the input of `splitlab analyze --sums`); `look` is the next "
                "planned look's number, capped at maxPeeks unless allowExtraLooks."
            ),
            **OBJECT,
        }
    },
)
def get_summary(
    experiment_id: ExperimentId,
    ctx: Ctx,
    key: Admin,
    cutoff: Annotated[
        Cutoff | None,
        Query(description=f"Data cut-off (default: now): {CUTOFF_RULE}; without a zone, UTC."),
    ] = None,
    segment: Annotated[
        str | None,
        Query(pattern=SEGMENT_PATTERN, description="A segment declared by the experiment."),
    ] = None,
) -> Any:
    """Per variant and metric: n, sum, sum of squares (and cross-products) up to the cut-off.

    ``look`` is the look these sums would be analysed as: the next planned look (planned
    looks taken + 1), but never past ``maxPeeks`` once every planned look is taken (unless
    ``allowExtraLooks``), as a peek then is; so ``splitlab analyze --sums`` takes the answer
    unchanged.
    """
    found = experiment(ctx, experiment_id)
    sums = ctx.events.summary(found, cutoff=_utc(cutoff), segment=segment_of(found, segment))
    taken = ctx.registry.planned_looks_taken(experiment_id)
    return replace(sums, look=summary_look(found, taken)).to_dict()


@router.post(
    "/{experiment_id}/evaluate",
    summary="Run a look now",
    responses={200: {"description": "The look: " + RESULTS, **LOOK}},
)
def post_evaluate(
    experiment_id: ExperimentId, ctx: Ctx, key: Admin, body: EvaluateRequest | None = None
) -> Response:
    """Take a look (or a read-only peek): sums -> analysis -> decision, recorded in the ledger.

    A planned look past ``maxPeeks`` is a 409; a look may roll the experiment back.
    """
    request = body or EvaluateRequest()
    experiment(ctx, experiment_id)
    record = run_look(
        ctx.events, ctx.registry, experiment_id, cutoff=_utc(request.cutoff),
        triggered_by=f"api:{key.principal}", peek=request.peek,
    )  # fmt: skip
    ctx.metrics.add_look(record.action)
    ctx.refresh()
    return _document(record)


@router.get(
    "/{experiment_id}/results",
    summary="Latest results",
    responses={200: {"description": "The latest planned look: " + RESULTS, **LOOK}},
)
def get_latest_results(experiment_id: ExperimentId, ctx: Ctx, key: Admin) -> Response:
    """The latest planned look's results (re-rendered from the ledger, same bytes each time)."""
    experiment(ctx, experiment_id)
    looks = ctx.registry.looks(experiment_id, include_peeks=False)
    if not looks:
        raise ApiError(404, f"experiment {experiment_id!r} has no look yet; run one with "
                       f"POST /v1/experiments/{experiment_id}/evaluate", code="no_look")  # fmt: skip
    return _document(looks[-1])


@router.get(
    "/{experiment_id}/results/{look}",
    summary="Results of one look",
    responses={200: {"description": "That planned look: " + RESULTS, **LOOK}},
)
def get_look_results(
    experiment_id: ExperimentId,
    look: Annotated[int, Path(ge=1, le=1000, description="The planned look's number.")],
    ctx: Ctx,
    key: Admin,
) -> Response:
    """A past planned look's results, re-rendered byte for byte from the ledger."""
    experiment(ctx, experiment_id)
    for record in reversed(ctx.registry.looks(experiment_id, include_peeks=False)):
        if record.number == look:
            return _document(record)
    raise ApiError(404, f"experiment {experiment_id!r} has no look number {look}",
                   code="no_look", details=[{"path": "path.look", "value": look,
                                             "expected": "the number of a recorded look"}])  # fmt: skip


CELLS = (
    "The switchback's cell table up to the cut-off: experimentId, the design's unit, "
    "periodSeconds, burnInSeconds and origin, and the cells (unitNames, firstPeriod, periods, "
    "variants: one per cell, unit-major, so cell i is unit i // periods in period "
    "firstPeriod + i % periods; values: keyed by metric name, each cell's outcome; denominators, keyed the same way, "
    "for ratio metrics), as docs/switchback.md describes them."
)


@router.get(
    "/{experiment_id}/cells",
    summary="Switchback cells",
    responses={200: {"description": CELLS, **OBJECT}},
)
def get_cells(
    experiment_id: ExperimentId,
    ctx: Ctx,
    key: Admin,
    cutoff: Annotated[
        Cutoff | None,
        Query(description=f"Data cut-off (default: now): {CUTOFF_RULE}; without a zone, UTC."),
    ] = None,
) -> Any:
    """Which variant every (unit, period) cell of a switchback had, with its outcomes.

    The analysis window runs from the period of the experiment's first event to the last
    period complete at the cut-off; every unit seen has a cell in every period, its variant
    from the switchback assignment. Only for ``design.type: "switchback"`` (409 otherwise).
    """
    found = experiment(ctx, experiment_id)
    design = found.design
    if not isinstance(design, SwitchbackDesign):
        kind = "classic" if design is None else design.type
        raise ApiError(
            409, f"experiment {experiment_id!r} is a {kind} experiment; cells exist only for "
            'design.type "switchback"', code="not_switchback",
            details=[{"path": "path.experiment_id", "value": experiment_id,
                      "expected": "the id of a switchback experiment"}],
        )  # fmt: skip
    table = ctx.events.switchback_cells(found, _utc(cutoff))
    return {
        "experimentId": found.id,
        "unit": design.unit,
        "periodSeconds": design.period_seconds,
        "burnInSeconds": design.burn_in_seconds,
        "origin": design.origin,
        **table.to_dict(),
    }


@router.get("/{experiment_id}/looks", response_model=LooksLedger, summary="Looks ledger")
def get_looks(experiment_id: ExperimentId, ctx: Ctx, key: Admin) -> dict[str, Any]:
    """Every look and peek: when, data cut-off, who or what triggered it, the decision."""
    experiment(ctx, experiment_id)
    return {
        "looks": [
            {
                "seq": r.seq,
                "number": r.number,
                "peek": r.peek,
                "at": format_time(r.at),
                "cutoff": format_time(r.cutoff),
                "triggeredBy": r.triggered_by,
                "action": r.action,
                "variant": r.variant,
            }
            for r in ctx.registry.looks(experiment_id)
        ]
    }
