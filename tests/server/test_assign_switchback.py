"""``POST /v1/assign`` for switchback experiments: the timestamp, timeSource and the period."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from .server_helpers import ROOT, Api, small

T0 = 1_767_268_800_000  # 2026-01-01T12:00:00Z
DESIGN = {"type": "switchback", "unit": "region", "periodSeconds": 1800, "burnInSeconds": 300,
          "origin": "2026-01-01T00:00:00+05:30"}  # fmt: skip
ORIGIN = 1_767_205_800_000


def _setup(api: Api) -> None:
    for raw in (
        small("exp-sb", status="running", design=DESIGN, segments=[]),
        small("exp-classic", status="running"),
    ):
        assert api.client.post("/v1/experiments", json=raw, headers=api.admin).status_code == 201


def _assign(api: Api, **body: Any) -> Any:
    answer = api.client.post("/v1/assign", json={"unitId": "user-1", **body}, headers=api.sdk)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_request_timestamp_picks_the_period(api: Api) -> None:
    _setup(api)
    for step in range(-3, 6):
        t = ORIGIN + step * 1_800_000
        got = _assign(api, experimentId="exp-sb", attributes={"region": "EU"}, timestamp=t)
        expected = api.ctx.view.service.assign("user-1", "exp-sb", {"region": "EU"}, at=t)
        assert got == {
            "unitId": "user-1",
            "assignments": [
                {
                    "experimentId": "exp-sb",
                    "variant": expected.variant,
                    "reason": "assigned",
                    "period": step,
                    "periodStart": t,
                    "switchbackUnit": "EU",
                }
            ],
            "timestamp": t,
            "timeSource": "request",
        }


def test_without_a_timestamp_the_server_clock_is_used_and_said(api: Api) -> None:
    _setup(api)
    got = _assign(api, attributes={"region": "US"})
    assert got["timeSource"] == "server"
    by_id = {a["experimentId"]: a for a in got["assignments"]}
    sb = by_id["exp-sb"]
    assert sb["period"] == (got["timestamp"] - ORIGIN) // 1_800_000
    assert sb["periodStart"] <= got["timestamp"] < sb["periodStart"] + 1_800_000
    expected = api.ctx.view.service.assign(
        "user-1", "exp-sb", {"region": "US"}, at=got["timestamp"]
    )
    assert sb["variant"] == expected.variant
    assert set(by_id["exp-classic"]) == {"experimentId", "variant", "reason"}


def test_a_classic_answer_keeps_its_shape(api: Api) -> None:
    _setup(api)
    got = _assign(api, experimentId="exp-classic")
    assert set(got) == {"unitId", "assignments"}
    with_time = _assign(api, experimentId="exp-classic", timestamp=T0)
    assert with_time["timeSource"] == "request" and with_time["timestamp"] == T0
    assert with_time["assignments"] == got["assignments"]


def test_a_missing_region_is_missing_unit_id_with_its_period(api: Api) -> None:
    _setup(api)
    got = _assign(api, experimentId="exp-sb", timestamp=ORIGIN)
    assert got["assignments"] == [
        {
            "experimentId": "exp-sb",
            "variant": None,
            "reason": "missing_unit_id",
            "period": 0,
            "periodStart": ORIGIN,
        }
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_767_268_800, "epoch milliseconds (an integer) from 946684800000"),
        (10**16, "epoch milliseconds (an integer) from 946684800000"),
        (1.5, "an integer"),
        ("2026-01-01T00:00:00Z", "an integer"),
        (True, "an integer"),
    ],
)
def test_a_bad_timestamp_is_a_422_naming_the_field(api: Api, value: Any, expected: str) -> None:
    _setup(api)
    answer = api.client.post(
        "/v1/assign", json={"unitId": "u", "experimentId": "exp-sb", "timestamp": value},
        headers=api.sdk,
    )  # fmt: skip
    assert answer.status_code == 422
    (detail,) = answer.json()["error"]["details"]
    assert detail["path"] == "$.timestamp"
    assert detail["value"] == value
    assert expected in detail["expected"]


def test_the_sdk_config_serves_the_design(api: Api) -> None:
    _setup(api)
    config = api.client.get("/v1/config", headers=api.sdk).json()
    served = {e["experimentId"]: e for e in config["experiments"]}
    assert served["exp-sb"]["design"] == {**DESIGN, "estimator": "horvitz_thompson"}
    assert served["exp-classic"].get("design") is None


def test_the_docs_example_is_the_real_answer(api: Api) -> None:
    """The /v1/assign example of docs/assignment.md, replayed against the server."""
    cases = json.loads((ROOT / "spec" / "switchback-cases.json").read_text("utf-8"))
    regional = next(
        c["experiment"]
        for c in cases["assignments"]
        if c["experiment"]["experimentId"] == "exp-switchback-regions"
    )
    assert api.client.post("/v1/experiments", json=regional, headers=api.admin).status_code == 201
    text = (ROOT / "docs" / "assignment.md").read_text("utf-8")
    body = re.search(r"the body `(\{.*?\})` \(exactly", text, re.S)
    shown = re.search(r"```json\n(.*?)```", text[body.end() :] if body else "", re.S)
    assert body is not None and shown is not None
    request = json.loads(" ".join(body.group(1).split()))
    answer = api.client.post("/v1/assign", json=request, headers=api.sdk).json()
    assert answer == json.loads(shown.group(1))
