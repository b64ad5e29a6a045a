"""``GET /v1/config/stream``: server-sent events naming the config's ETag, over a real server.

A real uvicorn server (on a thread, or ``splitlab serve`` as a child process for the signal
test) and real HTTP clients: the stream answers the current ETag on connect and the new one
shortly after a rollback through the API, refuses a bad key and a full house in the one error
shape, and ends when the server stops, so SIGTERM stays prompt.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from splitlab.server.context import ServerContext
from splitlab.server.stream import install_log_redaction
from tests.server.serve_process import ServeProcess

from .browser_helpers import SseReader, served
from .server_helpers import small
from .test_error_shape import assert_error


def _running(url: str, admin: dict[str, str]) -> None:
    r = httpx.post(f"{url}/v1/experiments", json=small(status="running"), headers=admin)
    assert r.status_code == 201, r.text


def test_the_stream_names_the_etag_on_connect_and_again_after_a_rollback(
    ctx: ServerContext,
) -> None:
    """Connect (key in the query): the config event names /v1/config's ETag; a rollback
    through the API sends the new ETag to the open stream within seconds."""
    with served(ctx) as server:
        _running(server.url, server.admin)
        stream = SseReader(f"{server.url}/v1/config/stream?key={server.sdk_key}").start()
        assert stream.status == 200
        assert stream.response_headers is not None
        assert stream.response_headers["content-type"].startswith("text/event-stream")
        first = stream.next_config()
        config = httpx.get(f"{server.url}/v1/config", headers=server.sdk)
        assert first == {"etag": config.headers["etag"]}
        assert "retry: 3000" in stream.lines

        rolled = httpx.post(
            f"{server.url}/v1/experiments/exp-small/rollback",
            json={"reason": "errors up"},
            headers=server.admin,
        )
        assert rolled.status_code == 200, rolled.text
        second = stream.next_config(timeout=5)  # a deadline on waiting, not a timing claim
        after = httpx.get(f"{server.url}/v1/config", headers=server.sdk)
        assert second == {"etag": after.headers["etag"]}
        assert second != first
        assert '"rolled_back"' in after.text


def test_the_key_may_come_in_the_authorization_header(ctx: ServerContext) -> None:
    with served(ctx) as server:
        stream = SseReader(f"{server.url}/v1/config/stream", server.sdk).start()
        assert stream.status == 200
        assert stream.next_config()["etag"].startswith('"')


def test_no_key_or_a_bad_key_is_401_in_the_error_shape(ctx: ServerContext) -> None:
    with served(ctx) as server:
        for url in (
            f"{server.url}/v1/config/stream",
            f"{server.url}/v1/config/stream?key=sl_sdk_0123456789ab_{'A' * 43}",
        ):
            error = assert_error(httpx.get(url), 401)
            assert error["code"] == "unauthorized"
        wrong = httpx.post(f"{server.url}/v1/config/stream?key={server.sdk_key}")
        assert assert_error(wrong, 405)["code"] == "method_not_allowed"
        assert wrong.headers["allow"] == "GET"


def test_streams_past_the_bound_are_refused_503_with_retry_after(ctx: ServerContext) -> None:
    ctx.config_changes.max_streams = 2
    with served(ctx) as server:
        url = f"{server.url}/v1/config/stream?key={server.sdk_key}"
        open_ = [SseReader(url).start() for _ in range(2)]
        for stream in open_:
            stream.next_config()
        refused = httpx.get(url)
        error = assert_error(refused, 503)
        assert error["code"] == "too_many_streams"
        assert int(refused.headers["retry-after"]) > 0


def test_a_client_that_goes_away_frees_its_stream_slot(ctx: ServerContext) -> None:
    """Slots are bounded, so a closed connection must give its slot back."""
    ctx.config_changes.max_streams = 1
    with served(ctx) as server:
        url = f"{server.url}/v1/config/stream?key={server.sdk_key}"
        for _ in range(3):  # one slot, three streams one after the other
            with httpx.stream("GET", url, timeout=10) as response:
                assert response.status_code == 200
                assert next(response.iter_lines()).startswith("retry:")
            deadline = time.monotonic() + 5
            while ctx.config_changes.open_streams:
                assert time.monotonic() < deadline, "the slot was given back"
                time.sleep(0.02)


def test_stopping_the_server_ends_open_streams(ctx: ServerContext) -> None:
    """BackgroundServer.stop (uvicorn's shutdown) ends every open stream at once."""
    with served(ctx) as server:
        stream = SseReader(f"{server.url}/v1/config/stream?key={server.sdk_key}").start()
        stream.next_config()
    stream.wait_end(timeout=5)


def test_sigterm_with_an_open_stream_exits_promptly(tmp_path: Path) -> None:
    """`splitlab serve` with a stream open: SIGTERM ends the stream and the process exits
    within a few seconds (a deadline on waiting for it); the key is never in its log."""
    serve = ServeProcess(tmp_path / "stream.duckdb", "--log-level", "info").start()
    try:
        stream = SseReader(f"{serve.url}/v1/config/stream?key={serve.sdk_key}").start()
        stream.next_config()
        assert serve.process is not None
        serve.process.send_signal(signal.SIGTERM)
        try:
            code = serve.process.wait(timeout=4)
        except subprocess.TimeoutExpired:  # reported below, after the process is killed
            code = None
        stream.wait_end(timeout=5)
    finally:
        serve.stop(signal.SIGKILL)
    assert code == -signal.SIGTERM, "exited by SIGTERM within the deadline"
    assert serve.sdk_key not in serve.stderr
    assert serve.sdk_key.split("_")[-1] not in serve.stderr


def test_an_access_log_line_never_shows_the_key(caplog: pytest.LogCaptureFixture) -> None:
    """uvicorn's access log (off in splitlab serve, on for whoever turns it on) is redacted:
    its line holds the query string, and with it a stream's key."""
    install_log_redaction()
    access = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET",
                    "/v1/config/stream?key=sl_sdk_abc_SECRET&x=1", "1.1", 200)  # fmt: skip
    [record] = caplog.records
    assert "SECRET" not in record.getMessage()
    assert "key=<redacted>&x=1" in record.getMessage()
