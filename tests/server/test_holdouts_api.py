"""GET /v1/holdouts over a real server and registry: scope, percent and covered experiments."""

from __future__ import annotations

from typing import Any

from .server_helpers import Api, small


def _holdout(experiment_id: str, scope: dict[str, Any] | None, **overrides: Any) -> dict[str, Any]:
    return small(
        experiment_id,
        variants=["held-out", "everyone-else"],
        design={"type": "holdout", "percent": 5, "scope": scope},
        segments=[],
        **overrides,
    )


def test_holdouts_list_their_scope_and_covered_experiments(api: Api) -> None:
    """A tag-scoped and an unscoped holdout; each lists the experiments it covers (same
    hashKey, a shared tag when scoped), with their statuses; ordinary experiments and the
    other holdout are not covered."""
    bodies = [
        _holdout("holdout-growth", {"tags": ["growth"]}, status="running"),
        _holdout("holdout-all", None),
        small("exp-a", tags=["growth"], status="running"),
        small("exp-b", tags=["search"]),
        small("exp-account", tags=["growth"],
              assignment={"strategy": "consistent_hash", "hashKey": "accountId", "salt": "s"}),
    ]  # fmt: skip
    for body in bodies:
        answer = api.client.post("/v1/experiments", json=body, headers=api.admin)
        assert answer.status_code == 201, answer.text
    answer = api.client.get("/v1/holdouts", headers=api.admin)
    assert answer.status_code == 200
    rows = {row["holdoutId"]: row for row in answer.json()["holdouts"]}
    assert list(rows) == ["holdout-all", "holdout-growth"]
    growth = rows["holdout-growth"]
    assert (growth["status"], growth["percent"], growth["hashKey"]) == ("running", 5.0, "userId")
    assert growth["scope"] == {"tags": ["growth"]}
    assert growth["scopeText"] == "experiments tagged growth"
    assert growth["coveredExperimentIds"] == ["exp-a"]
    assert growth["covered"] == [{"experimentId": "exp-a", "status": "running"}]
    every = rows["holdout-all"]
    assert every["scope"] is None and every["scopeText"] == "every experiment on userId"
    assert every["covered"] == [
        {"experimentId": "exp-a", "status": "running"},
        {"experimentId": "exp-b", "status": "draft"},
    ]


def test_holdouts_need_an_admin_key(api: Api) -> None:
    """The SDK key is refused with the usual error shape."""
    answer = api.client.get("/v1/holdouts", headers=api.sdk)
    assert answer.status_code in (401, 403)
    assert "error" in answer.json()


def test_a_holdout_is_never_rolled_back_or_toggled_over_the_api(api: Api) -> None:
    """The status and toggle routes refuse with the usual error shape, naming the field."""
    body = _holdout("holdout-growth", {"tags": ["growth"]}, status="running")
    assert api.client.post("/v1/experiments", json=body, headers=api.admin).status_code == 201
    path = "/v1/experiments/holdout-growth"
    refused = api.client.post(
        f"{path}/status", json={"status": "rolled_back", "reason": "r"}, headers=api.admin
    )
    assert refused.status_code == 409, refused.text
    assert "is a holdout" in refused.json()["error"]["message"]
    toggled = api.client.post(
        f"{path}/toggle", json={"variant": "held-out", "reason": "r"}, headers=api.admin
    )
    assert toggled.status_code == 409, toggled.text
    assert api.client.get(path, headers=api.admin).json()["status"] == "running"
