"""The client in real Chromium when the server is gone or misbehaves: the cached config, then
the page's control (reason ``fallback``), always within the timeout and never a page error."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser_sdk.client_env import (
    ClientPage,
    Misbehaving,
    Serve,
    client_page,
    experiment,
    serve,
)

pytestmark = pytest.mark.browser
__all__ = ["client_page", "serve"]  # fixtures used by name

UNITS = [f"user-{n}" for n in range(40)]
EXPERIMENTS = ["exp-hero", "exp-price"]
DEFAULTS = {"exp-hero": "control", "exp-price": "control"}
TIMEOUT_MS = 800


def variants(page: ClientPage) -> list[list[Any]]:
    """[unit, experiment, variant, reason, source] of every unit in every experiment."""
    result: list[list[Any]] = page.evaluate(
        """([units, experiments]) => units.flatMap((u) => experiments.map((e) => {
            const a = window.client.getVariant(e, { unitId: u, track: false });
            return [u, e, a.variant, a.reason, a.source];
        }))""",
        [UNITS, EXPERIMENTS],
    )
    return result


def ready_before_deadline(page: ClientPage, url: str, sdk_key: str) -> dict[str, Any]:
    """Start a client and wait for ready() against a deadline of the timeout plus 2 s (a
    bound on the wait, so a hang fails the test); the status it resolved with."""
    result: dict[str, Any] = page.evaluate(
        """async ([module, url, sdkKey, timeoutMs, defaults]) => {
            const m = await import(module);
            window.reported = [];
            const onError = (error, where) => window.reported.push(`${where}: ${error.message}`);
            window.client = m.createClient({ url, sdkKey, onError, timeoutMs, defaults, stream: true });
            const late = new Promise((resolve) => setTimeout(() => resolve("deadline"), timeoutMs + 2000));
            const first = await Promise.race([window.client.ready(), late]);
            return first === "deadline" ? { deadline: true } : first;
        }""",
        [f"{page.base}/sdk/js/src/main.js", url, sdk_key, TIMEOUT_MS, DEFAULTS],
    )
    assert result.get("deadline") is not True, "ready() did not resolve"
    return result


def register(serve: Serve) -> None:
    for eid in EXPERIMENTS:
        serve.register(experiment(eid, variants=("control", "a", "b")))


def test_reload_with_the_server_stopped_serves_the_cached_config(
    serve: Serve, client_page: ClientPage
) -> None:
    """Loaded with the server up, reloaded with it stopped: the same variants, from the cache."""
    register(serve)
    assert ready_before_deadline(client_page, serve.url, serve.sdk_key)["source"] == "config"
    online = variants(client_page)
    assert {row[4] for row in online} == {"config"}
    assert len({row[2] for row in online}) == 3, "the units are spread over the variants"

    serve.stop()
    client_page.page.reload()
    status = ready_before_deadline(client_page, serve.url, serve.sdk_key)
    assert status["source"] == "cache"
    offline = variants(client_page)
    assert [row[:4] for row in offline] == [row[:4] for row in online]
    assert {row[4] for row in offline} == {"cache"}
    assert any(r.startswith("config: ") for r in client_page.reported())
    assert client_page.errors == []


def test_a_cold_start_without_server_serves_control_as_fallback(
    serve: Serve, client_page: ClientPage, chromium: Any
) -> None:
    """No cache and no server, refusing connections or accepting them and never answering:
    ready() resolves within the timeout and every unit gets the page's control, reason
    fallback."""
    register(serve)
    serve.stop()
    for down in ("stopped", "silent"):
        context = chromium.new_context()  # a fresh profile: nothing cached
        try:
            page = ClientPage(context.new_page(), client_page.base).open()
            if down == "stopped":
                status = ready_before_deadline(page, serve.url, serve.sdk_key)
            else:
                with Misbehaving(serve.port, "silent"):
                    status = ready_before_deadline(page, serve.url, serve.sdk_key)
            assert status["source"] == "fallback", down
            rows = variants(page)
            assert {(row[2], row[3], row[4]) for row in rows} == {
                ("control", "fallback", "fallback")
            }
            unknown = page.variant("exp-unknown", "user-1")
            assert (unknown["variant"], unknown["reason"]) == (None, "fallback")
            assert page.errors == []
        finally:
            context.close()


def test_a_misbehaving_server_leaves_the_cache_or_the_fallback(
    serve: Serve, client_page: ClientPage, chromium: Any
) -> None:
    """A server answering 500, a body that is not JSON, or JSON that is not a config: a page
    with a cache keeps serving it; a fresh page serves control; neither sees an error."""
    register(serve)
    ready_before_deadline(client_page, serve.url, serve.sdk_key)
    online = variants(client_page)
    serve.stop()
    for mode in ("500", "garbage", "shape"):
        with Misbehaving(serve.port, mode) as bad:
            client_page.page.reload()
            status = ready_before_deadline(client_page, serve.url, serve.sdk_key)
            assert status["source"] == "cache", mode
            assert [row[:4] for row in variants(client_page)] == [row[:4] for row in online]
            assert (
                client_page.evaluate("() => window.client.track('conversion', 1, {unitId: 'x'})")
                == 0
            )
            flushed = client_page.evaluate("() => window.client.flush().then(() => 'flushed')")
            assert flushed == "flushed"

            context = chromium.new_context()
            try:
                fresh = ClientPage(context.new_page(), client_page.base).open()
                status = ready_before_deadline(fresh, serve.url, serve.sdk_key)
                assert status["source"] == "fallback", mode
                rows = variants(fresh)
                assert {(row[2], row[3]) for row in rows} == {("control", "fallback")}
                assert any(r.startswith("config: ") for r in fresh.reported())
                assert fresh.errors == []
            finally:
                context.close()
            assert any(r.startswith("GET /v1/config") for r in bad.requests)
    assert client_page.errors == []
