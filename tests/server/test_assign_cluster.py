"""``POST /v1/assign`` for a cluster design: the cluster attribute is required, the request's
unitId (a user) never stands in for the cluster."""

from __future__ import annotations

from typing import Any

from .server_helpers import Api, small

CLUSTER = {"type": "cluster", "analysisUnit": "userId"}
BY_ACCOUNT = {"strategy": "consistent_hash", "hashKey": "accountId", "salt": "acct-salt"}


def _assign(api: Api, **body: Any) -> dict[str, Any]:
    """Create the cluster experiment and assign once with `body`."""
    raw = small("exp-acct", status="running", design=CLUSTER, assignment=BY_ACCOUNT, segments=[])
    assert api.client.post("/v1/experiments", json=raw, headers=api.admin).status_code == 201
    answer = api.client.post("/v1/assign", json={"experimentId": "exp-acct", **body},
                             headers=api.sdk)  # fmt: skip
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()["assignments"]
    assert result["experimentId"] == "exp-acct"
    return dict(result)


def test_without_the_cluster_attribute_the_reason_is_missing_unit_id(api: Api) -> None:
    got = _assign(api, unitId="u1")
    assert (got["variant"], got["reason"]) == (None, "missing_unit_id")


def test_the_account_decides_for_every_user(api: Api) -> None:
    first = _assign(api, unitId="u1", attributes={"accountId": "acct-1"})
    assert first["reason"] == "assigned"
    for user in ("u2", "u3"):
        body = {"unitId": user, "experimentId": "exp-acct", "attributes": {"accountId": "acct-1"}}
        (again,) = api.client.post("/v1/assign", json=body, headers=api.sdk).json()["assignments"]
        assert again == first
