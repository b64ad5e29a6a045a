"""The middleware under a real FastAPI app and a real HTTP collector, with a running holdout.

An assignment naming a holdout (``holdout_id``) exposes the unit to the holdout in its
``holdout_variant``, once per request whatever the number of covered experiments, with an id
derived like any exposure's; ``emit()`` tracks the holdout's metrics too; a held-out unit is
served control and is not exposed to the covered experiments; the holdout's own assignment
alone (no covered experiment reached) is never an exposure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from splitlab.assignment import ExperimentAssignmentService, Reason
from splitlab.tracking import (
    EventTrackingMiddleware,
    RequestMetrics,
    TrackingClient,
    TrackingCore,
    emit,
)
from splitlab.tracking.middleware.common import derive_event_id
from tests.tracking.tracking_helpers import ScriptedCollector, make_experiment

HOLDOUT = "holdout-growth"
UNITS = [f"user-{n}" for n in range(60)]


def _assigner() -> ExperimentAssignmentService:
    holdout = make_experiment(
        HOLDOUT,
        variants=["held-out", "everyone-else"],
        design={"type": "holdout", "percent": 30, "scope": {"tags": ["growth"]}},
    )
    return ExperimentAssignmentService(
        [
            holdout,
            make_experiment("exp-a", tags=["growth"]),
            make_experiment("exp-b", tags=["growth", "search"]),
            make_experiment("exp-c", tags=["search"]),
        ]
    )


@pytest.fixture
def setup(collector: ScriptedCollector) -> Iterator[tuple[TestClient, TrackingClient]]:
    """The app (unit from X-User-Id) and its client, posting to a real collector; the LRU
    exposure cache holds one entry, so only the per-request rule keeps holdout exposures
    to one per request."""
    client = TrackingClient.http(collector.url, flush_interval=60.0, register_atexit=False)
    core = TrackingCore(_assigner(), client, exposure_cache_size=1)
    app = FastAPI()
    app.add_middleware(EventTrackingMiddleware, tracking=core)

    @app.post("/checkout")
    def checkout() -> dict[str, Any]:
        return {"metrics": len(emit("checkout"))}

    yield TestClient(app), client
    client.close()


def _sent(collector: ScriptedCollector, client: TrackingClient) -> list[Any]:
    assert client.flush(timeout=10)
    return list(collector.stored.values())


def test_each_request_exposes_the_unit_to_its_holdout_once(
    setup: tuple[TestClient, TrackingClient], collector: ScriptedCollector
) -> None:
    """Two covered experiments, one holdout exposure per request, in the unit's variant of
    the holdout, with the derived id; held-out units get control in both and no exposure."""
    app, client = setup
    assigner = _assigner()
    for unit in UNITS:
        app.post("/checkout", headers={"X-User-Id": unit})
    events = _sent(collector, client)
    sent_ids = [eid for batch in collector.requests for eid in batch]
    holdout_exposures = {e.unit_id: e for e in events if e.experiment_id == HOLDOUT
                         and e.type == "exposure"}  # fmt: skip
    assert sorted(holdout_exposures) == sorted(UNITS)
    held_out = 0
    for unit in UNITS:
        answer = assigner.assign(unit, "exp-a")
        assert answer.holdout_id == HOLDOUT
        exposure = holdout_exposures[unit]
        assert exposure.variant == answer.holdout_variant
        assert exposure.event_id == derive_event_id("exposure", unit, HOLDOUT, exposure.variant)
        assert sent_ids.count(exposure.event_id) == 1  # once, though exp-a and exp-b name it
        in_a = [e for e in events if e.unit_id == unit and e.experiment_id == "exp-a"]
        if answer.reason is Reason.HOLDOUT:
            held_out += 1
            assert exposure.variant == "held-out"
            assert answer.variant == "control"
            assert in_a == []
        else:
            assert exposure.variant == "everyone-else"
            assert {e.type for e in in_a} == {"exposure", "metric"}
    assert 0 < held_out < len(UNITS)  # 30% held out: both groups occur among 60 units


def test_emit_tracks_the_holdout_metric_in_the_holdout_variant(
    setup: tuple[TestClient, TrackingClient], collector: ScriptedCollector
) -> None:
    """Every unit's checkout reaches the holdout once per request, under its holdout variant."""
    app, client = setup
    for unit in UNITS[:20]:
        app.post("/checkout", headers={"X-User-Id": unit})
        app.post("/checkout", headers={"X-User-Id": unit})
    events = _sent(collector, client)
    metrics = [e for e in events if e.experiment_id == HOLDOUT and e.type == "metric"]
    assert Counter(e.unit_id for e in metrics) == dict.fromkeys(UNITS[:20], 2)
    exposed = {e.unit_id: e.variant for e in events
               if e.experiment_id == HOLDOUT and e.type == "exposure"}  # fmt: skip
    assert all(e.variant == exposed[e.unit_id] for e in metrics)


