"""The ASGI middleware under FastAPI and Starlette, with their real test clients.

Seed defect 8 (the variant claimed by the client was trusted) and defect 7 (a retried request
counted twice) are pinned here.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from splitlab.assignment import ExperimentAssignmentService
from splitlab.tracking import (
    EventTrackingMiddleware,
    NoRequestContextError,
    current,
    current_or_none,
    emit,
    from_cookie,
)
from splitlab.tracking.middleware import ExposureCache
from tests.tracking.tracking_helpers import (
    Tracked,
    make_experiment,
    make_tracked,
    unit_with_variant,
)


def fastapi_app(tracked: Tracked) -> FastAPI:
    app = FastAPI()
    app.add_middleware(EventTrackingMiddleware, tracking=tracked.core)

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, Any]:
        context = current()
        assert request.state.splitlab is context
        variants = {eid: a.variant for eid, a in context.assignments.items()}
        return {"unit": context.unit_id, "variants": variants}

    @app.post("/checkout")
    def checkout(times: int = 1) -> dict[str, Any]:  # a sync endpoint runs in a thread pool
        ids = [e.event_id for _ in range(times) for e in emit("checkout", 1.0)]
        return {"eventIds": ids}

    @app.get("/slow")
    async def slow(delay: float) -> dict[str, Any]:
        before = current().unit_id
        await asyncio.sleep(delay)
        return {"before": before, "after": current().unit_id}

    return app


def test_assignments_reach_the_handler_and_the_response_header(
    tracked: Tracked, assigner: ExperimentAssignmentService
) -> None:
    """The handler sees the service's assignments; the response carries them in a header."""
    client = TestClient(fastapi_app(tracked))
    response = client.get("/whoami", headers={"X-User-Id": "user-7"})
    expected = {eid: a.variant for eid, a in assigner.assign_all("user-7", {}).items()}
    assert response.json() == {"unit": "user-7", "variants": expected}
    header = ";".join(f"{eid}={expected[eid]}" for eid in sorted(expected))
    assert response.headers["x-splitlab-assignments"] == header


def test_variant_claimed_by_the_client_is_ignored(
    tracked: Tracked, assigner: ExperimentAssignmentService
) -> None:
    """x-variant / x-experiment-id (and a replayed assignments header) change nothing (defect 8)."""
    unit = unit_with_variant(assigner, "exp-1", "control")
    client = TestClient(fastapi_app(tracked))
    claims = {
        "X-User-Id": unit,
        "x-variant": "treatment",
        "x-experiment-id": "exp-1",
        "X-Splitlab-Assignments": "exp-1=treatment;exp-2=treatment",
    }
    seen = client.get("/whoami", headers=claims).json()
    assert seen["variants"]["exp-1"] == "control"
    response = client.post("/checkout", headers=claims)
    assert "exp-1=control" in response.headers["x-splitlab-assignments"]
    events = tracked.stored("exposure") + tracked.stored("metric")
    exp1 = [e for e in events if e.experiment_id == "exp-1"]
    assert {e.variant for e in exp1} == {"control"}
    assert {e.type for e in exp1} == {"exposure", "metric"}


def test_exposure_is_logged_once_per_unit_experiment_and_variant(tracked: Tracked) -> None:
    """Three requests of one unit log one exposure per experiment; a new unit logs its own."""
    client = TestClient(fastapi_app(tracked))
    for _ in range(3):
        client.get("/whoami", headers={"X-User-Id": "user-1"})
    client.get("/whoami", headers={"X-User-Id": "user-2"})
    exposures = tracked.stored("exposure")
    assert sorted((e.unit_id, e.experiment_id) for e in exposures) == [
        ("user-1", "exp-1"),
        ("user-1", "exp-2"),
        ("user-2", "exp-1"),
        ("user-2", "exp-2"),
    ]
    assert tracked.client.stats.tracked == 4


