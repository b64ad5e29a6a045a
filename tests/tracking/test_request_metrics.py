"""Request metrics (latency and error flag per request) under real ASGI, WSGI and Django stacks.

Every assertion on a latency is "at least the time the handler slept": never an upper bound.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import django
import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.test import Client, override_settings
from django.urls import path
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from flask import Flask, Response

from splitlab.assignment import ExperimentAssignmentService
from splitlab.tracking import (
    EventTrackingMiddleware,
    RequestMetrics,
    TrackingCore,
    WSGITrackingMiddleware,
)
from splitlab.tracking.events import Event
from tests.tracking.tracking_helpers import Tracked, make_tracked

if not settings.configured:
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["testserver"],
        SECRET_KEY="splitlab-tests-only",
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        ROOT_URLCONF=__name__,
    )
    django.setup()

SLEEP_MS = 40.0
USER = {"X-User-Id": "user-7"}


@pytest.fixture
def timed(assigner: ExperimentAssignmentService) -> Iterator[Tracked]:
    setup = make_tracked(assigner, request_metrics=RequestMetrics())
    yield setup
    setup.client.close()


def asgi_app(core: TrackingCore) -> FastAPI:
    app = FastAPI()
    app.add_middleware(EventTrackingMiddleware, tracking=core)

    @app.get("/sleep")
    async def sleep() -> dict[str, str]:
        await asyncio.sleep(SLEEP_MS / 1000)
        return {"ok": "yes"}

    @app.get("/fail")
    def fail() -> Any:
        from fastapi.responses import JSONResponse

        return JSONResponse({"error": "down"}, status_code=503)

    @app.get("/missing")
    def missing() -> Any:
        from fastapi.responses import JSONResponse

        return JSONResponse({"error": "no"}, status_code=404)

    @app.get("/raise")
    def explode() -> None:
        raise RuntimeError("the handler failed")

    @app.get("/stream")
    def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(3):
                await asyncio.sleep(SLEEP_MS / 1000)
                yield b"chunk,"

        return StreamingResponse(chunks())

    return app


def by_metric(events: list[Event]) -> dict[str, list[Event]]:
    found: dict[str, list[Event]] = {}
    for event in events:
        assert event.metric is not None
        found.setdefault(event.metric, []).append(event)
    return found


def check_one_request(
    tracked: Tracked, assigner: ExperimentAssignmentService, *, error: float, at_least_ms: float
) -> None:
    """One request's two events in each of the unit's experiments, with its variants."""
    metrics = by_metric(tracked.stored("metric"))
    assert set(metrics) == {"request_latency_ms", "request_error"}
    expected = {eid: a.variant for eid, a in assigner.assign_all("user-7", {}).items()}
    for events in metrics.values():
        assert {e.experiment_id: e.variant for e in events} == expected
        assert all(e.unit_id == "user-7" for e in events)
    assert all(e.value == error for e in metrics["request_error"])
    assert all((e.value or 0) >= at_least_ms for e in metrics["request_latency_ms"])
    ids = [e.event_id for events in metrics.values() for e in events]
    assert len(set(ids)) == len(ids) == 2 * len(expected)


def test_asgi_records_latency_at_least_the_sleep_and_no_error(
    timed: Tracked, assigner: ExperimentAssignmentService
) -> None:
    assert TestClient(asgi_app(timed.core)).get("/sleep", headers=USER).status_code == 200
    check_one_request(timed, assigner, error=0.0, at_least_ms=SLEEP_MS)


def test_asgi_latency_includes_a_streamed_body(
    timed: Tracked, assigner: ExperimentAssignmentService
) -> None:
    response = TestClient(asgi_app(timed.core)).get("/stream", headers=USER)
    assert response.text == "chunk," * 3
    check_one_request(timed, assigner, error=0.0, at_least_ms=3 * SLEEP_MS)


@pytest.mark.parametrize(("route", "error"), [("/fail", 1.0), ("/raise", 1.0), ("/missing", 0.0)])
def test_asgi_records_5xx_and_exceptions_as_errors_but_not_4xx(
    timed: Tracked, assigner: ExperimentAssignmentService, route: str, error: float
) -> None:
    client = TestClient(asgi_app(timed.core), raise_server_exceptions=False)
    assert client.get(route, headers=USER).status_code in (404, 500, 503)
    check_one_request(timed, assigner, error=error, at_least_ms=0.0)


def test_no_request_metrics_unless_turned_on(tracked: Tracked) -> None:
    client = TestClient(asgi_app(tracked.core))
    assert client.get("/sleep", headers=USER).status_code == 200
    assert client.get("/fail", headers=USER).status_code == 503
    assert tracked.stored("metric") == []


def test_only_the_chosen_experiments_and_event_names(assigner: ExperimentAssignmentService) -> None:
    setup = make_tracked(
        assigner,
        request_metrics=RequestMetrics(latency_event="p_ms", error_event=None,
                                       experiments=["exp-2"]),
    )  # fmt: skip
    try:
        assert TestClient(asgi_app(setup.core)).get("/sleep", headers=USER).status_code == 200
        events = setup.stored("metric")
        assert [(e.experiment_id, e.metric) for e in events] == [("exp-2", "p_ms")]
    finally:
        setup.client.close()


def test_a_retried_request_with_a_key_counts_once_and_without_one_twice(
    timed: Tracked,
) -> None:
    client = TestClient(asgi_app(timed.core))
    keyed = {**USER, "Idempotency-Key": "req-1"}
    for _ in range(2):
        assert client.get("/sleep", headers=keyed).status_code == 200
    assert len(timed.stored("metric")) == 4  # 2 experiments x 2 metrics, once
    assert client.get("/sleep", headers=USER).status_code == 200
    assert client.get("/sleep", headers=USER).status_code == 200
    assert len(timed.stored("metric")) == 12


class Broken:
    """A recorder whose every metric call fails (a full queue, a bug)."""

    def exposure(self, *args: Any, **kwargs: Any) -> Any:
        return None

    def metric(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("tracking is down")


def test_a_failing_recorder_never_breaks_the_request(
    assigner: ExperimentAssignmentService,
) -> None:
    core = TrackingCore(assigner, Broken(), request_metrics=RequestMetrics())
    response = TestClient(asgi_app(core)).get("/sleep", headers=USER)
    assert response.status_code == 200 and response.json() == {"ok": "yes"}
    flask = wsgi_app(core).test_client()
    assert flask.get("/sleep", headers=USER).status_code == 200


def wsgi_app(core: TrackingCore) -> Flask:
    app = Flask(__name__)
    app.wsgi_app = WSGITrackingMiddleware(app.wsgi_app, tracking=core)  # type: ignore[method-assign]

    @app.get("/sleep")
    def sleep() -> dict[str, str]:
        time.sleep(SLEEP_MS / 1000)
        return {"ok": "yes"}

    @app.get("/fail")
    def fail() -> Response:
        return Response("down", status=500)

    @app.get("/raise")
    def explode() -> None:
        raise RuntimeError("the handler failed")

    @app.get("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[str]:
            for _ in range(3):
                time.sleep(SLEEP_MS / 1000)
                yield "chunk,"

        return Response(chunks())

    return app


@pytest.mark.parametrize(
    ("route", "error", "at_least_ms"),
    [("/sleep", 0.0, SLEEP_MS), ("/stream", 0.0, 3 * SLEEP_MS), ("/fail", 1.0, 0.0),
     ("/raise", 1.0, 0.0)],
)  # fmt: skip
def test_wsgi_records_latency_and_errors(
    timed: Tracked, assigner: ExperimentAssignmentService, route: str, error: float,
    at_least_ms: float,
) -> None:  # fmt: skip
    client = wsgi_app(timed.core).test_client()
    response = client.get(route, headers=USER)
    assert response.status_code in (200, 500)
    response.get_data()  # the whole (streamed) body, as a server sends it
    response.close()
    check_one_request(timed, assigner, error=error, at_least_ms=at_least_ms)


def django_sleep(request: HttpRequest) -> HttpResponse:
    time.sleep(SLEEP_MS / 1000)
    return HttpResponse("ok")


def django_fail(request: HttpRequest) -> HttpResponse:
    return HttpResponse("down", status=502)


def django_raise(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the view failed")


def django_stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        for _ in range(3):
            time.sleep(SLEEP_MS / 1000)
            yield b"chunk,"

    return StreamingHttpResponse(chunks())


urlpatterns = [
    path("sleep", django_sleep),
    path("fail", django_fail),
    path("raise", django_raise),
    path("stream", django_stream),
]


@pytest.mark.parametrize(
    ("route", "error", "at_least_ms"),
    [("/sleep", 0.0, SLEEP_MS), ("/stream", 0.0, 3 * SLEEP_MS), ("/fail", 1.0, 0.0),
     ("/raise", 1.0, 0.0)],
)  # fmt: skip
def test_django_records_latency_and_errors(
    timed: Tracked, assigner: ExperimentAssignmentService, route: str, error: float,
    at_least_ms: float,
) -> None:  # fmt: skip
    with override_settings(
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["splitlab.tracking.middleware.django.DjangoTrackingMiddleware"],
        SPLITLAB_TRACKING=timed.core,
        ALLOWED_HOSTS=["testserver"],
    ):
        client = Client(raise_request_exception=False)
        response = client.get(route, headers=USER)
        assert response.status_code in (200, 500, 502)
        if response.streaming:
            assert b"".join(response.streaming_content) == b"chunk," * 3  # type: ignore[arg-type]
        response.close()
    check_one_request(timed, assigner, error=error, at_least_ms=at_least_ms)


def test_the_canary_in_the_docs_loads_and_judges_these_events() -> None:
    """docs/tracking.md's canary design is valid and its metrics read the events above."""
    import json

    from splitlab.config import load_experiment
    from tests.conftest import ROOT

    page = (ROOT / "docs" / "tracking.md").read_text(encoding="utf-8")
    section = page.split("### Request metrics", 1)[1]
    design = json.loads("{" + section.split("```json\n", 1)[1].split("```", 1)[0] + "}")
    experiment = load_experiment(
        {
            "experimentId": "checkout-canary",
            "name": "Canary",
            "status": "draft",
            "variants": ["baseline", "canary"],
            "assignment": {"strategy": "consistent_hash", "hashKey": "userId", "salt": "s"},
            "metrics": {"primary": {"name": "request_error", "type": "conversion"}},
            "evaluation": {"minSampleSize": 100},
            **design,
        }
    )
    assert experiment.is_canary
    defaults = RequestMetrics()
    events = {m["event"] for m in design["design"]["metrics"]}
    assert events == {defaults.latency_event, defaults.error_event}