def test_the_holdouts_own_assignment_is_not_an_exposure(collector: ScriptedCollector) -> None:
    """A request assigned only the holdout and an uncovered experiment exposes nobody to the
    holdout: its results hold only units that reached a covered experiment."""
    client = TrackingClient.http(collector.url, flush_interval=60.0, register_atexit=False)
    core = TrackingCore(_assigner(), client, experiments=[HOLDOUT, "exp-c"])
    app = FastAPI()
    app.add_middleware(EventTrackingMiddleware, tracking=core)

    @app.get("/")
    def home() -> dict[str, Any]:
        return {"metrics": len(emit("visit"))}

    try:
        for unit in UNITS[:10]:
            assert TestClient(app).get("/", headers={"X-User-Id": unit}).json() == {"metrics": 1}
        events = _sent(collector, client)
    finally:
        client.close()
    assert {e.experiment_id for e in events} == {"exp-c"}


def test_request_metrics_reach_the_holdout(collector: ScriptedCollector) -> None:
    """With request metrics on, each request's error flag is recorded in the holdout too, in
    the unit's holdout variant (a holdout can have the error rate as a guardrail)."""
    client = TrackingClient.http(collector.url, flush_interval=60.0, register_atexit=False)
    core = TrackingCore(_assigner(), client, request_metrics=RequestMetrics(latency_event=None))
    app = FastAPI()
    app.add_middleware(EventTrackingMiddleware, tracking=core)

    @app.get("/")
    def home() -> dict[str, Any]:
        return {}

    try:
        for unit in UNITS[:10]:
            TestClient(app).get("/", headers={"X-User-Id": unit})
        events = _sent(collector, client)
    finally:
        client.close()
    exposed = {e.unit_id: e.variant for e in events
               if e.experiment_id == HOLDOUT and e.type == "exposure"}  # fmt: skip
    errors = [e for e in events if e.experiment_id == HOLDOUT and e.metric == "request_error"]
    assert sorted(e.unit_id for e in errors) == sorted(UNITS[:10])
    assert all(e.variant == exposed[e.unit_id] and e.value == 0.0 for e in errors)


def test_a_sticky_covered_experiment_records_both_groups_metrics_on_every_request(
    collector: ScriptedCollector,
) -> None:
    """The only covered experiment is sticky: from the second request on, the units that are
    not held out are served their kept variant. Their answers still name the holdout, so
    ``emit()`` records their metrics in the holdout on every request, as for the held-out
    units (whose answers always do). Otherwise the held-out group would count every
    checkout and everyone else only the first, and the holdout's lift would be biased."""
    holdout = make_experiment(
        HOLDOUT,
        variants=["held-out", "everyone-else"],
        design={"type": "holdout", "percent": 30, "scope": {"tags": ["growth"]}},
    )
    sticky = make_experiment(
        "exp-s",
        tags=["growth"],
        assignment={"hashKey": "userId", "salt": "exp-s", "sticky": True},
    )
    client = TrackingClient.http(collector.url, flush_interval=60.0, register_atexit=False)
    core = TrackingCore(ExperimentAssignmentService([holdout, sticky]), client)
    app = FastAPI()
    app.add_middleware(EventTrackingMiddleware, tracking=core)

    @app.post("/checkout")
    def checkout() -> dict[str, Any]:
        return {"metrics": len(emit("checkout"))}

    try:
        for _ in range(3):
            for unit in UNITS:
                TestClient(app).post("/checkout", headers={"X-User-Id": unit})
        events = _sent(collector, client)
    finally:
        client.close()
    exposed = {e.unit_id: e.variant for e in events
               if e.experiment_id == HOLDOUT and e.type == "exposure"}  # fmt: skip
    assert sorted(exposed) == sorted(UNITS)
    assert {"held-out", "everyone-else"} == set(exposed.values())
    metrics = [e for e in events if e.experiment_id == HOLDOUT and e.type == "metric"]
    assert Counter(e.unit_id for e in metrics) == dict.fromkeys(UNITS, 3)
    assert all(e.variant == exposed[e.unit_id] for e in metrics)
