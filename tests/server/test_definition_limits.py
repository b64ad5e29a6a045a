"""Hostile definitions over HTTP: a 422 in the error shape, never a 500 or a stalled server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .server_helpers import Api, small

JSON = {"Content-Type": "application/json"}


def test_5000_nested_and_is_a_400_naming_the_depth(api: Api) -> None:
    """POST /v1/experiments with 5,000 nested $and answers 400 malformed_json, not 500.

    The body nests past what any JSON reader here takes, so the gateway refuses it before the
    definition is read; a condition nested past 32 but under that is a 422 (the next test).
    """
    text = json.dumps(small(targeting={"condition": "CONDITION"}))
    deep = '{"$and": [' * 5000 + '{"a": 1}' + "]}" * 5000
    body = text.replace('"CONDITION"', deep).encode()
    r = api.client.post("/v1/experiments", content=body, headers=api.admin | JSON)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "malformed_json"
    assert "levels deep" in error["message"]


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


#: A real server in a child process: a store, an admin and an SDK key (printed), uvicorn.
SERVER = """
import sys, uvicorn
from splitlab.server.app import create_app
from splitlab.server.context import ServerContext
from splitlab.store import DuckDBStore
ctx = ServerContext.open(DuckDBStore(sys.argv[1]))
print(ctx.keys.create("admin", "t").secret, ctx.keys.create("sdk", "w").secret, flush=True)
uvicorn.run(create_app(ctx), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """(base URL, admin key, SDK key) of `SERVER` on a free port; stopped afterwards."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tmp_path / "s.duckdb"), str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert proc.stdout is not None
        admin, sdk = proc.stdout.readline().split()
        for _ in range(200):  # bounded: at most ~20 s for uvicorn to listen
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base, admin, sdk
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


def test_a_backtracking_regex_cannot_stall_an_sdk_request(
    live_server: tuple[str, str, str],
) -> None:
    """An SDK-key assignment against ^(a+)+$ with a hostile attribute is answered (RE2).

    Against a real server in a child process, with a generous client timeout: a backtracking
    engine would hold the server's event loop (and the GIL) and the request would time out.
    """
    base, admin, sdk = live_server
    raw = small(status="running", targeting={"condition": {"email": {"$regex": "^(a+)+$"}}})
    with httpx.Client(base_url=base, timeout=60) as client:
        created = client.post("/v1/experiments", json=raw, headers=_bearer(admin))
        assert created.status_code == 201, created.text
        body = {
            "unitId": "u1",
            "experimentId": "exp-small",
            "attributes": {"email": "a" * 50_000 + "!"},
        }
        r = client.post("/v1/assign", json=body, headers=_bearer(sdk))
        assert r.status_code == 200, r.text
        health = client.get("/healthz")
    [answer] = r.json()["assignments"]
    assert answer["variant"] is None
    assert health.status_code == 200


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