@pytest.mark.parametrize("key_header", ["Idempotency-Key", "X-Request-Id"])
def test_a_retried_request_is_counted_once(tracked: Tracked, key_header: str) -> None:
    """The same request sent twice with a request key gives the same ids: stored once (defect 7)."""
    client = TestClient(fastapi_app(tracked))
    headers = {"X-User-Id": "user-3", key_header: "req-42"}
    first = client.post("/checkout", headers=headers).json()["eventIds"]
    again = client.post("/checkout", headers=headers).json()["eventIds"]
    assert first == again
    assert len(tracked.stored("metric")) == 2  # one per experiment, not four
    assert tracked.client.stats.duplicates == 2


def test_without_a_request_key_each_request_is_a_new_event(tracked: Tracked) -> None:
    """Two requests without a key are two events (nothing to tell a retry from a repeat)."""
    client = TestClient(fastapi_app(tracked))
    first = client.post("/checkout", headers={"X-User-Id": "user-3"}).json()["eventIds"]
    again = client.post("/checkout", headers={"X-User-Id": "user-3"}).json()["eventIds"]
    assert set(first).isdisjoint(again)
    assert len(tracked.stored("metric")) == 4


def test_repeated_emits_in_one_request_are_distinct_and_stable(tracked: Tracked) -> None:
    """Emitting a metric twice in a request makes two events, with the same two ids on retry."""
    client = TestClient(fastapi_app(tracked))
    headers = {"X-User-Id": "user-4", "Idempotency-Key": "k-1"}
    first = client.post("/checkout?times=2", headers=headers).json()["eventIds"]
    again = client.post("/checkout?times=2", headers=headers).json()["eventIds"]
    assert len(set(first)) == 4
    assert first == again


def test_different_units_with_the_same_request_key_do_not_collide(tracked: Tracked) -> None:
    """The derived id includes the unit: two users reusing a key are still two events."""
    client = TestClient(fastapi_app(tracked))
    a = client.post("/checkout", headers={"X-User-Id": "u-a", "X-Request-Id": "same"}).json()
    b = client.post("/checkout", headers={"X-User-Id": "u-b", "X-Request-Id": "same"}).json()
    assert set(a["eventIds"]).isdisjoint(b["eventIds"])


