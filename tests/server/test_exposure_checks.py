"""Browser exposures are recomputed by the server; the checks are counted durably.

A real uvicorn server, real HTTP requests (with an ``Origin`` header, or as a key-in-body
beacon), a real DuckDB file: a claimed wrong variant is stored as the server's variant and
counted; a claim for a unit the server does not target is refused and counted; a resent
event counts once; the counts survive a restart and show on /metrics and the dashboard;
a server-to-server request (no Origin) is stored as sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from splitlab.server.context import ServerContext
from splitlab.store import DuckDBStore
from splitlab.tracking.events import now_ms

from .browser_helpers import ORIGIN, Served, served
from .server_helpers import small

EXPERIMENT = "exp-small"
TARGETED = small(status="running", targeting={"include": ["region:US"]})


def _served_variant(server: Served, unit: str) -> str:
    r = httpx.post(f"{server.url}/v1/assign", headers=server.sdk, json={
        "unitId": unit, "experimentId": EXPERIMENT, "attributes": {"region": "US"}})  # fmt: skip
    [assignment] = r.json()["assignments"]
    assert assignment["reason"] == "assigned", assignment
    variant: str = assignment["variant"]
    return variant


def _other(variant: str) -> str:
    return "treatment" if variant == "control" else "control"


def _exposure(event_id: str, unit: str, variant: str, region: str = "US") -> dict[str, Any]:
    return {"eventId": event_id, "type": "exposure", "experimentId": EXPERIMENT,
            "variant": variant, "unitId": unit, "timestamp": now_ms() - 1000,
            "attributes": {"region": region}}  # fmt: skip


def _post(server: Served, events: list[dict[str, Any]], origin: bool = True) -> dict[str, Any]:
    headers = {**server.sdk, **({"Origin": ORIGIN} if origin else {})}
    r = httpx.post(f"{server.url}/v1/events", json=events, headers=headers)
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def _checks(server: Served) -> dict[str, Any]:
    r = httpx.get(f"{server.url}/v1/experiments/{EXPERIMENT}/exposure-checks",
                  headers=server.admin)  # fmt: skip
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def _stored_variant(ctx: ServerContext, event_id: str) -> list[str]:
    ctx.store.flush()
    with ctx.store.lock:
        rows = ctx.store.connection.execute(
            "SELECT variant FROM exposures WHERE event_id = ?", [event_id]
        ).fetchall()
    return [str(r[0]) for r in rows]


def _register(server: Served) -> None:
    r = httpx.post(f"{server.url}/v1/experiments", json=TARGETED, headers=server.admin)
    assert r.status_code == 201, r.text


def test_a_claimed_wrong_variant_is_stored_as_the_servers_and_counted(
    ctx: ServerContext,
) -> None:
    with served(ctx, ORIGIN) as server:
        _register(server)
        right = _served_variant(server, "u-1")
        wrong = _other(right)
        answer = _post(server, [_exposure("e-1", "u-1", wrong), _exposure("e-2", "u-1", right)])
        again = _post(server, [_exposure("e-1", "u-1", wrong)])  # resent: counted once
        checks = _checks(server)
        metrics = httpx.get(f"{server.url}/metrics").text
    assert answer == {"accepted": 2, "duplicates": 0, "rejected": 0, "rejections": []}
    assert again["duplicates"] == 1
    assert _stored_variant(ctx, "e-1") == [right]
    assert _stored_variant(ctx, "e-2") == [right]
    assert checks == {
        "experimentId": EXPERIMENT, "checked": 2, "mismatched": 1, "notAssigned": 0,
        "mismatches": [{"claimed": wrong, "served": right, "count": 1}],
        "notAssignedReasons": [],
    }  # fmt: skip
    assert f'splitlab_browser_exposures_checked_total{{experiment="{EXPERIMENT}"}} 2' in metrics
    pair = f'experiment="{EXPERIMENT}",claimed="{wrong}",served="{right}"'
    assert f"splitlab_browser_exposure_mismatches_total{{{pair}}} 1" in metrics


def test_a_claim_for_a_unit_the_server_does_not_target_is_refused_and_counted(
    ctx: ServerContext,
) -> None:
    with served(ctx, ORIGIN) as server:
        _register(server)
        events = [_exposure("e-eu", "u-2", "treatment", region="EU")]
        answer = _post(server, events)
        again = _post(server, events)
        checks = _checks(server)
        metrics = httpx.get(f"{server.url}/metrics").text
    assert answer["accepted"] == 0 and answer["rejected"] == 1
    assert answer["rejections"] == [{
        "index": 0, "field": "variant", "path": "$[0].variant", "value": "treatment",
        "expected": "the variant the server assigns: none (reason not_targeted)"}]  # fmt: skip
    assert again["rejected"] == 1
    assert _stored_variant(ctx, "e-eu") == []
    assert checks["checked"] == 1 and checks["notAssigned"] == 1  # resent: counted once
    assert checks["notAssignedReasons"] == [{"reason": "not_targeted", "count": 1}]
    reason = f'experiment="{EXPERIMENT}",reason="not_targeted"'
    assert f"splitlab_browser_exposures_not_assigned_total{{{reason}}} 1" in metrics


def test_a_beacon_is_a_browser_request_too(ctx: ServerContext) -> None:
    with served(ctx) as server:
        _register(server)
        right = _served_variant(server, "u-3")
        body = json.dumps({"key": server.sdk_key,
                           "events": [_exposure("e-b", "u-3", _other(right))]})  # fmt: skip
        r = httpx.post(f"{server.url}/v1/events", content=body,
                       headers={"Content-Type": "text/plain"})  # fmt: skip
        assert r.json()["accepted"] == 1
        assert _checks(server)["mismatched"] == 1
    assert _stored_variant(ctx, "e-b") == [right]


def test_server_to_server_events_are_stored_as_sent(ctx: ServerContext) -> None:
    """No Origin and a header key: the claimed variant is stored, nothing is checked; metric
    events are never recomputed, even from a browser."""
    with served(ctx, ORIGIN) as server:
        _register(server)
        right = _served_variant(server, "u-4")
        wrong = _other(right)
        answer = _post(server, [_exposure("e-s", "u-4", wrong)], origin=False)
        metric = {"eventId": "m-1", "type": "metric", "experimentId": EXPERIMENT,
                  "variant": wrong, "unitId": "u-4", "metric": "checkout",
                  "timestamp": now_ms() - 1000}  # fmt: skip
        from_page = _post(server, [metric])
        checks = _checks(server)
    assert answer["accepted"] == 1 and from_page["accepted"] == 1
    assert _stored_variant(ctx, "e-s") == [wrong]
    assert checks["checked"] == 0


def test_the_counts_survive_a_restart_and_show_on_the_dashboard(tmp_path: Path) -> None:
    db = tmp_path / "restart.duckdb"
    store = DuckDBStore(db, load_interval_s=0.05)
    try:
        ctx = ServerContext.open(store)
        with served(ctx, ORIGIN) as server:
            _register(server)
            right = _served_variant(server, "u-5")
            _post(server, [_exposure("e-r", "u-5", _other(right)),
                           _exposure("e-r2", "u-6", "control", region="EU")])  # fmt: skip
            admin_key = server.admin_key
    finally:
        store.close()  # the checks are written at the store's close, not read before
    store = DuckDBStore(db, load_interval_s=0.05)
    try:
        ctx = ServerContext.open(store)
        counts = ctx.exposure_checks.counts(EXPERIMENT)
        assert (counts.checked, counts.mismatched, counts.not_assigned) == (2, 1, 1)
        with served(ctx) as server, httpx.Client(base_url=server.url) as client:
            client.post("/login", data={"key": admin_key, "next": "/"})
            page = client.get(f"/experiments/{EXPERIMENT}")
    finally:
        store.close()
    assert page.status_code == 200
    text = " ".join(page.text.split())
    assert (
        "Browser exposures: <strong>2</strong> checked, <strong>1</strong> (50.0%) claimed" in text
    )
    assert "<strong>1</strong> not assigned by the server" in text
    assert "not_targeted: 1" in text
