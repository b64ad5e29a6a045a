"""SDK config (with ETag), health, Prometheus metrics and key management."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path
from fastapi.responses import PlainTextResponse, Response

from splitlab import __version__
from splitlab.server.deps import Admin, Ctx, Sdk
from splitlab.server.metrics import CONTENT_TYPE
from splitlab.server.schemas import Health, KeyList, KeyRequest, NewKeyOut

router = APIRouter()


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names `etag` (weak comparison, RFC 9110 13.1.2)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


@router.get(
    "/v1/config",
    tags=["sdk"],
    summary="Experiment definitions for SDKs",
    responses={
        200: {
            "description": "Every non-draft experiment's definition; cache by the ETag.",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "experiments": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/Experiment"},
                            }
                        },
                    }
                }
            },
        },
        304: {"description": "Not modified: the ETag sent in If-None-Match is current."},
    },
)
def get_config(
    ctx: Ctx,
    key: Sdk,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """What an SDK needs to assign locally; poll with ``If-None-Match`` for a cheap 304."""
    config = ctx.view.config
    headers = {"ETag": config.etag, "Cache-Control": "no-cache"}
    if etag_matches(if_none_match, config.etag):
        return Response(status_code=304, headers=headers)
    return Response(config.body, media_type="application/json", headers=headers)


@router.get(
    "/healthz",
    tags=["operations"],
    response_model=Health,
    response_model_exclude_none=True,
    summary="Health",
)
def healthz(ctx: Ctx) -> dict[str, Any]:
    """Liveness and readiness: answers 200 when the store answers. With a shared registry,
    ``registry`` says whether PostgreSQL is reachable; while it is not, the status is
    ``degraded`` and assignment serves the last snapshot. With ``--kafka``, ``kafka`` is the
    forwarder's state; ``degraded`` when the broker has not answered for 15 s."""
    answer: dict[str, Any] = {
        "status": "ok",
        "experiments": len(ctx.view.experiments),
        "version": __version__,
    }
    if ctx.registry_health is not None:
        registry = ctx.registry_health()
        answer["registry"] = registry
        if not registry["available"]:
            answer["status"] = "degraded"
    if ctx.kafka_health is not None:
        answer["kafka"] = kafka = ctx.kafka_health()
        if kafka["degraded"]:
            answer["status"] = "degraded"
    if ctx.event_store is not None:  # events in ClickHouse (serve --clickhouse): its loader
        clickhouse = ctx.event_store.health()
        answer["clickhouse"] = clickhouse
        if not clickhouse["available"]:
            answer["status"] = "degraded"
    return answer


@router.get(
    "/metrics",
    tags=["operations"],
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(ctx: Ctx) -> PlainTextResponse:
    """Request counts and latencies, events accepted, looks run (text exposition format)."""
    return PlainTextResponse(ctx.metrics.render(), media_type=CONTENT_TYPE)


@router.get("/v1/keys", tags=["keys"], response_model=KeyList, summary="List keys")
def list_keys(ctx: Ctx, key: Admin) -> dict[str, Any]:
    """Every key (never the secrets)."""
    return {"keys": [k.to_dict() for k in ctx.keys.list()]}


@router.post("/v1/keys", tags=["keys"], status_code=201, response_model=NewKeyOut,
             summary="Create a key")  # fmt: skip
def create_key(body: KeyRequest, ctx: Ctx, key: Admin) -> dict[str, Any]:
    """A new admin or SDK key; the secret is in this answer only."""
    new = ctx.keys.create(body.kind, body.name)
    return {"key": new.key.to_dict(), "secret": new.secret}


@router.delete("/v1/keys/{key_id}", tags=["keys"], response_model=KeyList, summary="Revoke a key")
def revoke_key(
    key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")], ctx: Ctx, key: Admin
) -> dict[str, Any]:
    """Revoke a key at once (its dashboard sessions end too)."""
    return {"keys": [ctx.keys.revoke(key_id).to_dict()]}