def test_request_contexts_do_not_leak_between_concurrent_requests(tracked: Tracked) -> None:
    """Interleaved async requests each see their own unit before and after awaiting."""
    app = fastapi_app(tracked)

    async def run() -> list[dict[str, Any]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            calls = [
                client.get("/slow", params={"delay": (i % 5) / 500}, headers={"X-User-Id": f"u{i}"})
                for i in range(40)
            ]
            return [r.json() for r in await asyncio.gather(*calls)]

    answers = asyncio.run(run())
    assert answers == [{"before": f"u{i}", "after": f"u{i}"} for i in range(40)]
    assert current_or_none() is None


def test_non_http_scopes_pass_through_untouched(tracked: Tracked) -> None:
    """A websocket (and the lifespan) goes through without a context and without events."""

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text(f"{text}:{current_or_none() is None}")
        await websocket.close()

    app = Starlette(routes=[WebSocketRoute("/ws", echo)])
    app.add_middleware(EventTrackingMiddleware, tracking=tracked.core)
    with (
        TestClient(app) as client,
        client.websocket_connect("/ws", headers={"X-User-Id": "u1"}) as ws,
    ):
        ws.send_text("hi")
        assert ws.receive_text() == "hi:True"
    assert tracked.client.stats.tracked == 0


def test_unit_from_a_cookie_or_a_callable(assigner: ExperimentAssignmentService) -> None:
    """The unit can come from a cookie, or from any callable on the request."""
    by_cookie = make_tracked(assigner, unit=from_cookie("uid"))
    client = TestClient(fastapi_app(by_cookie))
    client.cookies.set("uid", "user-9")
    assert client.get("/whoami").json()["unit"] == "user-9"
    by_call = make_tracked(assigner, unit=lambda request: request.headers.get("x-account"))
    client = TestClient(fastapi_app(by_call))
    assert client.get("/whoami", headers={"X-Account": "acct-1"}).json()["unit"] == "acct-1"
    by_cookie.client.close()
    by_call.client.close()


def test_a_request_without_a_unit_gets_no_variant_and_tracks_nothing(tracked: Tracked) -> None:
    """No unit: no assignments header, no exposure, emit() tracks nothing."""
    client = TestClient(fastapi_app(tracked))
    response = client.post("/checkout")
    assert response.json() == {"eventIds": []}
    assert "x-splitlab-assignments" not in response.headers
    assert tracked.client.stats.tracked == 0


def test_emit_outside_a_request_is_an_error() -> None:
    """emit() and current() outside a tracked request raise instead of dropping silently."""
    with pytest.raises(NoRequestContextError, match="tracking middleware"):
        emit("checkout")
    with pytest.raises(NoRequestContextError):
        current()


def test_segment_attributes_go_on_the_exposure_and_targeting_uses_them() -> None:
    """Request attributes target the experiment and its segment attributes reach the exposure."""
    us_only = make_experiment(
        "exp-us", segments=["country"], targeting={"condition": {"country": "US"}}
    )
    assigner = ExperimentAssignmentService([us_only])
    setup = make_tracked(
        assigner, attributes=lambda request: {"country": request.headers.get("x-country")}
    )
    client = TestClient(fastapi_app(setup))
    us = client.get("/whoami", headers={"X-User-Id": "u1", "X-Country": "US"}).json()
    fr = client.get("/whoami", headers={"X-User-Id": "u2", "X-Country": "FR"}).json()
    assert us["variants"]["exp-us"] is not None
    assert fr["variants"]["exp-us"] is None
    exposures = setup.stored("exposure")
    assert [(e.unit_id, e.attributes) for e in exposures] == [("u1", {"country": "US"})]
    setup.client.close()


def test_only_randomised_units_are_tracked(tracked: Tracked) -> None:
    """A shipped experiment serves its variant (header) but logs no exposure and no metric."""
    shipped = make_experiment("exp-shipped", status="shipped", shippedVariant="treatment")
    setup = make_tracked(ExperimentAssignmentService([shipped]))
    client = TestClient(fastapi_app(setup))
    response = client.post("/checkout", headers={"X-User-Id": "u1"})
    assert response.headers["x-splitlab-assignments"] == "exp-shipped=treatment"
    assert response.json() == {"eventIds": []}
    assert setup.client.stats.tracked == 0
    setup.client.close()


def test_configured_experiments_limit_what_is_assigned(
    assigner: ExperimentAssignmentService,
) -> None:
    """With experiments=[...] only those are assigned and tracked."""
    setup = make_tracked(assigner, experiments=["exp-2"])
    client = TestClient(fastapi_app(setup))
    assert list(client.get("/whoami", headers={"X-User-Id": "u1"}).json()["variants"]) == ["exp-2"]
    assert {e.experiment_id for e in setup.stored("exposure")} == {"exp-2"}
    setup.client.close()


def test_the_hash_key_attribute_is_the_tracked_unit() -> None:
    """An experiment randomising accounts tracks the account id, not the user id."""
    by_account = make_experiment(
        "exp-acct",
        assignment={"strategy": "consistent_hash", "hashKey": "accountId", "salt": "s"},
    )
    setup = make_tracked(
        ExperimentAssignmentService([by_account]),
        attributes=lambda request: {"accountId": request.headers.get("x-account")},
    )
    client = TestClient(fastapi_app(setup))
    client.post("/checkout", headers={"X-User-Id": "user-1", "X-Account": "acct-9"})
    assert {e.unit_id for e in setup.stored("exposure") + setup.stored("metric")} == {"acct-9"}
    setup.client.close()


def test_exposure_cache_is_a_bounded_lru() -> None:
    """The cache holds at most its size; the least recently seen key is forgotten first."""
    cache = ExposureCache(2)
    a, b, c = ("u1", "e", "v"), ("u2", "e", "v"), ("u3", "e", "v")
    assert cache.first_time(a) and cache.first_time(b)
    assert not cache.first_time(a)  # a is now the most recent
    assert cache.first_time(c)  # evicts b
    assert len(cache) == 2
    assert not cache.first_time(a)
    assert cache.first_time(b)
