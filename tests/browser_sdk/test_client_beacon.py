"""Events leave a page that goes away, exactly once, in real Chromium against `splitlab serve`.

The page's queue is sent by navigator.sendBeacon when the page becomes hidden (visibilitychange
with document.visibilityState hidden) and when it is closed (pagehide); a queue kept in
localStorage by a page that could not send it is resent by the next page load. The events are
read back from the server's DuckDB file: every id the page created is there once.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.browser_sdk.client_env import ClientPage, Serve, client_page, experiment, serve

pytestmark = pytest.mark.browser
__all__ = ["client_page", "serve"]  # fixtures used by name

#: No timer flush: only the page's lifecycle (or a next load) sends the events.
QUIET = {"stream": False, "flushIntervalMs": 600_000, "maxBatch": 1000}
UNITS = [f"user-{n}" for n in range(30)]


def accepted(serve: Serve) -> int:
    """The server's count of events acknowledged as durable (GET /metrics)."""
    text = httpx.get(f"{serve.url}/metrics", timeout=5).text
    found = re.search(r"^splitlab_events_accepted_total (\d+)", text, re.MULTILINE)
    return int(found.group(1)) if found else 0


def queued_ids(page: ClientPage) -> list[str]:
    ids: list[str] = page.evaluate(
        """() => Object.keys(localStorage).filter((k) => k.startsWith("splitlab:events:"))
                 .flatMap((k) => JSON.parse(localStorage.getItem(k)).map((e) => e.eventId))"""
    )
    return ids


def expose_and_convert(page: ClientPage, units: list[str]) -> None:
    page.evaluate(
        """(units) => { for (const u of units) {
               window.client.getVariant("exp-beacon", { unitId: u });
               window.client.track("conversion", 1, { unitId: u });
           } }""",
        units,
    )


def hide(page: ClientPage) -> None:
    """The page goes to the background, as a tab switch or a phone's lock does."""
    page.evaluate(
        """() => {
            Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
            document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )


def stored(serve: Serve) -> Counter[str]:
    rows: list[dict[str, Any]] = serve.events("exposures") + serve.events("metric_events")
    return Counter(row["event_id"] for row in rows)


def test_hidden_and_closed_pages_send_their_events_exactly_once(
    serve: Serve, client_page: ClientPage, chromium: Any
) -> None:
    """Hidden: the queue goes by beacon at once; closed: what was queued since goes too. The
    collector holds each of the page's event ids once, exposures and conversions alike."""
    serve.register(experiment("exp-beacon"))
    client_page.start(serve.url, serve.sdk_key, **QUIET)
    expose_and_convert(client_page, UNITS[:20])
    first = queued_ids(client_page)
    assert len(first) == 40, "an exposure and a conversion per unit"
    hide(client_page)
    status = client_page.status()
    assert (status["pendingEvents"], status["handedToBeacon"]) == (0, 40)
    assert queued_ids(client_page) == [], "handed over: no longer kept for a next load"

    expose_and_convert(client_page, UNITS[20:])
    second = queued_ids(client_page)
    assert len(second) == 20
    client_page.page.close(run_before_unload=True)  # pagehide: the rest goes by beacon

    client_page.wait_for(lambda: accepted(serve) >= 60, "60 events acknowledged", timeout=10)
    serve.stop()
    counts = stored(serve)
    assert set(counts) == set(first) | set(second)
    assert set(counts.values()) == {1}
    assert client_page.errors == []


def test_a_queue_left_in_storage_is_sent_by_the_next_load_once(
    serve: Serve, client_page: ClientPage
) -> None:
    """A page that cannot beacon (disabled here) leaves its queue in localStorage; the next
    load sends it with the same ids and records no exposure again for the same units (the
    tab's sessionStorage); sending the events twice still stores each once."""
    serve.register(experiment("exp-beacon"))
    client_page.start(serve.url, serve.sdk_key, beacon=False, **QUIET)
    expose_and_convert(client_page, UNITS[:10])
    kept = queued_ids(client_page)
    assert len(kept) == 20

    client_page.page.reload()
    client_page.start(serve.url, serve.sdk_key, **QUIET)
    assert sorted(queued_ids(client_page)) == sorted(kept), "adopted with the same ids"
    # the same units again in this tab: their exposures were recorded by the first load
    client_page.evaluate(
        """(units) => units.forEach((u) => window.client.getVariant("exp-beacon", { unitId: u }))""",
        UNITS[:10],
    )
    assert sorted(queued_ids(client_page)) == sorted(kept), "no exposure recorded twice"
    events = client_page.evaluate(
        """() => Object.keys(localStorage).filter((k) => k.startsWith("splitlab:events:"))
                 .flatMap((k) => JSON.parse(localStorage.getItem(k)))"""
    )
    client_page.evaluate("() => window.client.flush()")
    assert queued_ids(client_page) == []
    # the same events once more, as a retry whose answer was lost would: stored once
    again = client_page.evaluate(
        """async ([url, key, events]) => {
            const r = await fetch(url + "/v1/events", { method: "POST", body: JSON.stringify(events),
                headers: { Authorization: "Bearer " + key, "Content-Type": "application/json" } });
            return await r.json();
        }""",
        [serve.url, serve.sdk_key, events],
    )
    assert (again["accepted"], again["duplicates"]) == (0, 20)
    client_page.wait_for(lambda: accepted(serve) >= 20, "20 events acknowledged", timeout=10)
    serve.stop()
    counts = stored(serve)
    assert set(counts) == set(kept)
    assert set(counts.values()) == {1}
    assert client_page.errors == []
