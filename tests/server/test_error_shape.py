"""One JSON error shape for every failure of every route (401, 403, 404, 405, 413, 422, 400)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from splitlab.server import dashboard
from splitlab.server.api import (
    bandit,
    canary,
    experiments,
    exposure_checks,
    holdouts,
    looks,
    service,
    webhooks,
)
from splitlab.server.app import create_app, create_fastapi
from splitlab.server.context import ServerContext
from splitlab.store import DuckDBStore

from .server_helpers import Api, small

#: Every API route: (method, path template) -> who may call it. A new route without an entry
#: here fails `test_the_table_covers_every_route`, so no route escapes the checks below.
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/v1/experiments"): "admin",
    ("GET", "/v1/holdouts"): "admin",
    ("POST", "/v1/experiments"): "admin",
    ("GET", "/v1/experiments/{experiment_id}"): "admin",
    ("PUT", "/v1/experiments/{experiment_id}"): "admin",
    ("POST", "/v1/experiments/{experiment_id}/status"): "admin",
    ("POST", "/v1/experiments/{experiment_id}/toggle"): "admin",
    ("POST", "/v1/experiments/{experiment_id}/rollback"): "admin",
    ("GET", "/v1/experiments/{experiment_id}/audit"): "admin",
    ("GET", "/v1/experiments/{experiment_id}/summary"): "admin",
    ("GET", "/v1/experiments/{experiment_id}/bandit"): "admin",
    ("GET", "/v1/experiments/{experiment_id}/exposure-checks"): "admin",
    ("POST", "/v1/experiments/{experiment_id}/evaluate"): "admin",
    ("GET", "/v1/experiments/{experiment_id}/results"): "admin",
    ("GET", "/v1/experiments/{experiment_id}/results/{look}"): "admin",
    ("GET", "/v1/experiments/{experiment_id}/looks"): "admin",
    ("GET", "/v1/experiments/{experiment_id}/cells"): "admin",
    ("GET", "/v1/experiments/{experiment_id}/canary"): "admin",
    ("POST", "/v1/experiments/{experiment_id}/canary/judge"): "admin",
    ("GET", "/v1/keys"): "admin",
    ("POST", "/v1/keys"): "admin",
    ("DELETE", "/v1/keys/{key_id}"): "admin",
    ("GET", "/v1/webhooks"): "admin",
    ("POST", "/v1/webhooks"): "admin",
    ("GET", "/v1/webhooks/{webhook_id}"): "admin",
    ("DELETE", "/v1/webhooks/{webhook_id}"): "admin",
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): "admin",
    ("GET", "/v1/webhooks/notifications/{experiment_id}"): "admin",
    ("GET", "/v1/config"): "sdk",
    ("GET", "/v1/config/stream"): "sdk",
    ("POST", "/v1/assign"): "sdk",
    ("POST", "/v1/events"): "sdk",
    ("GET", "/healthz"): "open",
    ("GET", "/metrics"): "open",
}

#: Bodies that are valid for each body-taking route (so only the thing under test fails).
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/experiments"): small("exp-new"),
    ("PUT", "/v1/experiments/{experiment_id}"): small(),
    ("POST", "/v1/experiments/{experiment_id}/status"): {"status": "running", "reason": "go"},
    ("POST", "/v1/experiments/{experiment_id}/toggle"): {"variant": "control", "reason": "r"},
    ("POST", "/v1/experiments/{experiment_id}/rollback"): {"reason": "r"},
    ("POST", "/v1/experiments/{experiment_id}/evaluate"): {"peek": True},
    ("POST", "/v1/keys"): {"kind": "sdk"},
    ("POST", "/v1/webhooks"): {"url": "http://127.0.0.1:9/in"},
    ("POST", "/v1/assign"): {"unitId": "u1"},
    ("POST", "/v1/events"): [],
}


def _url(path: str, experiment_id: str = "exp-small") -> str:
    return (
        path.replace("{experiment_id}", experiment_id)
        .replace("{look}", "1")
        .replace("{key_id}", "0123456789ab")
        .replace("{webhook_id}", "wh_0123456789ab")
    )


def assert_error(r: httpx.Response, status: int) -> dict[str, Any]:
    """The response is `status` with exactly the one error shape; returns the error object."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"status", "code", "message", "details"}
    assert error["status"] == status
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)
    for detail in error["details"]:
        assert_detail(detail)
    return error


def assert_detail(detail: Any) -> None:
    """One detail item: the JSON path (or query./path. parameter), the value, the expectation."""
    assert isinstance(detail, dict), detail
    assert {"path", "value", "expected"} <= set(detail), detail
    assert isinstance(detail["path"], str), detail
    assert detail["path"].startswith(("$", "query.", "path.", "header.")), detail
    assert isinstance(detail["expected"], str) and detail["expected"], detail
    assert "field" not in detail, detail


