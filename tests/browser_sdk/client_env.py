"""What the client tests share: a real `splitlab serve` child process that lets the static
test origin in (CORS), pages that run the SDK client, and the events read back from the
server's DuckDB file.

The page is served by the static http.server of conftest.py (one loopback port) and the API
by `splitlab serve` (another), so every request of the client is a real cross-origin one.
"""

from __future__ import annotations

import http.server
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from tests.server.serve_process import ServeProcess

#: The client as the page imports it (ES module source; the bundle has its own test).
CLIENT_MODULE = "sdk/js/src/main.js"
PAGE = "tests/browser_sdk/blank.html"


def experiment(experiment_id: str, *, variants: tuple[str, ...] = ("control", "treatment"),
               status: str = "running", **extra: Any) -> dict[str, Any]:  # fmt: skip
    """A small running definition (article format) with its own salt."""
    return {
        "experimentId": experiment_id,
        "status": status,
        "trafficAllocation": 1.0,
        "variants": list(variants),
        "assignment": {"strategy": "consistent_hash", "hashKey": "userId", "salt": experiment_id},
        "metrics": {"primary": {"name": "conversion"}},
        **extra,
    }


class Serve(ServeProcess):
    """`splitlab serve` letting `origin` in by CORS; restartable on the same port and file."""

    def __init__(self, db: Path, origin: str) -> None:
        super().__init__(db, "--cors-origin", origin, "--no-scheduler")

    def start(self) -> Serve:
        super().start()
        return self

    def post(self, path: str, body: Any) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body, headers=self.admin, timeout=10)

    def rollback(self, experiment_id: str) -> None:
        answer = self.post(f"/v1/experiments/{experiment_id}/rollback", {"reason": "test"})
        assert answer.status_code == 200, answer.text

    def restart(self) -> None:
        self.stop(signal.SIGTERM)
        self.start()

    def events(self, table: str = "exposures") -> list[dict[str, Any]]:
        """Every row of `table` (``exposures`` or ``metric_events``): read with the server
        stopped (DuckDB lets one process open the file), so stop or restart around it."""
        assert self.process is None or self.process.poll() is not None, "stop the server first"
        con = duckdb.connect(str(self.db), read_only=True)
        try:
            cursor = con.execute(f"SELECT * FROM {table}")  # a fixed table name
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            con.close()


@pytest.fixture
def serve(tmp_path: Path, static_base: str) -> Iterator[Serve]:
    """A fresh server (its own database) for one test; stopped afterwards."""
    server = Serve(tmp_path / "client.duckdb", static_base).start()
    try:
        yield server
    finally:
        server.stop(signal.SIGKILL)


@dataclass
class ClientPage:
    """A Playwright page on the static origin that runs one splitlab client (``window.client``)."""

    page: Any
    base: str
    errors: list[str] = field(default_factory=list)

    def open(self) -> ClientPage:
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(f"{self.base}/{PAGE}")
        return self

    def start(self, url: str, sdk_key: str, **options: Any) -> dict[str, Any]:
        """Create the client with `options` (JSON) and wait for ``ready()``; its status.

        ``window.reported`` collects what the client reported to onError; the time ready()
        took is in ``status["readyMs"]``.
        """
        script = """async ([module, url, sdkKey, options]) => {
            const m = await import(module);
            window.splitlabModule = m;
            window.reported = [];
            const onError = (error, where) => window.reported.push(`${where}: ${error.message}`);
            const t0 = performance.now();
            window.client = m.createClient({ url, sdkKey, onError, ...options });
            const status = await window.client.ready();
            return { ...status, readyMs: performance.now() - t0 };
        }"""
        result: dict[str, Any] = self.page.evaluate(
            script, [f"{self.base}/{CLIENT_MODULE}", url, sdk_key, options]
        )
        return result

    def variant(self, experiment_id: str, unit_id: str, attributes: Any = None) -> dict[str, Any]:
        script = """([e, unitId, attributes]) =>
            window.client.getVariant(e, { unitId, attributes: attributes ?? undefined })"""
        result: dict[str, Any] = self.page.evaluate(script, [experiment_id, unit_id, attributes])
        return result

    def evaluate(self, script: str, arg: Any = None) -> Any:
        return self.page.evaluate(script, arg)

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.page.evaluate("() => window.client.status()")
        return result

    def reported(self) -> list[str]:
        result: list[str] = self.page.evaluate("() => window.reported")
        return result

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
        """Wait until `condition()` holds, at most `timeout` seconds (a deadline, not a sleep)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout} s: {what}")
            time.sleep(0.05)


@pytest.fixture
def client_page(chromium: Any, static_base: str) -> Iterator[ClientPage]:
    """A fresh browser context (empty localStorage) with one page on the static origin."""
    context = chromium.new_context()
    try:
        yield ClientPage(context.new_page(), static_base).open()
    finally:
        context.close()


class Misbehaving:
    """An HTTP server on a given loopback port that answers every API call badly.

    ``mode``: ``"500"`` (an error status with a JSON error body), ``"garbage"`` (200 with a
    body that is not JSON), ``"shape"`` (200 JSON that is not a config) or ``"silent"``
    (accepts the connection and never answers). CORS is granted, so the page reads the answers
    themselves rather than a blocked request.
    """

    def __init__(self, port: int, mode: str) -> None:
        self.mode = mode
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Not logged."""

            def _cors(self) -> None:
                self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin", "*"))
                self.send_header("Access-Control-Allow-Headers",
                                 "authorization, content-type, if-none-match")  # fmt: skip
                self.send_header("Access-Control-Allow-Methods", "GET, POST")

            def do_OPTIONS(self) -> None:
                self.send_response(204)
                self._cors()
                self.end_headers()

            def _answer(self) -> None:
                outer.requests.append(f"{self.command} {self.path}")
                if outer.mode == "silent":
                    time.sleep(30)
                    return
                status, body = {
                    "500": (500, b'{"error": {"status": 500, "code": "internal"}}'),
                    "garbage": (200, b"<html>not json{"),
                    "shape": (200, b'{"experiments": 5}'),
                }[outer.mode]
                self.send_response(status)
                self._cors()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._answer()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Misbehaving:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
