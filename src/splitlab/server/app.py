"""Build the splitlab server: the FastAPI application inside the :class:`Gateway`.

    from splitlab.store import DuckDBStore
    from splitlab.server import ServerContext, create_app

    ctx = ServerContext.open(DuckDBStore("splitlab.duckdb"))
    app = create_app(ctx)          # an ASGI application: uvicorn.run(app, ...)

Routes (all JSON, errors in one shape, see :mod:`splitlab.server.errors`):

=========================================  ======  ==========================================
``/v1/experiments``                        admin   list, create (the article's JSON)
``/v1/experiments/{id}``                   admin   read, replace while draft
``/v1/experiments/{id}/status``            admin   change status with a reason
``/v1/experiments/{id}/toggle|rollback``   admin   variant toggle, roll back
``/v1/experiments/{id}/audit|looks``       admin   audit log, looks ledger
``/v1/experiments/{id}/summary``           admin   sufficient statistics
``/v1/experiments/{id}/evaluate``          admin   run a look
``/v1/experiments/{id}/results[/{look}]``  admin   latest / one look's results
``/v1/experiments/{id}/canary[/judge]``    admin   a canary's state, judge it now
``/v1/keys``                               admin   create, list, revoke keys
``/v1/experiments/{id}/bandit``            admin   a bandit's weights history and readout
``/v1/experiments/{id}/exposure-checks``   admin   browser exposures checked by the server
``/v1/webhooks[/{id}[/deliveries]]``       admin   subscriptions and their delivery log
``/v1/config``                             sdk     SDK config with ETag
``/v1/config/stream``                      sdk     config changes (server-sent events)
``/v1/assign``, ``/v1/events``             sdk     hot routes (plain ASGI + msgspec)
``/healthz``, ``/metrics``                 open    health, Prometheus
``/``, ``/experiments/{id}``, ``/login``   session the dashboard
=========================================  ======  ==========================================
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response

from splitlab import __version__
from splitlab.server import dashboard
from splitlab.server.api import (
    bandit,
    canary,
    experiments,
    exposure_checks,
    holdouts,
    looks,
    service,
    webhooks,
)
from splitlab.server.collector import create_collector
from splitlab.server.context import ServerContext
from splitlab.server.cors import CorsPolicy
from splitlab.server.errors import error_response, install_error_handlers
from splitlab.server.exposures import BrowserExposures
from splitlab.server.gateway import Gateway
from splitlab.server.hot import assign_app, events_app
from splitlab.server.openapi import build_openapi
from splitlab.server.stream import config_stream_app

logger = logging.getLogger(__name__)

DESCRIPTION = (
    "splitlab's HTTP API: experiments, assignment, events, looks and decisions. "
    "Authenticate with `Authorization: Bearer <key>`: admin keys may do everything, SDK keys "
    "may read `/v1/config`, assign and send events. Every failure answers "
    '`{"error": {"status", "code", "message", "details"}}`.'
)


def create_fastapi(ctx: ServerContext | None) -> FastAPI:
    """The FastAPI application (every route but the two hot ones).

    Without a context the application can only describe itself (its OpenAPI document).
    """
    app = FastAPI(
        title="splitlab",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
    )
    if ctx is not None:
        app.state.ctx = ctx
    install_error_handlers(app)

    async def on_crash(request: Any, exc: Exception) -> Response:
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal_error", "the server failed to answer; see its log")

    app.add_exception_handler(500, on_crash)
    app.include_router(experiments.router)
    app.include_router(looks.router)
    app.include_router(bandit.router)
    app.include_router(canary.router)
    app.include_router(exposure_checks.router)

    app.include_router(holdouts.router)
    app.include_router(service.router)
    app.include_router(webhooks.router)
    app.include_router(dashboard.router)
    dashboard.mount_static(app)

    def openapi() -> dict[str, Any]:
        return build_openapi(app)

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def create_app(ctx: ServerContext, *, cors: CorsPolicy | None = None) -> Gateway:
    """The whole server as one ASGI application (`cors`: origins allowed on the SDK routes)."""
    api = create_fastapi(ctx)
    collector = create_collector(ctx.events, known=ctx.known, review=BrowserExposures(ctx))
    return Gateway(
        api,
        ctx.metrics,
        assign=assign_app(ctx),
        events=events_app(ctx, collector),
        stream=config_stream_app(ctx),
        limits=ctx.limits,
        cors=cors,
    )
