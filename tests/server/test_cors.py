"""CORS on the SDK routes only, over a real server: preflights allowed and refused, the
answer headers a browser needs, and none on admin routes or the dashboard."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from splitlab.server.context import ServerContext
from splitlab.server.cors import CorsOriginError, parse_origins

from .browser_helpers import ORIGIN, SseReader, served
from .test_error_shape import assert_error

SDK_ROUTES = [("GET", "/v1/config"), ("GET", "/v1/config/stream"),
              ("POST", "/v1/assign"), ("POST", "/v1/events")]  # fmt: skip


def _preflight(url: str, origin: str, method: str = "POST") -> httpx.Response:
    return httpx.options(
        url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


@pytest.mark.parametrize(("method", "path"), SDK_ROUTES)
def test_a_preflight_from_an_allowed_origin_is_answered(
    ctx: ServerContext, method: str, path: str
) -> None:
    with served(ctx, ORIGIN) as server:
        r = _preflight(f"{server.url}{path}", ORIGIN, method)
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert r.headers["access-control-allow-methods"] == "GET, POST"
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert allowed == {"authorization", "content-type", "if-none-match"}
    assert int(r.headers["access-control-max-age"]) > 0
    assert r.headers["vary"] == "Origin"


def test_a_preflight_from_another_origin_is_refused_403_without_cors_headers(
    ctx: ServerContext,
) -> None:
    with served(ctx, ORIGIN) as server:
        r = _preflight(f"{server.url}/v1/events", "https://evil.example.net")
        unset = _preflight(f"{server.url}/v1/events", ORIGIN)
    error = assert_error(r, 403)
    assert error["code"] == "cors_origin_not_allowed"
    assert error["details"][0]["path"] == "header.Origin"
    assert not any(k.startswith("access-control-") for k in r.headers)
    assert unset.status_code == 204


def test_without_configured_origins_every_preflight_is_refused(ctx: ServerContext) -> None:
    with served(ctx) as server:
        r = _preflight(f"{server.url}/v1/config", ORIGIN, "GET")
    assert assert_error(r, 403)["code"] == "cors_origin_not_allowed"


def test_sdk_answers_carry_the_origin_vary_and_the_exposed_etag(ctx: ServerContext) -> None:
    with served(ctx, ORIGIN) as server:
        headers = {**server.sdk, "Origin": ORIGIN}
        config = httpx.get(f"{server.url}/v1/config", headers=headers)
        assign = httpx.post(f"{server.url}/v1/assign", json={"unitId": "u1"}, headers=headers)
        events = httpx.post(f"{server.url}/v1/events", json=[], headers=headers)
        refused = httpx.get(f"{server.url}/v1/config", headers={"Origin": ORIGIN})
        stream = SseReader(f"{server.url}/v1/config/stream?key={server.sdk_key}",
                           {"Origin": ORIGIN}).start()  # fmt: skip
        stream.next_config()
        other = httpx.get(
            f"{server.url}/v1/config", headers={**server.sdk, "Origin": "https://evil.example.net"}
        )
    for r in (config, assign, events, refused):
        assert r.headers["access-control-allow-origin"] == ORIGIN, r.request.url
        assert r.headers["vary"] == "Origin"
    assert config.headers["access-control-expose-headers"] == "ETag, Retry-After"
    assert refused.status_code == 401  # readable by the page: it can say why
    assert stream.response_headers is not None
    assert stream.response_headers["access-control-allow-origin"] == ORIGIN
    assert other.status_code == 200  # served, but the browser will not let the page read it
    assert "access-control-allow-origin" not in other.headers
    assert other.headers["vary"] == "Origin"


@pytest.mark.parametrize(
    "path", ["/v1/experiments", "/v1/keys", "/", "/login", "/metrics", "/healthz"]
)
def test_admin_routes_and_the_dashboard_never_answer_with_cors(
    ctx: ServerContext, path: str
) -> None:
    with served(ctx, "*") as server:
        preflight = _preflight(f"{server.url}{path}", ORIGIN, "GET")
        plain = httpx.get(f"{server.url}{path}", headers={**server.admin, "Origin": ORIGIN})
    assert preflight.status_code == 405
    for r in (preflight, plain):
        assert not any(k.startswith("access-control-") for k in r.headers), path


def test_star_allows_any_origin(ctx: ServerContext) -> None:
    with served(ctx, "*") as server:
        r = _preflight(f"{server.url}/v1/assign", "https://anything.example.org")
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "https://anything.example.org"


def test_origins_from_options_and_the_environment() -> None:
    assert parse_origins(["https://a.example/", " https://b.example , ,https://a.example"]) == (
        "https://a.example",
        "https://b.example",
    )


def test_serve_help_names_the_option() -> None:
    from splitlab.cli.serve import serve

    result = CliRunner().invoke(serve, ["--help"])
    assert "--cors-origin" in result.output
    assert "SPLITLAB_CORS_ORIGINS" in result.output


def test_an_origin_no_browser_sends_is_refused_at_start() -> None:
    """A bare host or a path never equals a browser's Origin header: refusing it at start
    beats a server that answers every page's preflight 403. Case is normalised."""
    assert parse_origins(["https://WWW.Example.com:8443/"]) == ("https://www.example.com:8443",)
    assert parse_origins(["http://[::1]:8080", "*", "null"]) == ("http://[::1]:8080", "*", "null")
    for bad in ("www.example.com", "https://a.example/app", "localhost:3000"):
        with pytest.raises(CorsOriginError, match=re.escape(repr(bad))):
            parse_origins([bad])


def test_serve_names_a_bad_origin_without_a_traceback(tmp_path: Path) -> None:
    from splitlab.cli.main import cli

    db = str(tmp_path / "s.duckdb")
    with socket.socket() as taken:  # were the origin accepted, serve stops at the busy port
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        args = ["serve", "--db", db, "--port", port, "--cors-origin", "www.example.com"]
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 3, result.output
    assert "'www.example.com' is not an origin" in result.output
    assert "Traceback" not in result.output


def test_demo_takes_cors_origins_and_refuses_a_bad_one_before_building(tmp_path: Path) -> None:
    """`splitlab demo --cors-origin` (the README's first server) lets a page try the browser
    SDK; a bad origin is refused before the half-minute set-up."""
    from splitlab.cli.main import cli

    assert "--cors-origin" in CliRunner().invoke(cli, ["demo", "--help"]).output
    db = tmp_path / "demo.duckdb"
    args = ["demo", "--no-serve", "--db", str(db), "--cors-origin", "localhost:3000"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 3, result.output
    assert "'localhost:3000' is not an origin" in result.output
    assert not db.exists()
