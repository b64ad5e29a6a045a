"""FastAPI dependencies: the server context, the caller's key, validated path parameters."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from splitlab.config import Experiment
from splitlab.config.models import EXPERIMENT_ID_PATTERN
from splitlab.server.auth import authorize
from splitlab.server.context import ServerContext
from splitlab.server.errors import ApiError
from splitlab.server.keys import ApiKey

#: Segment (attribute) names.
SEGMENT_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$"
_SEGMENT = re.compile(SEGMENT_PATTERN)

_bearer = HTTPBearer(auto_error=False, description="An admin or SDK key: `sl_<kind>_<id>_<secret>`")


def context(request: Request) -> ServerContext:
    """The server context the application was created with."""
    ctx: ServerContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ServerContext, Depends(context)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def admin_key(ctx: Ctx, credentials: Credentials) -> ApiKey:
    """The caller's admin key (401 without a valid key, 403 with an SDK key)."""
    return authorize(ctx.keys, credentials.credentials if credentials else None, admin=True)


def sdk_key(ctx: Ctx, credentials: Credentials) -> ApiKey:
    """The caller's key of either kind (401 without a valid key)."""
    return authorize(ctx.keys, credentials.credentials if credentials else None, admin=False)


Admin = Annotated[ApiKey, Depends(admin_key)]
Sdk = Annotated[ApiKey, Depends(sdk_key)]
ExperimentId = Annotated[
    str,
    Path(
        pattern=EXPERIMENT_ID_PATTERN,  # the definition's own rule, checked before SQL
        description="1 to 128 letters, digits, '.', '_', ':' or '-'",
        examples=["exp-checkout-flow-v3"],
    ),
]


def experiment(ctx: ServerContext, experiment_id: str) -> Experiment:
    """The registered experiment, or a 404 in the error shape."""
    found = ctx.view.experiments.get(experiment_id)
    if found is None:
        found = ctx.registry.get(experiment_id)
    return found


def segment_of(found: Experiment, segment: str | None) -> str | None:
    """A segment name that is valid and pre-registered on `found`, or a 422."""
    if segment is None:
        return None
    if _SEGMENT.match(segment) is None or segment not in found.segments:
        names = ", ".join(found.segments) or "none are declared"
        raise ApiError(
            422,
            "the request is not valid",
            code="validation_error",
            details=[
                {
                    "path": "query.segment",
                    "value": segment[:80],
                    "expected": f"one of the experiment's segments ({names})",
                }
            ],
        )
    return segment
