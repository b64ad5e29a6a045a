"""The experiments API: create, read, list, update while draft, status, toggle, rollback, audit."""

from __future__ import annotations

from .server_helpers import Api, article, small


def test_create_from_the_article_json_starts_it_through_the_lifecycle(api: Api) -> None:
    """The article's JSON is accepted unchanged, and its 'running' status is an audited start."""
    r = api.client.post("/v1/experiments", json=article(), headers=api.admin)
    assert r.status_code == 201
    assert r.headers["location"] == "/v1/experiments/exp-checkout-flow-v3"
    assert r.json()["status"] == "running"
    audit = api.client.get("/v1/experiments/exp-checkout-flow-v3/audit", headers=api.admin)
    [change] = audit.json()["changes"]
    assert (change["from"], change["to"]) == ("draft", "running")
    assert change["by"].startswith("admin-key:")


def test_an_invalid_definition_lists_every_problem_with_its_path(api: Api) -> None:
    """A definition with two mistakes is a 422 naming both JSON paths."""
    raw = small(trafficAllocation=2.0)
    raw["metrics"]["primary"]["type"] = "bogus"
    r = api.client.post("/v1/experiments", json=raw, headers=api.admin)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "invalid_definition"
    paths = {d["path"] for d in error["details"]}
    assert {"$.trafficAllocation", "$.metrics.primary.type"} <= paths


def test_a_duplicate_id_is_a_conflict(api: Api) -> None:
    """Registering the same experiment id twice is a 409."""
    assert api.client.post("/v1/experiments", json=small(), headers=api.admin).status_code == 201
    r = api.client.post("/v1/experiments", json=small(), headers=api.admin)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "duplicate_experiment"


def test_read_and_list(api: Api) -> None:
    """A created experiment can be read back and appears in the list with its status."""
    api.client.post("/v1/experiments", json=small(), headers=api.admin)
    r = api.client.get("/v1/experiments/exp-small", headers=api.admin)
    assert r.status_code == 200
    assert r.json()["experimentId"] == "exp-small"
    listed = api.client.get("/v1/experiments", headers=api.admin).json()["experiments"]
    assert [(e["experimentId"], e["status"], e["looks"]) for e in listed] == [
        ("exp-small", "draft", 0)
    ]


def test_update_is_allowed_only_while_draft(api: Api) -> None:
    """PUT replaces a draft's definition; once started it is a 409 not_draft."""
    api.client.post("/v1/experiments", json=small(), headers=api.admin)
    r = api.client.put("/v1/experiments/exp-small", json=small(name="Renamed"), headers=api.admin)
    assert r.status_code == 200
    assert r.json()["name"] == "Renamed"
    api.client.post(
        "/v1/experiments/exp-small/status",
        json={"status": "running", "reason": "launch"},
        headers=api.admin,
    )
    r = api.client.put("/v1/experiments/exp-small", json=small(name="Again"), headers=api.admin)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "not_draft"


def test_update_with_another_id_in_the_body_is_refused(api: Api) -> None:
    """The body's experimentId must match the URL's."""
    api.client.post("/v1/experiments", json=small(), headers=api.admin)
    r = api.client.put("/v1/experiments/exp-small", json=small("exp-other"), headers=api.admin)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["path"] == "$.experimentId"


def test_an_invalid_transition_names_the_allowed_ones(api: Api) -> None:
    """draft -> shipped is refused with a 409 and the allowed statuses in the details."""
    api.client.post("/v1/experiments", json=small(), headers=api.admin)
    r = api.client.post(
        "/v1/experiments/exp-small/status",
        json={"status": "paused", "reason": "try"},
        headers=api.admin,
    )
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "invalid_transition"
    detail = error["details"][0]
    assert (detail["path"], detail["value"]) == ("$.status", "paused")
    assert detail["expected"] == "one of: running" and detail["allowed"] == ["running"]


def test_status_changes_reach_assignment_at_once(api: Api) -> None:
    """After pausing, /v1/assign answers not_running; the audit log records who and why."""
    api.client.post("/v1/experiments", json=small(status="running"), headers=api.admin)
    body = {"unitId": "u-1", "experimentId": "exp-small"}
    first = api.client.post("/v1/assign", json=body, headers=api.sdk).json()
    assert first["assignments"][0]["reason"] == "assigned"
    r = api.client.post(
        "/v1/experiments/exp-small/status",
        json={"status": "paused", "reason": "checkout bug"},
        headers=api.admin,
    )
    assert r.json()["status"] == "paused"
    after = api.client.post("/v1/assign", json=body, headers=api.sdk).json()
    assert after["assignments"][0] == {
        "experimentId": "exp-small", "variant": None, "reason": "not_running"
    }  # fmt: skip
    changes = api.client.get("/v1/experiments/exp-small/audit", headers=api.admin).json()
    assert changes["changes"][-1]["reason"] == "checkout bug"


def test_toggle_forces_a_variant_and_clears(api: Api) -> None:
    """The variant toggle gives everyone one variant (reason toggled) until cleared."""
    api.client.post("/v1/experiments", json=small(status="running"), headers=api.admin)
    r = api.client.post(
        "/v1/experiments/exp-small/toggle",
        json={"variant": "control", "reason": "incident"},
        headers=api.admin,
    )
    assert r.status_code == 200
    assert r.json()["forcedVariant"] == "control"
    for unit in ("a", "b", "c"):
        got = api.client.post("/v1/assign", json={"unitId": unit}, headers=api.sdk).json()
        assert got["assignments"] == [
            {"experimentId": "exp-small", "variant": "control", "reason": "toggled"}
        ]
    api.client.post(
        "/v1/experiments/exp-small/toggle",
        json={"variant": None, "reason": "fixed"},
        headers=api.admin,
    )
    got = api.client.post("/v1/assign", json={"unitId": "a"}, headers=api.sdk).json()
    assert got["assignments"][0]["reason"] == "assigned"


def test_rollback_serves_control_to_everyone(api: Api) -> None:
    """POST rollback makes the status rolled_back and assignment control (reason rolled_back)."""
    api.client.post("/v1/experiments", json=small(status="running"), headers=api.admin)
    r = api.client.post(
        "/v1/experiments/exp-small/rollback", json={"reason": "errors up"}, headers=api.admin
    )
    assert r.json()["status"] == "rolled_back"
    got = api.client.post(
        "/v1/assign", json={"unitId": "x", "experimentId": "exp-small"}, headers=api.sdk
    ).json()
    assert got["assignments"][0] == {
        "experimentId": "exp-small", "variant": "control", "reason": "rolled_back"
    }  # fmt: skip
