"""``navigator.sendBeacon`` bodies on ``POST /v1/events``: the SDK key in the body.

A real server and real HTTP requests shaped as a browser's beacon (``text/plain``, no
``Authorization``): accepted with a good key, refused 401 in the error shape with a bad one,
stored once when resent with the same event ids, and the key never reaches the store.
"""

from __future__ import annotations

import json

import httpx

from splitlab.server.context import ServerContext
from splitlab.tracking.events import now_ms

from .browser_helpers import served
from .server_helpers import small
from .test_error_shape import assert_error

TEXT = {"Content-Type": "text/plain;charset=UTF-8"}


def _metric(event_id: str) -> dict[str, object]:
    return {"eventId": event_id, "type": "metric", "experimentId": "exp-small",
            "variant": "control", "unitId": "u-1", "metric": "checkout",
            "timestamp": now_ms() - 1000}  # fmt: skip


def _stored(ctx: ServerContext, event_id: str) -> int:
    ctx.store.flush()
    with ctx.store.lock:
        row = ctx.store.connection.execute(
            "SELECT count(*) FROM metric_events WHERE event_id = ?", [event_id]
        ).fetchone()
    return int(row[0])


def test_a_beacon_with_the_key_in_its_body_is_accepted_and_counted_once(
    ctx: ServerContext,
) -> None:
    with served(ctx) as server:
        httpx.post(f"{server.url}/v1/experiments", json=small(status="running"),
                   headers=server.admin).raise_for_status()  # fmt: skip
        body = json.dumps({"key": server.sdk_key, "events": [_metric("b-1"), _metric("b-2")]})
        first = httpx.post(f"{server.url}/v1/events", content=body, headers=TEXT)
        again = httpx.post(f"{server.url}/v1/events", content=body, headers=TEXT)
        bare = httpx.post(f"{server.url}/v1/events", content=body)  # no content type at all
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == 2
    assert again.json() == {"accepted": 0, "duplicates": 2, "rejected": 0, "rejections": []}
    assert bare.status_code == 200
    assert _stored(ctx, "b-1") == 1 and _stored(ctx, "b-2") == 1


def test_a_beacon_with_a_bad_key_is_refused_401(ctx: ServerContext) -> None:
    with served(ctx) as server:
        for key in (f"sl_sdk_0123456789ab_{'A' * 43}", ""):
            body = json.dumps({"key": key, "events": [_metric("x-1")]})
            r = httpx.post(f"{server.url}/v1/events", content=body, headers=TEXT)
            assert assert_error(r, 401)["code"] == "unauthorized"
            assert key[:20] not in r.text or not key
        no_key = httpx.post(f"{server.url}/v1/events", content=json.dumps({"events": []}))
        assert assert_error(no_key, 401)["code"] == "unauthorized"
    assert _stored(ctx, "x-1") == 0


def test_the_events_of_a_beacon_are_validated_as_a_batch(ctx: ServerContext) -> None:
    """The collector gets the events alone: a bad batch is its usual 400, and the key is no
    'events' envelope field it could confuse."""
    with served(ctx) as server:
        body = json.dumps({"key": server.sdk_key, "events": 5})
        r = httpx.post(f"{server.url}/v1/events", content=body, headers=TEXT)
        assert assert_error(r, 400)["code"] == "invalid_batch"
        with_header = httpx.post(
            f"{server.url}/v1/events",
            content=json.dumps({"key": "ignored", "events": []}),
            headers=server.sdk,
        )
        assert with_header.status_code == 200  # the header's key decides; the body's is unused
