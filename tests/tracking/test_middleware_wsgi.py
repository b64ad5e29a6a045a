"""The WSGI middleware under Flask, with Flask's real test client."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask, Response, stream_with_context

from splitlab.assignment import ExperimentAssignmentService
from splitlab.tracking import WSGITrackingMiddleware, current, current_or_none, emit
from tests.tracking.tracking_helpers import Tracked, unit_with_variant


def flask_app(tracked: Tracked) -> Flask:
    app = Flask(__name__)
    app.wsgi_app = WSGITrackingMiddleware(app.wsgi_app, tracking=tracked.core)  # type: ignore[method-assign]

    @app.get("/whoami")
    def whoami() -> dict[str, Any]:
        context = current()
        before = context.unit_id
        time.sleep(0.002)  # let other threads' requests interleave
        variants = {eid: a.variant for eid, a in context.assignments.items()}
        return {"before": before, "unit": current().unit_id, "variants": variants}

    @app.post("/checkout")
    def checkout() -> dict[str, Any]:
        return {"eventIds": [e.event_id for e in emit("checkout")]}

    @app.get("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[str]:
            for _ in range(3):
                yield (current().unit_id or "") + ","

        return Response(stream_with_context(chunks()))

    return app


def test_assignments_reach_the_handler_and_the_response_header(
    tracked: Tracked, assigner: ExperimentAssignmentService
) -> None:
    """The Flask view sees the service's assignments; the response carries them in a header."""
    client = flask_app(tracked).test_client()
    response = client.get("/whoami", headers={"X-User-Id": "user-7"})
    expected = {eid: a.variant for eid, a in assigner.assign_all("user-7", {}).items()}
    assert response.json == {"before": "user-7", "unit": "user-7", "variants": expected}
    header = ";".join(f"{eid}={expected[eid]}" for eid in sorted(expected))
    assert response.headers["X-Splitlab-Assignments"] == header


def test_variant_claimed_by_the_client_is_ignored(
    tracked: Tracked, assigner: ExperimentAssignmentService
) -> None:
    """x-variant / x-experiment-id headers change neither the variant nor the events (defect 8)."""
    unit = unit_with_variant(assigner, "exp-1", "treatment")
    client = flask_app(tracked).test_client()
    claims = {"X-User-Id": unit, "x-variant": "control", "x-experiment-id": "exp-1"}
    assert client.get("/whoami", headers=claims).json["variants"]["exp-1"] == "treatment"
    client.post("/checkout", headers=claims)
    events = tracked.stored("exposure") + tracked.stored("metric")
    assert {e.variant for e in events if e.experiment_id == "exp-1"} == {"treatment"}


def test_a_retried_request_is_counted_once(tracked: Tracked) -> None:
    """The same request twice with an Idempotency-Key is stored once (defect 7)."""
    client = flask_app(tracked).test_client()
    headers = {"X-User-Id": "user-3", "Idempotency-Key": "order-99"}
    first = client.post("/checkout", headers=headers).json["eventIds"]
    again = client.post("/checkout", headers=headers).json["eventIds"]
    assert first == again
    assert len(tracked.stored("metric")) == 2


def test_exposure_is_logged_once_per_unit(tracked: Tracked) -> None:
    """Repeated requests of one unit log one exposure per experiment."""
    client = flask_app(tracked).test_client()
    for _ in range(3):
        client.get("/whoami", headers={"X-User-Id": "user-1"})
    assert len(tracked.stored("exposure")) == 2


def test_request_contexts_do_not_leak_between_threads(tracked: Tracked) -> None:
    """Concurrent requests on several threads each see only their own unit."""
    app = flask_app(tracked)
    local = threading.local()

    def call(i: int) -> dict[str, Any]:
        if not hasattr(local, "client"):
            local.client = app.test_client()
        answer: dict[str, Any] = local.client.get("/whoami", headers={"X-User-Id": f"u{i}"}).json
        return answer

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(call, range(64)))
    assert [(a["before"], a["unit"]) for a in answers] == [(f"u{i}", f"u{i}") for i in range(64)]
    assert current_or_none() is None


def test_a_streamed_body_still_sees_the_context(tracked: Tracked) -> None:
    """The response iterable runs inside the request's context."""
    client = flask_app(tracked).test_client()
    assert client.get("/stream", headers={"X-User-Id": "u5"}).data == b"u5,u5,u5,"
