"""Hostile request bodies and methods: always the one error shape, never a 500 or plain text."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from splitlab.server.context import ServerContext
from splitlab.server.run import BackgroundServer

from .server_helpers import Api, small

T0 = 1_767_261_600_000  # 2026-01-01T10:00:00Z in epoch milliseconds

#: A valid exposure of exp-small with `unitId` replaced by raw JSON text.
EVENT = (
    b'[{"eventId":"e-1","type":"exposure","experimentId":"exp-small","variant":"control",'
    b'"timestamp":' + str(T0).encode() + b',"unitId":'
)

#: Bodies no route may answer with a 500: each must be a 400 malformed_json.
HOSTILE: dict[str, bytes] = {
    "invalid UTF-8 inside a string": EVENT + b'"u-\xff\xfe"}]',
    "a lone surrogate as a JSON escape": EVENT + b'"\\ud800"}]',
    "100,000 nested arrays": b"[" * 100_000 + b"]" * 100_000,
    "10,000 nested objects in attributes": (
        EVENT + b'"u-1","attributes":' + b'{"a":' * 10_000 + b"1" + b"}" * 10_000 + b"}]"
    ),
    "not JSON at all": b"hello",
}

#: Every route that takes a JSON body, with the key it needs.
BODY_ROUTES = [
    ("POST", "/v1/events", "sdk"),
    ("POST", "/v1/assign", "sdk"),
    ("POST", "/v1/experiments", "admin"),
    ("PUT", "/v1/experiments/exp-small", "admin"),
    ("POST", "/v1/experiments/exp-small/status", "admin"),
    ("POST", "/v1/experiments/exp-small/toggle", "admin"),
    ("POST", "/v1/experiments/exp-small/rollback", "admin"),
    ("POST", "/v1/experiments/exp-small/evaluate", "admin"),
    ("POST", "/v1/keys", "admin"),
]


def _assert_malformed(answer: Any) -> None:
    assert answer.status_code == 400, answer.text[:300]
    assert answer.headers["content-type"] == "application/json"
    error = answer.json()["error"]
    assert set(error) == {"status", "code", "message", "details"}
    assert (error["status"], error["code"]) == (400, "malformed_json")


@pytest.mark.parametrize("name", list(HOSTILE))
@pytest.mark.parametrize(("method", "path", "who"), BODY_ROUTES)
def test_hostile_bodies_are_400_malformed_json(
    api: Api, method: str, path: str, who: str, name: str
) -> None:
    """Every JSON route answers a broken body (bad UTF-8, lone surrogate, deep nesting) 400."""
    api.client.post("/v1/experiments", json=small(status="running"), headers=api.admin)
    headers = {**(api.sdk if who == "sdk" else api.admin), "Content-Type": "application/json"}
    body = HOSTILE[name]
    if path == "/v1/assign" and len(body) > api.ctx.limits.assign:
        body = b"[" * 30_000 + b"]" * 30_000  # the same attack within the route's body limit
    _assert_malformed(api.client.request(method, path, content=body, headers=headers))


def test_a_lone_surrogate_never_reaches_the_store(api: Api) -> None:
    """A batch holding a lone surrogate is refused whole: nothing of it is stored."""
    api.client.post("/v1/experiments", json=small(status="running"), headers=api.admin)
    body = EVENT + b'"\\ud800"}]'
    _assert_malformed(api.client.post("/v1/events", content=body, headers=api.sdk))
    fine = api.client.post("/v1/events", content=EVENT + b'"u-1"}]', headers=api.sdk)
    assert fine.json()["accepted"] == 1
    summary = api.client.get("/v1/experiments/exp-small/summary", headers=api.admin).json()
    assert sum(summary["units"].values()) == 1


def test_malformed_json_names_the_problem(api: Api) -> None:
    """The message says what is wrong: not UTF-8 (and where), a surrogate, the nesting."""
    cases = {
        "invalid UTF-8 inside a string": "not UTF-8 text (byte 0xff at offset",
        "a lone surrogate as a JSON escape": "lone UTF-16 surrogate (\\ud800)",
        "10,000 nested objects in attributes": "nests arrays or objects more than",
    }
    for name, words in cases.items():
        for path in ("/v1/events", "/v1/assign"):
            answer = api.client.post(path, content=HOSTILE[name], headers=api.sdk)
            assert words in answer.json()["error"]["message"], (path, name)


def test_a_definition_that_is_not_json_is_400_malformed_json(api: Api) -> None:
    """POST and PUT of a definition that is not JSON: 400 malformed_json, as /status answers."""
    for method, path in (("POST", "/v1/experiments"), ("PUT", "/v1/experiments/exp-small")):
        for body in (b"not json", b'{"experimentId": "exp-small",', b"experimentId=exp-small"):
            answer = api.client.request(method, path, content=body, headers=api.admin)
            _assert_malformed(answer)
            assert answer.json()["error"]["details"][0]["path"] == "$"


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/v1/experiments", "GET, POST"),
        ("/v1/experiments/exp-small", "GET, PUT"),
        ("/v1/keys", "GET, POST"),
        ("/v1/keys/0123456789ab", "DELETE"),
        ("/v1/experiments/exp-small/summary", "GET"),
        ("/v1/events", "POST"),
    ],
)
def test_405_and_options_list_every_method_of_the_path(api: Api, path: str, allowed: str) -> None:
    """`Allow` on a 405 (OPTIONS or a wrong method) names every method the path takes."""
    for method in ("OPTIONS", "PATCH"):
        answer = api.client.request(method, path, headers=api.admin)
        assert answer.status_code == 405
        assert answer.headers["allow"] == allowed
        assert answer.json()["error"]["code"] == "method_not_allowed"


def test_the_last_admin_key_cannot_revoke_itself(api: Api) -> None:
    """Revoking the last active admin key is a 409 last_admin_key; with another one it works."""
    [mine] = [k for k in api.ctx.keys.list() if k.kind.value == "admin"]
    url = f"/v1/keys/{mine.key_id}"
    refused = api.client.delete(url, headers=api.admin)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "last_admin_key"
    assert "last active admin key" in error["message"]
    assert api.client.get("/v1/keys", headers=api.admin).status_code == 200  # still works
    created = api.client.post("/v1/keys", json={"kind": "admin"}, headers=api.admin).json()
    other = {"Authorization": f"Bearer {created['secret']}"}
    assert api.client.delete(url, headers=api.admin).status_code == 200
    assert api.client.get("/v1/keys", headers=api.admin).status_code == 401
    last = api.client.delete(f"/v1/keys/{created['key']['keyId']}", headers=other)
    assert last.status_code == 409


def test_a_real_server_answers_hostile_bodies_400(ctx: ServerContext) -> None:
    """Over real HTTP (uvicorn, as `splitlab serve` runs it) the hot routes answer 400 JSON."""
    sdk = {"Authorization": f"Bearer {ctx.keys.create('sdk').secret}"}
    with BackgroundServer(ctx) as server:
        for path in ("/v1/events", "/v1/assign"):
            for name, body in HOSTILE.items():
                if path == "/v1/assign" and len(body) > ctx.limits.assign:
                    continue
                answer = httpx.post(server.url + path, content=body, headers=sdk, timeout=30)
                assert answer.status_code == 400, (path, name, answer.text[:200])
                assert answer.json()["error"]["code"] == "malformed_json", (path, name)