def _call(api: Api, method: str, path: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
    body = BODIES.get((method, path))
    if body is not None and "content" not in kw and "json" not in kw:
        kw["json"] = body
    return api.client.request(method, _url(path, kw.pop("eid", "exp-small")), headers=headers, **kw)


@pytest.fixture
def seeded(api: Api) -> Api:
    api.client.post("/v1/experiments", json=small(), headers=api.admin)
    return api


@pytest.fixture(scope="module")
def refusing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A server like ``seeded``, shared by this module's tests whose every request is refused
    (401, 403, 404, 405, 400, 413, 422 before any change): a refused request changes nothing,
    so ~150 such tests need not each open a store (~60 ms each). The teardown checks that
    they indeed left the server as seeded."""
    path = tmp_path_factory.mktemp("refusing") / "splitlab.duckdb"
    store = DuckDBStore(path, load_interval_s=0.05)
    try:
        ctx = ServerContext.open(store)
        admin = ctx.keys.create("admin", "tests").secret
        sdk = ctx.keys.create("sdk", "web").secret
        with TestClient(create_app(ctx), base_url="http://testserver") as client:
            api = Api(client, ctx, admin, sdk)
            created = client.post("/v1/experiments", json=small(), headers=api.admin)
            assert created.status_code == 201, created.text
            before = _state(api)
            yield api
            assert _state(api) == before, "a refused request changed the server"
    finally:
        store.close()


def _state(api: Api) -> tuple[Any, ...]:
    """What a refused request must not change: the experiments, their audit trail and looks,
    the keys, and the stored events."""
    get = api.client.get
    experiments = get("/v1/experiments", headers=api.admin).json()
    audit = get("/v1/experiments/exp-small/audit", headers=api.admin).json()
    looks = get("/v1/experiments/exp-small/looks", headers=api.admin).json()
    keys = get("/v1/keys", headers=api.admin).json()
    api.ctx.store.flush()
    events = api.ctx.store.connection.execute(
        "SELECT (SELECT count(*) FROM exposures), (SELECT count(*) FROM metric_events)"
    ).fetchone()
    return experiments, audit, looks, keys, events


def test_the_table_covers_every_route(api: Api) -> None:
    """Every route of the API (FastAPI's and the two hot ones) is in the table above."""
    app = create_fastapi(api.ctx)
    found = {
        (method, route.path)
        for router in (
            experiments.router,
            looks.router,
            service.router,
            bandit.router,
            canary.router,
            exposure_checks.router,
            holdouts.router,
            webhooks.router,
        )
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    assert all(not r.include_in_schema for r in dashboard.router.routes if isinstance(r, APIRoute))
    found |= {("POST", "/v1/assign"), ("POST", "/v1/events"), ("GET", "/v1/config/stream")}
    assert found == set(ROUTES)
    documented = {
        (m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops
    }  # fmt: skip
    assert documented == set(ROUTES)


@pytest.mark.parametrize(("method", "path"), [k for k, v in ROUTES.items() if v != "open"])
def test_no_key_or_a_bad_key_is_401(refusing: Api, method: str, path: str) -> None:
    """Without a key, or with a made-up one, every protected route answers 401."""
    error = assert_error(_call(refusing, method, path, {}), 401)
    assert error["code"] == "unauthorized"
    fake = {"Authorization": "Bearer sl_admin_0123456789ab_" + "A" * 43}
    assert_error(_call(refusing, method, path, fake), 401)


@pytest.mark.parametrize(("method", "path"), [k for k, v in ROUTES.items() if v == "admin"])
def test_an_sdk_key_on_an_admin_route_is_403(refusing: Api, method: str, path: str) -> None:
    """An SDK key may not change or read experiments: 403 forbidden."""
    assert assert_error(_call(refusing, method, path, refusing.sdk), 403)["code"] == "forbidden"


@pytest.mark.parametrize(
    ("method", "path"), [k for k in ROUTES if "{experiment_id}" in k[1]]
)  # fmt: skip
def test_an_unknown_experiment_is_404(refusing: Api, method: str, path: str) -> None:
    """Every experiment route answers 404 in the error shape for an id that is not registered."""
    given = BODIES.get((method, path))
    body = dict(given) if isinstance(given, dict) else None
    if body is not None and "experimentId" in body:
        body["experimentId"] = "exp-missing"
    kw: dict[str, Any] = {"eid": "exp-missing"}
    if body is not None:
        kw["json"] = body
    error = assert_error(_call(refusing, method, path, refusing.admin, **kw), 404)
    assert "exp-missing" in error["message"]


@pytest.mark.parametrize(
    ("method", "path"), [k for k in ROUTES if "{experiment_id}" in k[1]]
)  # fmt: skip
def test_a_malformed_experiment_id_is_422_before_any_query(
    refusing: Api, method: str, path: str
) -> None:
    """Ids that break the definition's rule are refused by validation with their path."""
    error = assert_error(_call(refusing, method, path, refusing.admin, eid="bad%20id'"), 422)
    assert error["details"][0]["path"] == "path.experiment_id"


@pytest.mark.parametrize("path", sorted({p for _, p in ROUTES}))
def test_a_wrong_method_is_405(refusing: Api, path: str) -> None:
    """A method a path does not serve is a 405 in the error shape."""
    assert_error(refusing.client.request("PATCH", _url(path), headers=refusing.admin), 405)


@pytest.mark.parametrize(("method", "path"), [k for k in ROUTES if k in BODIES])
def test_malformed_json_is_400_or_422(refusing: Api, method: str, path: str) -> None:
    """A body that is not JSON is refused in the error shape (400 or 422 with a path)."""
    headers = {**refusing.admin, "Content-Type": "application/json"}
    r = _call(refusing, method, path, headers, content=b"{not json")
    assert r.status_code in (400, 422)
    error = assert_error(r, r.status_code)
    if r.status_code == 422:
        assert error["details"][0]["path"].startswith("$")


@pytest.mark.parametrize(("method", "path"), [k for k in ROUTES if k in BODIES])
def test_a_body_over_the_limit_is_413(refusing: Api, method: str, path: str) -> None:
    """Every body-taking route refuses a body over its limit with 413 payload_too_large."""
    limits = refusing.ctx.limits
    limit = {"/v1/assign": limits.assign, "/v1/events": limits.events}.get(path, limits.default)
    headers = {**refusing.admin, "Content-Type": "application/json"}
    r = _call(refusing, method, path, headers, content=b" " * (limit + 1))
    assert assert_error(r, 413)["code"] == "payload_too_large"


def test_fastapi_validation_errors_use_the_shape_with_json_paths(seeded: Api) -> None:
    """FastAPI's own request validation (body and path) answers in the one shape."""
    r = seeded.client.post(
        "/v1/experiments/exp-small/toggle", json={"variant": 3}, headers=seeded.admin
    )
    error = assert_error(r, 422)
    assert {d["path"] for d in error["details"]} == {"$.variant", "$.reason"}
    r = seeded.client.get("/v1/experiments/exp-small/results/abc", headers=seeded.admin)
    assert assert_error(r, 422)["details"][0]["path"] == "path.look"


def test_hot_route_validation_names_the_path(seeded: Api) -> None:
    """/v1/assign refuses a wrong type with the JSON path of the offending value."""
    r = seeded.client.post("/v1/assign", json={"unitId": 5}, headers=seeded.sdk)
    error = assert_error(r, 422)
    assert error["details"][0]["path"] == "$.unitId"
    r = seeded.client.post("/v1/assign", json={"unitId": "u", "extra": 1}, headers=seeded.sdk)
    assert assert_error(r, 422)["details"][0]["path"] == "$"


def test_unknown_paths_are_404(seeded: Api) -> None:
    """A path no route serves is a 404 in the error shape."""
    assert_error(seeded.client.get("/v2/nothing", headers=seeded.admin), 404)


def test_a_crash_is_a_500_in_the_shape(seeded: Api) -> None:
    """An unexpected failure inside a route answers 500 in the shape, without a traceback."""
    seeded.ctx.store.connection.execute("DROP TABLE splitlab_looks")
    with TestClient(create_app(seeded.ctx), raise_server_exceptions=False) as client:
        r = client.get("/v1/experiments/exp-small/looks", headers=seeded.admin)
    error = assert_error(r, 500)
    assert "Traceback" not in r.text
    assert error["code"] == "internal_error"


def _running(api: Api) -> None:
    api.client.post("/v1/experiments", json=small(status="running"), headers=api.admin)


@pytest.mark.parametrize(
    ("case", "method", "url", "body", "status", "code", "path", "value"),
    [
        ("transition", "POST", "/v1/experiments/exp-small/status",
         {"status": "draft", "reason": "undo"}, 409, "invalid_transition", "$.status", "draft"),
        ("toggle", "POST", "/v1/experiments/exp-small/toggle",
         {"variant": "nope", "reason": "r"}, 409, "invalid_toggle", "$.variant", "nope"),
        ("ship", "POST", "/v1/experiments/exp-small/status",
         {"status": "shipped", "reason": "r"}, 409, "invalid_transition", "$.variant", None),
        ("duplicate", "POST", "/v1/experiments", small(), 409, "duplicate_experiment",
         "$.experimentId", "exp-small"),
        ("definition", "POST", "/v1/experiments", small("exp-2", variants=["only"]), 422,
         "invalid_definition", "$.variants", [{"name": "only"}]),
    ],
)  # fmt: skip
def test_library_errors_name_path_value_and_expected(
    api: Api,
    case: str,
    method: str,
    url: str,
    body: Any,
    status: int,
    code: str,
    path: str,
    value: Any,
) -> None:
    """Library errors behind every route carry {path, value, expected} details, not `field`."""
    _running(api)
    error = assert_error(api.client.request(method, url, json=body, headers=api.admin), status)
    assert error["code"] == code
    assert error["details"], case
    assert error["details"][0]["path"] == path
    assert error["details"][0]["value"] == value


def test_look_errors_name_path_value_and_expected(api: Api) -> None:
    """A look on a draft and a look past maxPeeks are 409s whose details name path and value."""
    api.client.post("/v1/experiments", json=small(), headers=api.admin)
    url = "/v1/experiments/exp-small/evaluate"
    error = assert_error(api.client.post(url, headers=api.admin), 409)
    assert (error["details"][0]["path"], error["details"][0]["value"]) == ("$.status", "draft")
    api.client.post(
        "/v1/experiments/exp-small/status",
        json={"status": "running", "reason": "go"},
        headers=api.admin,
    )
    for _ in range(2):
        assert api.client.post(url, headers=api.admin).status_code == 200
    error = assert_error(api.client.post(url, headers=api.admin), 409)
    assert error["code"] == "look_limit_reached"
    detail = error["details"][0]
    assert (detail["path"], detail["value"]) == ("$.evaluation.maxPeeks", 2)
    assert "peek" in detail["expected"]


@pytest.mark.parametrize(
    "content_type", [None, "application/x-www-form-urlencoded", "text/plain"]
)  # fmt: skip
def test_a_json_body_is_read_whatever_its_content_type(
    seeded: Api, content_type: str | None
) -> None:
    """A JSON body sent as curl -d sends it (form-encoded, or with no type) is read as JSON."""
    headers = dict(seeded.admin)
    if content_type is not None:
        headers["Content-Type"] = content_type
    r = seeded.client.post(
        "/v1/experiments/exp-small/status",
        content=b'{"status": "running", "reason": "go"}',
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "running"


def test_a_bad_body_never_shows_a_python_repr(seeded: Api) -> None:
    """A body that is not JSON, form-encoded, is refused without b'...' or other reprs."""
    headers = {**seeded.admin, "Content-Type": "application/x-www-form-urlencoded"}
    r = seeded.client.post(
        "/v1/experiments/exp-small/toggle", content=b"variant=x", headers=headers
    )
    error = assert_error(r, 400)
    assert error["code"] == "malformed_json" and error["details"][0]["path"] == "$"
    assert "b'" not in r.text and 'b\\"' not in r.text


@pytest.mark.parametrize(
    ("body", "path", "value", "expected"),
    [
        ({"unitId": 5}, "$.unitId", 5, "a string (got int)"),
        ({"unitId": "u", "experimentId": ["x"]}, "$.experimentId", ["x"], "a string (got array)"),
        ({"unitId": "u", "attributes": {"ok": 1, "bad": [1]}}, "$.attributes.bad", [1], None),
    ],
)  # fmt: skip
def test_assign_validation_returns_the_bad_value(
    seeded: Api, body: dict[str, Any], path: str, value: Any, expected: str | None
) -> None:
    """/v1/assign's 422 names the path and gives back the offending value, not null."""
    error = assert_error(seeded.client.post("/v1/assign", json=body, headers=seeded.sdk), 422)
    detail = error["details"][0]
    assert (detail["path"], detail["value"]) == (path, value)
    if expected is not None:
        assert detail["expected"] == expected


@pytest.mark.parametrize("number", ["1e999", "-1e999", "Infinity", "NaN"])
def test_a_non_finite_event_value_is_named_with_its_path(seeded: Api, number: str) -> None:
    """An event whose value is not finite is rejected with path $[i].value and JSON-safe text."""
    good = ('{"eventId": "e0", "type": "exposure", "experimentId": "exp-small", '
            '"variant": "control", "unitId": "u0", "timestamp": 1767261600000}')  # fmt: skip
    bad = ('{"eventId": "e1", "type": "metric", "experimentId": "exp-small", "variant": '
           f'"control", "unitId": "u1", "metric": "checkout", "value": {number}, '
           '"timestamp": 1767261600000}')  # fmt: skip
    r = seeded.client.post("/v1/events", content=f"[{good}, {bad}]".encode(), headers=seeded.sdk)
    assert r.status_code == 200, r.text
    rejections = r.json()["rejections"]
    assert len(rejections) == 1
    rejection = rejections[0]
    assert rejection["path"] == "$[1].value" and rejection["index"] == 1
    want = {"1e999": "Infinity", "-1e999": "-Infinity"}.get(number, number)
    assert rejection["value"] == want
    assert rejection["expected"] == "a finite number"
