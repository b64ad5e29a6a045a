"""Assignment, events, summary, looks, results, the SDK config and the metrics endpoint."""

from __future__ import annotations

import json
import re
from typing import Any

from .server_helpers import ROOT, Api, article, small

T0 = 1_767_261_600_000  # 2026-01-01T10:00:00Z in epoch milliseconds


def _events(n: int, variant_of: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        unit = f"u{i}"
        variant = variant_of[unit]
        out.append({"eventId": f"x{i}", "type": "exposure", "experimentId": "exp-small",
                    "variant": variant, "unitId": unit, "timestamp": T0 + i,
                    "attributes": {"region": "US" if i % 2 else "EU"}})  # fmt: skip
        if i % 3 == 0:
            out.append({"eventId": f"m{i}", "type": "metric", "experimentId": "exp-small",
                        "variant": variant, "unitId": unit, "metric": "checkout",
                        "timestamp": T0 + 1000 + i})  # fmt: skip
    return out


def _running(api: Api) -> dict[str, str]:
    api.client.post("/v1/experiments", json=small(status="running"), headers=api.admin)
    variant_of = {}
    for i in range(60):
        got = api.client.post(
            "/v1/assign", json={"unitId": f"u{i}", "experimentId": "exp-small"}, headers=api.sdk
        ).json()
        variant_of[f"u{i}"] = got["assignments"][0]["variant"]
    return variant_of


def test_assign_all_and_unknown_experiment(api: Api) -> None:
    """Without experimentId every serving experiment answers; an unknown id gives its reason."""
    _running(api)
    everything = api.client.post("/v1/assign", json={"unitId": "u1"}, headers=api.sdk).json()
    assert [a["experimentId"] for a in everything["assignments"]] == ["exp-small"]
    unknown = api.client.post(
        "/v1/assign", json={"unitId": "u1", "experimentId": "exp-nope"}, headers=api.sdk
    ).json()
    assert unknown["assignments"] == [
        {"experimentId": "exp-nope", "variant": None, "reason": "unknown_experiment"}
    ]


def test_assign_is_deterministic_over_http(api: Api) -> None:
    """The same unit gets the same variant on every call, as the in-process service gives."""
    _running(api)
    body = {"unitId": "user-42", "experimentId": "exp-small"}
    answers = {
        api.client.post("/v1/assign", json=body, headers=api.sdk).json()["assignments"][0][
            "variant"
        ]
        for _ in range(5)
    }
    expected = api.ctx.view.service.assign("user-42", "exp-small").variant
    assert answers == {expected}


def test_events_summary_evaluate_and_results(api: Api) -> None:
    """Events sent over HTTP show up in the summary; a look is recorded and re-read exactly."""
    variant_of = _running(api)
    r = api.client.post("/v1/events", json=_events(60, variant_of), headers=api.sdk)
    assert r.status_code == 200
    assert r.json()["accepted"] == 80
    summary = api.client.get("/v1/experiments/exp-small/summary", headers=api.admin).json()
    assert sum(summary["units"].values()) == 60
    assert sum(v["sum"] for v in summary["metrics"]["checkout"].values()) == 20
    segment = api.client.get(
        "/v1/experiments/exp-small/summary", params={"segment": "region"}, headers=api.admin
    ).json()
    assert set(segment["segments"]) == {"region=US", "region=EU"}

    look = api.client.post("/v1/experiments/exp-small/evaluate", headers=api.admin)
    assert look.status_code == 200
    assert look.json()["look"] == 1
    latest = api.client.get("/v1/experiments/exp-small/results", headers=api.admin)
    by_number = api.client.get("/v1/experiments/exp-small/results/1", headers=api.admin)
    assert latest.content == by_number.content == look.content
    ledger = api.client.get("/v1/experiments/exp-small/looks", headers=api.admin).json()
    assert [(x["number"], x["peek"]) for x in ledger["looks"]] == [(1, False)]
    assert ledger["looks"][0]["triggeredBy"].startswith("api:admin-key:")


def test_summary_counts_are_integers_and_look_is_the_next_one(api: Api) -> None:
    """/summary writes n and units as JSON integers and `look` as the next look's number."""
    variant_of = _running(api)
    api.client.post("/v1/events", json=_events(30, variant_of), headers=api.admin)
    url = "/v1/experiments/exp-small/summary"
    first = api.client.get(url, headers=api.admin)
    assert first.json()["look"] == 1
    arms = first.json()["metrics"]["checkout"].values()
    assert all(type(a["n"]) is int for a in arms)
    assert all(type(n) is int for n in first.json()["units"].values())
    api.client.post("/v1/experiments/exp-small/evaluate", headers=api.admin)
    api.client.post("/v1/experiments/exp-small/evaluate", json={"peek": True}, headers=api.admin)
    assert api.client.get(url, headers=api.admin).json()["look"] == 2


def test_a_look_past_max_peeks_is_refused_but_a_peek_is_not(api: Api) -> None:
    """maxPeeks (2 here) is enforced: the third planned look is a 409, a peek is recorded."""
    _running(api)
    for _ in range(2):
        api.client.post("/v1/experiments/exp-small/evaluate", headers=api.admin)
    third = api.client.post("/v1/experiments/exp-small/evaluate", headers=api.admin)
    assert third.status_code == 409
    assert third.json()["error"]["code"] == "look_limit_reached"
    peek = api.client.post(
        "/v1/experiments/exp-small/evaluate", json={"peek": True}, headers=api.admin
    )
    assert peek.status_code == 200
    assert peek.json()["decision"]["action"] == "peek"


def test_results_before_any_look_and_for_a_missing_look(api: Api) -> None:
    """No look yet is a 404 no_look; so is a look number that was never taken."""
    _running(api)
    assert (
        api.client.get("/v1/experiments/exp-small/results", headers=api.admin).json()["error"][
            "code"
        ]
        == "no_look"
    )
    r = api.client.get("/v1/experiments/exp-small/results/3", headers=api.admin)
    assert r.status_code == 404


def test_an_undeclared_segment_is_refused_before_sql(api: Api) -> None:
    """Only segments the definition declares may be asked for (a 422 naming them)."""
    _running(api)
    for bad in ("platform", "region'; DROP TABLE exposures; --"):
        r = api.client.get(
            "/v1/experiments/exp-small/summary", params={"segment": bad}, headers=api.admin
        )
        assert r.status_code == 422
        assert r.json()["error"]["details"][0]["path"] == "query.segment"


def test_config_has_an_etag_and_answers_304(api: Api) -> None:
    """The SDK config carries an ETag; If-None-Match with it is a 304 until something changes."""
    _running(api)
    first = api.client.get("/v1/config", headers=api.sdk)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert [e["experimentId"] for e in first.json()["experiments"]] == ["exp-small"]
    again = api.client.get("/v1/config", headers={**api.sdk, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    api.client.post(
        "/v1/experiments/exp-small/toggle",
        json={"variant": "control", "reason": "incident"},
        headers=api.admin,
    )
    changed = api.client.get("/v1/config", headers={**api.sdk, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["experiments"][0]["forcedVariant"] == "control"


def test_drafts_are_not_in_the_sdk_config(api: Api) -> None:
    """A draft is nobody's business but its authors': it is left out of the SDK config."""
    api.client.post("/v1/experiments", json=small(), headers=api.admin)
    assert api.client.get("/v1/config", headers=api.sdk).json() == {"experiments": []}


def test_metrics_count_requests_events_and_looks(api: Api) -> None:
    """/metrics exposes request counts by route template, events accepted and looks run."""
    variant_of = _running(api)
    api.client.post("/v1/events", json=_events(10, variant_of), headers=api.sdk)
    api.client.post("/v1/experiments/exp-small/evaluate", headers=api.admin)
    text = api.client.get("/metrics").text
    lines = text.splitlines()
    assert "# TYPE splitlab_http_requests_total counter" in lines
    assert 'splitlab_http_requests_total{method="POST",route="/v1/assign",status="200"} 60' in lines
    assert any(
        line.startswith(
            'splitlab_http_request_duration_seconds_bucket{route="/v1/assign",le="+Inf"}'
        )
        for line in lines
    )
    assert "splitlab_events_accepted_total 14" in lines
    assert any(line.startswith("splitlab_looks_total{action=") for line in lines)
    routes = {line.split('route="')[1].split('"')[0] for line in lines if 'route="' in line}
    assert "/v1/experiments/{experiment_id}/evaluate" in routes
    assert not any("exp-small" in r for r in routes)


def test_healthz_needs_no_key(api: Api) -> None:
    """/healthz answers without a key (for load balancers)."""
    r = api.client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_the_server_takes_scheduled_looks_and_applies_them(api: Api) -> None:
    """The scheduler thread takes a due look and refreshes the view the hot routes read."""
    import time
    from datetime import UTC, datetime, timedelta

    from splitlab.config import Status, load_experiment
    from splitlab.evaluation.lifecycle import change_status
    from splitlab.server.run import SchedulerThread

    launched = datetime.now(UTC) - timedelta(days=2)
    experiment = load_experiment(small("exp-sched"))
    api.ctx.registry.create(experiment, at=launched)
    change_status(api.ctx.registry, "exp-sched", Status.RUNNING, by="t", reason="r", now=launched)
    assert "exp-sched" not in api.ctx.view.experiments
    looks = SchedulerThread(api.ctx, poll_seconds=0.05)
    looks.start()
    try:
        deadline = time.monotonic() + 30
        while not api.ctx.registry.looks("exp-sched") and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        looks.stop()
    [record] = api.ctx.registry.looks("exp-sched")
    assert record.triggered_by == "scheduler"
    assert "exp-sched" in api.ctx.view.experiments
    assert "splitlab_looks_total" in api.client.get("/metrics").text


def test_the_assign_examples_in_the_docs_are_what_the_server_answers(api: Api) -> None:
    """Every `curl .../v1/assign -d '...'` example in docs/server.md shows the real answer."""
    api.client.post("/v1/experiments", json=article(), headers=api.admin)
    text = (ROOT / "docs" / "server.md").read_text()
    examples = re.findall(r"/v1/assign [^\n]*\\\n\s*-d '(\{.*?\})'\n(\{[^\n]*\})\n", text, re.S)
    assert len(examples) >= 2
    for request, shown in examples:
        answer = api.client.post("/v1/assign", content=request.encode(), headers=api.sdk)
        assert answer.json() == json.loads(shown), request
