"""Webhook subscriptions: create, list, read, remove, and each one's delivery log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import Field

from splitlab.server.deps import Admin, Ctx, ExperimentId, experiment
from splitlab.server.errors import ApiError
from splitlab.server.schemas import Body
from splitlab.store.webhooks import EVENT_TYPES, WebhookError, WebhookStore

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

WebhookId = Annotated[str, Path(pattern=r"^wh_[0-9a-f]{12}$", description="wh_ and 12 hex digits")]


class WebhookRequest(Body):
    """A new subscription."""

    url: str = Field(min_length=1, max_length=2000, description="http:// or https:// URL.")
    secret: str | None = Field(
        None, min_length=16, max_length=200,
        description="Signing secret (at least 16 characters); omitted: one is generated.",
    )  # fmt: skip
    events: list[str] = Field(
        default_factory=list,
        description=f"Event types to receive (empty: all): {', '.join(sorted(EVENT_TYPES))}.",
    )
    description: str = Field("", max_length=500)


def _store(ctx: Any) -> WebhookStore:
    return WebhookStore.for_store(ctx.registry, create=False)


def _api_error(exc: WebhookError) -> ApiError:
    if exc.code == "unknown_webhook":
        return ApiError(404, str(exc), code="unknown_webhook")
    field = str(exc).split(":", 1)[0]
    return ApiError(422, "the request body is not valid", code="validation_error",
                    details=[{"path": f"$.{field}", "value": None, "expected": str(exc)}])  # fmt: skip


def _with_counts(store: WebhookStore, webhook_id: str) -> dict[str, Any]:
    return {**store.get(webhook_id).to_dict(), "deliveries": store.counts(webhook_id)}


@router.post("", status_code=201, summary="Subscribe a URL to notifications")
def create_webhook(body: WebhookRequest, ctx: Ctx, key: Admin) -> dict[str, Any]:
    """A new subscription; the answer carries the signing secret, shown this once."""
    store = _store(ctx)
    try:
        hook, secret = store.add(
            body.url, secret=body.secret, events=body.events, description=body.description
        )
    except WebhookError as exc:
        raise _api_error(exc) from exc
    return {**hook.to_dict(), "secret": secret}


@router.get("", summary="List subscriptions")
def list_webhooks(
    ctx: Ctx, key: Admin, include_removed: Annotated[bool, Query(alias="includeRemoved")] = False
) -> dict[str, Any]:
    """Every subscription with its delivery counts by state (secrets only as a hint)."""
    store = _store(ctx)
    return {
        "webhooks": [
            {**h.to_dict(), "deliveries": store.counts(h.webhook_id)}
            for h in store.subscriptions(include_removed=include_removed)
        ]
    }


@router.get("/notifications/{experiment_id}", summary="An experiment's notifications")
def list_notifications(
    experiment_id: ExperimentId,
    ctx: Ctx,
    key: Admin,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The notifications one experiment produced, newest first, each with the state of its
    delivery to every subscription (the experiment's side of the delivery log)."""
    experiment(ctx, experiment_id)  # 404 for an unknown experiment
    return {"notifications": _store(ctx).notifications(experiment_id, limit=limit)}


@router.get("/{webhook_id}", summary="Read a subscription")
def read_webhook(webhook_id: WebhookId, ctx: Ctx, key: Admin) -> dict[str, Any]:
    """One subscription with its delivery counts by state."""
    try:
        return _with_counts(_store(ctx), webhook_id)
    except WebhookError as exc:
        raise _api_error(exc) from exc


@router.delete("/{webhook_id}", summary="Remove a subscription")
def delete_webhook(webhook_id: WebhookId, ctx: Ctx, key: Admin) -> dict[str, Any]:
    """End a subscription; its pending deliveries are cancelled, its log is kept."""
    store = _store(ctx)
    try:
        store.remove(webhook_id)
        return _with_counts(store, webhook_id)
    except WebhookError as exc:
        raise _api_error(exc) from exc


@router.get("/{webhook_id}/deliveries", summary="A subscription's deliveries and their log")
def list_deliveries(
    webhook_id: WebhookId,
    ctx: Ctx,
    key: Admin,
    state: Literal["pending", "delivered", "dead", "cancelled"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Deliveries newest first, each with every attempt (time, outcome, status, error)."""
    try:
        return {"deliveries": _store(ctx).deliveries(webhook_id, state=state, limit=limit)}
    except WebhookError as exc:
        raise _api_error(exc) from exc
