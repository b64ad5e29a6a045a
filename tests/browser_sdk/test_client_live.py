"""Live changes reach an open page in real Chromium: a rollback through the API arrives by the
config stream within 5 s, and after the stream drops (the server stops and starts again) the
page keeps serving, reconnects and picks up the next change. Polling is set to 10 minutes
here, so only the stream can bring a change this fast."""

from __future__ import annotations

import pytest

from tests.browser_sdk.client_env import ClientPage, Serve, client_page, experiment, serve

pytestmark = pytest.mark.browser
__all__ = ["client_page", "serve"]  # fixtures used by name

#: Polling every 10 minutes: changes seen within seconds came by the stream.
LIVE = {"stream": True, "refreshIntervalMs": 600_000, "streamBackoffCapMs": 2_000,
        "flushIntervalMs": 600_000}  # fmt: skip


def treated_unit(page: ClientPage, experiment_id: str) -> str:
    """A unit the page assigns to ``treatment`` (the first of user-0, user-1, ...)."""
    for n in range(200):
        unit = f"user-{n}"
        if page.variant(experiment_id, unit)["variant"] == "treatment":
            return unit
    raise AssertionError("no unit in treatment among 200")


def queued(page: ClientPage) -> list[dict[str, object]]:
    """Every event the page holds in localStorage, not yet handed to the collector."""
    events: list[dict[str, object]] = page.evaluate(
        """() => Object.keys(localStorage).filter((k) => k.startsWith("splitlab:events:"))
                 .flatMap((k) => JSON.parse(localStorage.getItem(k)))"""
    )
    return events


def test_a_rollback_reaches_an_open_page_within_5_s(serve: Serve, client_page: ClientPage) -> None:
    """Rolled back through the API: the page serves control (reason rolled_back) within 5 s; the
    unit's exposure before it carried treatment, its events after it carry no treatment."""
    serve.register(experiment("exp-live"))
    client_page.start(serve.url, serve.sdk_key, **LIVE)
    client_page.wait_for(lambda: client_page.status()["streamOpen"], "the stream opens")
    unit = treated_unit(client_page, "exp-live")
    before = [e for e in queued(client_page) if e["unitId"] == unit]
    assert [(e["type"], e["variant"]) for e in before] == [("exposure", "treatment")]

    serve.rollback("exp-live")
    client_page.wait_for(
        lambda: client_page.variant("exp-live", unit)["reason"] == "rolled_back",
        "the rollback reaches the page",
    )
    after = client_page.variant("exp-live", unit)
    assert (after["variant"], after["source"]) == ("control", "config")
    fresh = client_page.variant("exp-live", "someone-new")
    assert (fresh["variant"], fresh["inExperiment"]) == ("control", False)
    # a rolled-back answer is not an exposure (as in the Python SDK): nothing new was queued
    exposures = [e for e in queued(client_page) if e["type"] == "exposure"]
    assert {(e["unitId"], e["variant"]) for e in exposures if e["unitId"] == unit} == {
        (unit, "treatment")
    }
    assert all(e["unitId"] != "someone-new" for e in exposures)
    assert client_page.reported() == []
    assert client_page.errors == []


def test_the_stream_drops_and_comes_back(serve: Serve, client_page: ClientPage) -> None:
    """The server stops (the stream drops) and starts again: the page serves the same answers
    meanwhile without an error, reopens the stream and then gets a rollback by it."""
    serve.register(experiment("exp-drop"))
    client_page.start(serve.url, serve.sdk_key, **LIVE)
    client_page.wait_for(lambda: client_page.status()["streamOpen"], "the stream opens")
    unit = treated_unit(client_page, "exp-drop")

    serve.stop()
    client_page.wait_for(lambda: not client_page.status()["streamOpen"], "the stream drops")
    during = client_page.variant("exp-drop", unit)
    assert (during["variant"], during["reason"], during["source"]) == (
        "treatment", "assigned", "config",
    )  # fmt: skip

    serve.start()
    client_page.wait_for(lambda: client_page.status()["streamOpen"], "the stream reopens", 15)
    serve.rollback("exp-drop")
    client_page.wait_for(
        lambda: client_page.variant("exp-drop", unit)["reason"] == "rolled_back",
        "the rollback reaches the page after the reconnection",
    )
    assert client_page.errors == []
