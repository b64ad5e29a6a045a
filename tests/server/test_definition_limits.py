"""Hostile definitions over HTTP: a 422 in the error shape, never a 500 or a stalled server."""

from __future__ import annotations

import json

import pytest

from .server_helpers import Api, small

JSON = {"Content-Type": "application/json"}


def test_5000_nested_and_is_a_422_naming_line_and_column(api: Api) -> None:
    """POST /v1/experiments with 5,000 nested $and answers 422 invalid_definition, not 500."""
    text = json.dumps(small(targeting={"condition": "CONDITION"}))
    deep = '{"$and": [' * 5000 + '{"a": 1}' + "]}" * 5000
    body = text.replace('"CONDITION"', deep).encode()
    r = api.client.post("/v1/experiments", content=body, headers=api.admin | JSON)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_definition"
    [detail] = error["details"]
    assert detail["path"] == "$" and detail["line"] == 1 and detail["column"] > 1
    assert "nested at most 64" in detail["expected"]


def test_a_condition_past_its_nesting_limit_is_a_422_with_its_path(api: Api) -> None:
    """A condition 41 levels deep inside a shallow body is refused at the deepest path."""
    condition: dict[str, object] = {"a": 1}
    for _ in range(20):
        condition = {"$and": [condition]}
    raw = small(targeting={"condition": condition})
    r = api.client.post("/v1/experiments", json=raw, headers=api.admin)
    assert r.status_code == 422, r.text
    [detail] = r.json()["error"]["details"]
    assert detail["path"] == "$.targeting.condition" + ".$and[0]" * 16


def test_a_string_where_a_number_is_expected_is_a_422(api: Api) -> None:
    """trafficAllocation "0.5" is refused with its path and value instead of being coerced."""
    r = api.client.post("/v1/experiments", json=small(trafficAllocation="0.5"), headers=api.admin)
    assert r.status_code == 422
    [detail] = r.json()["error"]["details"]
    assert (detail["path"], detail["value"]) == ("$.trafficAllocation", "0.5")


@pytest.mark.timeout(60)
def test_a_backtracking_regex_cannot_stall_an_sdk_request(api: Api) -> None:
    """An SDK-key assignment against ^(a+)+$ with a hostile attribute is answered (RE2)."""
    raw = small(status="running", targeting={"condition": {"email": {"$regex": "^(a+)+$"}}})
    created = api.client.post("/v1/experiments", json=raw, headers=api.admin)
    assert created.status_code == 201, created.text
    body = {
        "unitId": "u1",
        "experimentId": "exp-small",
        "attributes": {"email": "a" * 50_000 + "!"},
    }
    r = api.client.post("/v1/assign", json=body, headers=api.sdk)
    assert r.status_code == 200, r.text
    [answer] = r.json()["assignments"]
    assert answer["variant"] is None
