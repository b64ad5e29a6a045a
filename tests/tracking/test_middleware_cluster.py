"""The middleware under a real FastAPI app, for cluster and switchback designs: which unit
the events carry as ``unitId`` and which as ``clusterId``, and that derived ids stay stable."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from splitlab.assignment import ExperimentAssignmentService
from splitlab.tracking import EventTrackingMiddleware, emit
from splitlab.tracking.middleware.common import derive_event_id, tracked_ids
from tests.tracking.tracking_helpers import Tracked, make_experiment, make_tracked

CLUSTER = {"type": "cluster", "analysisUnit": "deviceId"}
SWITCHBACK = {"type": "switchback", "unit": "region", "periodSeconds": 3600,
              "burnInSeconds": 600}  # fmt: skip


def _assigner() -> ExperimentAssignmentService:
    by_account = {"strategy": "consistent_hash", "hashKey": "accountId", "salt": "c"}
    return ExperimentAssignmentService(
        [
            make_experiment("exp-cluster", assignment=by_account, design=CLUSTER),
            make_experiment("exp-switch", design=SWITCHBACK),
            make_experiment("exp-global", design={**SWITCHBACK, "unit": None}),
            make_experiment("exp-classic"),
        ]
    )


#: Request headers -> the attributes the app passes to the middleware.
NAMES = {"x-account": "accountId", "x-device": "deviceId", "x-region": "region"}


def _attributes(request: Any) -> dict[str, Any]:
    return {name: request.headers[h] for h, name in NAMES.items() if h in request.headers}


@pytest.fixture
def tracked() -> Iterator[Tracked]:
    setup = make_tracked(_assigner(), attributes=_attributes)
    yield setup
    setup.client.close()


def _app(tracked: Tracked) -> TestClient:
    app = FastAPI()
    app.add_middleware(EventTrackingMiddleware, tracking=tracked.core)

    @app.post("/checkout")
    def checkout() -> dict[str, Any]:
        return {"eventIds": [e.event_id for e in emit("checkout", 1.0)]}

    return TestClient(app)


def _by_experiment(tracked: Tracked, kind: str) -> dict[str, list[tuple[str, str | None]]]:
    found: dict[str, list[tuple[str, str | None]]] = {}
    for event in tracked.stored(kind):
        found.setdefault(event.experiment_id, []).append((event.unit_id, event.cluster_id))
    return {eid: sorted(pairs, key=str) for eid, pairs in found.items()}


def test_cluster_design_tracks_the_analysis_unit_with_its_cluster(tracked: Tracked) -> None:
    """unitId is the analysisUnit attribute (else the request's unit), clusterId the account."""
    client = _app(tracked)
    headers = {"X-User-Id": "user-1", "x-account": "acct-9", "x-region": "eu"}
    client.post("/checkout", headers={**headers, "x-device": "dev-1"})
    client.post("/checkout", headers={**headers, "x-device": "dev-2"})
    client.post("/checkout", headers=headers)  # no deviceId: the request's unit
    expected = [("dev-1", "acct-9"), ("dev-2", "acct-9"), ("user-1", "acct-9")]
    assert _by_experiment(tracked, "exposure")["exp-cluster"] == expected
    assert _by_experiment(tracked, "metric")["exp-cluster"] == expected
    served = tracked.core.assigner.assign("any-user", "exp-cluster", {"accountId": "acct-9"})
    events = tracked.stored("exposure") + tracked.stored("metric")
    assert {e.variant for e in events if e.experiment_id == "exp-cluster"} == {served.variant}


def test_client_calls_carry_cluster_ids(tracked: Tracked) -> None:
    """``exposure(..., cluster_id=)`` and ``metric(..., cluster_id=)`` put it on the event;
    anything but a non-empty string is refused at the call, not later by the collector."""
    client = tracked.client
    client.exposure("u1", "exp-cluster", "control", cluster_id="acct-1")
    client.metric("u1", "exp-cluster", "control", "checkout", cluster_id="acct-1")
    client.metric("u2", "exp-classic", "control", "checkout")
    assert _by_experiment(tracked, "exposure") == {"exp-cluster": [("u1", "acct-1")]}
    assert _by_experiment(tracked, "metric") == {
        "exp-cluster": [("u1", "acct-1")], "exp-classic": [("u2", None)]
    }  # fmt: skip
    for bad in ("", 7):
        with pytest.raises(ValueError, match=f"cluster_id must be a non-empty string.*{bad!r}"):
            client.metric("u1", "exp-cluster", "control", "checkout", cluster_id=bad)  # type: ignore[arg-type]


def test_switchback_clusters_are_the_unit_attribute(tracked: Tracked) -> None:
    """A switchback's clusterId is its unit attribute; a global one and a classic one carry none.
    A request without the unit attribute has no switchback cell (reason missing_unit_id), so
    it is tracked in the global and classic experiments only."""
    client = _app(tracked)
    client.post("/checkout", headers={"X-User-Id": "user-1", "x-region": "eu"})
    client.post("/checkout", headers={"X-User-Id": "user-2"})  # no region attribute
    for kind in ("exposure", "metric"):
        events = _by_experiment(tracked, kind)
        assert events["exp-switch"] == [("user-1", "eu")]
        assert events["exp-global"] == [("user-1", None), ("user-2", None)]
        assert events["exp-classic"] == [("user-1", None), ("user-2", None)]


def test_derived_ids_do_not_depend_on_the_cluster(tracked: Tracked) -> None:
    """Exposure ids are derived from (unit, experiment, variant) as before, and a retried
    request (same key) gives the same metric ids: a cluster id adds nothing to either."""
    client = _app(tracked)
    headers = {"X-User-Id": "user-5", "x-account": "acct-1", "x-device": "dev-5",
               "x-region": "us", "Idempotency-Key": "req-1"}  # fmt: skip
    first = client.post("/checkout", headers=headers).json()["eventIds"]
    again = client.post("/checkout", headers=headers).json()["eventIds"]
    assert first == again and len(first) == 4
    for event in tracked.stored("exposure"):
        assert event.event_id == derive_event_id(
            "exposure", event.unit_id, event.experiment_id, event.variant
        )
    metrics = tracked.stored("metric")
    assert len(metrics) == 4
    for event in metrics:
        parts = ("metric", "req-1", event.unit_id, event.experiment_id, "checkout", "0")
        assert event.event_id == derive_event_id(*parts)


def test_switchback_tracks_every_user_of_a_region(tracked: Tracked) -> None:
    """Many users in one region: each is its own unitId (with the region as clusterId) and
    gets its own exposure, so per-cell distinct-unit counts are not capped at one."""
    client = _app(tracked)
    users = [f"user-{i}" for i in range(20)]
    for user in users:
        client.post("/checkout", headers={"X-User-Id": user, "x-region": "ams"})
    expected = sorted((user, "ams") for user in users)
    assert _by_experiment(tracked, "exposure")["exp-switch"] == expected
    assert _by_experiment(tracked, "metric")["exp-switch"] == expected
    experiment = tracked.core.assigner.experiment("exp-switch")
    assert tracked_ids(experiment, "user-17", {"region": "ams"}) == ("user-17", "ams")


def test_a_cluster_request_without_its_account_is_not_tracked(tracked: Tracked) -> None:
    """No accountId: the cluster experiment has no cluster (missing_unit_id), so nothing is
    tracked for it — the user is never its own cluster — while the others still are."""
    client = _app(tracked)
    client.post("/checkout", headers={"X-User-Id": "user-1", "x-device": "dev-1"})
    for kind in ("exposure", "metric"):
        events = _by_experiment(tracked, kind)
        assert "exp-cluster" not in events
        assert events["exp-classic"] == [("user-1", None)]
    answer = tracked.core.assigner.assign("user-1", "exp-cluster", {"deviceId": "dev-1"})
    assert answer.reason.value == "missing_unit_id"
    experiment = tracked.core.assigner.experiment("exp-cluster")
    assert tracked_ids(experiment, "user-1", {"deviceId": "dev-1"}) == (None, None)
