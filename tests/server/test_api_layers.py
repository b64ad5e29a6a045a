"""The experiments API refuses a definition whose layer range overlaps another's (422)."""

from __future__ import annotations

from .server_helpers import Api, small


def layered(eid: str, start: int, end: int, **changes: object) -> dict[str, object]:
    return small(eid, layer={"id": "checkout", "start": start, "end": end}, **changes)


def test_create_and_replace_refuse_an_overlapping_range(api: Api) -> None:
    post = api.client.post
    assert (
        post("/v1/experiments", json=layered("exp-a", 0, 5000), headers=api.admin).status_code
        == 201
    )
    answer = post("/v1/experiments", json=layered("exp-b", 4000, 8000), headers=api.admin)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_definition"
    (detail,) = error["details"]
    assert detail["path"] == "$.layer"
    assert detail["value"] == {"id": "checkout", "start": 4000, "end": 8000}
    assert "'exp-a' [0, 5000)" in detail["expected"]
    assert "free ranges left: [5000, 10000)" in detail["expected"]
    assert api.client.get("/v1/experiments/exp-b", headers=api.admin).status_code == 404
    # a free range is accepted, and a draft's replacement is checked the same way
    assert (
        post("/v1/experiments", json=layered("exp-b", 5000, 8000), headers=api.admin).status_code
        == 201
    )
    put = api.client.put(
        "/v1/experiments/exp-b", json=layered("exp-b", 4999, 8000), headers=api.admin
    )
    assert put.status_code == 422, put.text
    assert put.json()["error"]["details"][0]["path"] == "$.layer"
    put = api.client.put(
        "/v1/experiments/exp-b", json=layered("exp-b", 5000, 9000), headers=api.admin
    )
    assert put.status_code == 200, put.text


def test_another_hash_key_in_the_layer_is_refused(api: Api) -> None:
    post = api.client.post
    assert (
        post("/v1/experiments", json=layered("exp-a", 0, 5000), headers=api.admin).status_code
        == 201
    )
    raw = layered("exp-b", 5000, 10000, assignment={"hashKey": "deviceId", "salt": "s-b"})
    answer = post("/v1/experiments", json=raw, headers=api.admin)
    assert answer.status_code == 422
    (detail,) = answer.json()["error"]["details"]
    assert detail["path"] == "$.assignment.hashKey" and detail["value"] == "deviceId"


def test_assign_reports_the_covering_holdout(api: Api) -> None:
    """POST /v1/assign answers with holdoutId / holdoutVariant as the service does."""
    holdout = small(
        "holdout-all",
        status="running",
        variants=["held_out", "exposed"],
        assignment={"salt": "h-salt"},
        design={"type": "holdout", "percent": 50},
        metrics={"primary": {"name": "checkout", "type": "conversion"}},
        segments=[],
        evaluation={},
    )
    covered = small("exp-covered", status="running")
    for raw in (holdout, covered):
        answer = api.client.post("/v1/experiments", json=raw, headers=api.admin)
        assert answer.status_code == 201, answer.text
    service = api.ctx.view.service
    seen = set()
    for i in range(40):
        body = {"unitId": f"user-{i}", "experimentId": "exp-covered"}
        (got,) = api.client.post("/v1/assign", json=body, headers=api.sdk).json()["assignments"]
        assert got == service.assign(f"user-{i}", "exp-covered").to_dict()
        assert got["holdoutId"] == "holdout-all"
        seen.add((got["reason"], got["holdoutVariant"]))
    assert seen == {("holdout", "held_out"), ("assigned", "exposed")}


def test_a_registered_id_is_a_duplicate_not_a_layer_conflict(api: Api) -> None:
    """POSTing an id again answers 409 duplicate_experiment, even when the new body's range
    overlaps a neighbour: the layer check must not treat a create as a replacement."""
    post = api.client.post
    for raw in (layered("exp-a", 0, 5000), layered("exp-b", 5000, 8000)):
        assert post("/v1/experiments", json=raw, headers=api.admin).status_code == 201
    answer = post("/v1/experiments", json=layered("exp-b", 4000, 8000), headers=api.admin)
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error["code"] == "duplicate_experiment"
    assert error["details"][0]["path"] == "$.experimentId"
    kept = api.client.get("/v1/experiments/exp-b", headers=api.admin).json()
    assert kept["layer"] == {"id": "checkout", "start": 5000, "end": 8000}
