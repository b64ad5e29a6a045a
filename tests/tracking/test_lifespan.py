"""The ASGI lifespan shutdown closes the tracking client (what uvicorn runs on SIGTERM).

Starlette's test client runs the lifespan like a server does: startup on entering the
``with`` block, shutdown on leaving it. The real uvicorn process is in test_shutdown.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from splitlab.assignment import ExperimentAssignmentService
from splitlab.tracking import CloseOnShutdown, EventTrackingMiddleware, emit
from tests.tracking.tracking_helpers import Tracked, make_tracked


def test_lifespan_shutdown_delivers_what_is_pending(tracked: Tracked) -> None:
    """Leaving the app's lifespan delivers the events still waiting for their flush interval."""
    app = FastAPI()
    app.add_middleware(EventTrackingMiddleware, tracking=tracked.core)

    @app.post("/checkout")
    def checkout() -> dict[str, Any]:
        return {"events": len(emit("checkout"))}

    with TestClient(app) as http:
        assert http.post("/checkout", headers={"X-User-Id": "user-1"}).json() == {"events": 2}
        assert tracked.sink.stored == {}, "the flush interval (60 s) has not passed"
    kinds = sorted(e.type for e in tracked.sink.stored.values())
    assert kinds == ["exposure"] * 2 + ["metric"] * 2
    assert tracked.client.stats.pending == 0


@pytest.mark.parametrize("wrapper", ["CloseOnShutdown", "EventTrackingMiddleware"])
def test_app_without_lifespan_support_still_closes_the_client(
    assigner: ExperimentAssignmentService, wrapper: str
) -> None:
    """An app that refuses the lifespan scope (as Django's ASGI handler does) gets it
    answered by the wrapper, and the shutdown still closes the client."""
    tracked = make_tracked(assigner)

    async def django_like(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        tracked.client.metric("user-1", "exp-1", "control", "checkout")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app: Any = (
        CloseOnShutdown(django_like, tracked.client)
        if wrapper == "CloseOnShutdown"
        else EventTrackingMiddleware(django_like, tracking=tracked.core)
    )
    with TestClient(app) as http:
        assert http.get("/").status_code == 204
        assert tracked.sink.stored == {}
    assert len(tracked.sink.of_type("metric")) == 1
    assert tracked.client.stats.pending == 0
