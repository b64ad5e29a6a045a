"""The SDK routes from a real browser page on another origin (Debian's Chromium).

The page is served by a small HTTP server of its own on another loopback port (a page on a
public address could not reach the loopback server: Chromium's local network access rules),
so the splitlab server on ``http://127.0.0.1:<port>`` is another origin. What a browser SDK does is
done by the page itself: ``fetch`` with the key header (a preflight), reading the exposed
``ETag``, an ``EventSource`` with the key in the query, and ``navigator.sendBeacon`` with the
key in the body. With the page's origin not allowed, the browser itself blocks the page.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from splitlab.server.context import ServerContext
from splitlab.store import DuckDBStore
from splitlab.tracking.events import now_ms
from tests.chromium import launched_chromium
from tests.server.browser_helpers import Served, served
from tests.server.server_helpers import small


class _AppPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>app</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def app_origin() -> Iterator[str]:
    """The origin of the page: a server on a free loopback port."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _AppPage)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with launched_chromium() as browser:
        yield browser


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[ServerContext]:
    store = DuckDBStore(tmp_path / "sdk.duckdb", load_interval_s=0.05)
    try:
        yield ServerContext.open(store)
    finally:
        store.close()


def _page(chromium: Any, origin: str) -> tuple[Any, Any]:
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{origin}/")
    return context, page


def _start(server: Served) -> None:
    r = httpx.post(f"{server.url}/v1/experiments", json=small(status="running"),
                   headers=server.admin)  # fmt: skip
    assert r.status_code == 201, r.text


def test_an_allowed_page_fetches_streams_and_beacons(
    chromium: Any, app_origin: str, ctx: ServerContext
) -> None:
    with served(ctx, app_origin) as server:
        _start(server)
        context, page = _page(chromium, app_origin)
        try:
            config = page.evaluate("""async ([api, key]) => {
                const r = await fetch(api + "/v1/config", {headers: {Authorization: "Bearer " + key}});
                return {status: r.status, etag: r.headers.get("ETag")};
            }""", [server.url, server.sdk_key])  # fmt: skip
            streamed = page.evaluate("""([api, key]) => new Promise((resolve, reject) => {
                const source = new EventSource(api + "/v1/config/stream?key=" + key);
                source.addEventListener("config", (e) => { source.close(); resolve(JSON.parse(e.data)); });
                source.onerror = () => { source.close(); reject(new Error("stream failed")); };
            })""", [server.url, server.sdk_key])  # fmt: skip
            served_variant = httpx.post(f"{server.url}/v1/assign", headers=server.sdk, json={
                "unitId": "u-1", "experimentId": "exp-small"}).json()["assignments"][0]["variant"]  # fmt: skip
            claim = "treatment" if served_variant == "control" else "control"
            event = {"eventId": "beacon-1", "type": "exposure", "experimentId": "exp-small",
                     "variant": claim, "unitId": "u-1", "timestamp": now_ms() - 1000}  # fmt: skip
            queued = page.evaluate("""([api, key, event]) => navigator.sendBeacon(
                api + "/v1/events", JSON.stringify({key: key, events: [event]}))""",
                [server.url, server.sdk_key, event])  # fmt: skip
            posted = page.evaluate("""async ([api, key]) => {
                const r = await fetch(api + "/v1/events", {method: "POST",
                    headers: {Authorization: "Bearer " + key, "Content-Type": "application/json"},
                    body: "[]"});
                return {status: r.status, body: await r.json()};
            }""", [server.url, server.sdk_key])  # fmt: skip
            deadline = time.monotonic() + 10
            while True:  # the beacon is sent in the background: wait for its check
                checks = httpx.get(f"{server.url}/v1/experiments/exp-small/exposure-checks",
                                   headers=server.admin).json()  # fmt: skip
                if checks["checked"] or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        finally:
            context.close()
    assert config["status"] == 200
    assert config["etag"] and config["etag"].startswith('"')
    assert streamed == {"etag": config["etag"]}
    assert queued is True
    assert posted == {"status": 200, "body": {"accepted": 0, "duplicates": 0, "rejected": 0,
                                              "rejections": []}}  # fmt: skip
    assert checks["mismatches"] == [{"claimed": claim, "served": served_variant, "count": 1}]


def test_a_page_on_an_origin_not_allowed_is_blocked_by_the_browser(
    chromium: Any, app_origin: str, ctx: ServerContext
) -> None:
    with served(ctx, "https://app.example.com") as server:
        context, page = _page(chromium, app_origin)
        try:
            outcome = page.evaluate("""async ([api, key]) => {
                try {
                    await fetch(api + "/v1/config", {headers: {Authorization: "Bearer " + key}});
                    return "read";
                } catch (e) { return "blocked"; }
            }""", [server.url, server.sdk_key])  # fmt: skip
        finally:
            context.close()
    assert outcome == "blocked"
