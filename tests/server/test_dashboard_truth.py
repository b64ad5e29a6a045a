"""The dashboard says what the engine knows: serving state, progress, past looks, Bayesian.

Each test runs the whole server in-process over a fresh DuckDB store (``api`` fixture): the
experiment is registered, changed and looked at through the HTTP API, and the pages are read
with a signed-in session on the same client.
"""

from __future__ import annotations

import html as htmllib
import re
from typing import Any

import pytest
from scipy import integrate, stats

from splitlab.tracking.events import Event

from .server_helpers import Api, small

EID = "exp-truth"
T0 = 1_780_000_000_000
DAY = 86_400_000


def _sign_in(api: Api) -> None:
    r = api.client.post("/login", data={"key": api.admin_key, "next": "/"},
                        follow_redirects=False)  # fmt: skip
    assert r.status_code == 303


def _register(api: Api, **overrides: Any) -> None:
    r = api.client.post(
        "/v1/experiments", json=small(EID, status="running", **overrides), headers=api.admin
    )
    assert r.status_code == 201, r.text
    _sign_in(api)


def _text(markup: str) -> str:
    """The page's visible text, tags removed and whitespace collapsed."""
    without = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", markup, flags=re.S)
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", without)))


def _surfaces(api: Api) -> dict[str, Any]:
    """What the list row, the page, /v1/assign and /v1/config each say the unit gets."""
    listing = api.client.get("/").text
    row = re.search(rf'<tr data-experiment="{EID}">(.*?)</tr>', listing, re.S)
    assert row is not None
    page = api.client.get(f"/experiments/{EID}").text
    served = re.search(r'id="serving">(.*?)</p>', page, re.S)
    assert served is not None
    assignment = api.client.post(
        "/v1/assign", json={"unitId": "u-1", "experimentId": EID}, headers=api.sdk
    ).json()["assignments"][0]
    config = api.client.get("/v1/config", headers=api.sdk).json()
    wire = next(e for e in config["experiments"] if e["experimentId"] == EID)
    return {
        "list": _text(row.group(1)),
        "page": _text(served.group(1)),
        "alerts": re.findall(r'<span class="alert">([^<]*)</span>', page),
        "assign": (assignment["variant"], assignment["reason"]),
        "forced": wire["forcedVariant"],
    }


def _toggle(api: Api, variant: str | None) -> None:
    r = api.client.post(f"/v1/experiments/{EID}/toggle", headers=api.admin,
                        json={"variant": variant, "reason": "incident"})  # fmt: skip
    assert r.status_code == 200, r.text


def _status(api: Api, status: str, variant: str | None = None) -> None:
    body = {"status": status, "reason": "decided", **({"variant": variant} if variant else {})}
    r = api.client.post(f"/v1/experiments/{EID}/status", headers=api.admin, json=body)
    assert r.status_code == 200, r.text


def _rollback(api: Api) -> None:
    r = api.client.post(f"/v1/experiments/{EID}/rollback", headers=api.admin,
                        json={"reason": "harm"})  # fmt: skip
    assert r.status_code == 200, r.text


SEQUENCES = {
    "toggle-then-ship": (
        lambda api: (_toggle(api, "control"), _status(api, "shipped", "treatment")),
        "shipped: everyone gets treatment", ("treatment", "shipped"),
    ),
    "toggle-then-rollback": (
        lambda api: (_toggle(api, "treatment"), _rollback(api)),
        "rolled back: everyone gets control", ("control", "rolled_back"),
    ),
    "ship": (
        lambda api: _status(api, "shipped", "treatment"),
        "shipped: everyone gets treatment", ("treatment", "shipped"),
    ),
    "toggle-then-untoggle": (
        lambda api: (_toggle(api, "control"), _toggle(api, None)),
        "running: eligible units are split control 50%, treatment 50%", (None, "assigned"),
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_list_page_assign_and_config_agree_on_what_a_unit_gets(api: Api, name: str) -> None:
    """After each sequence of toggles and status changes, all four surfaces tell one story."""
    _register(api)
    apply, words, (variant, reason) = SEQUENCES[name]
    apply(api)
    seen = _surfaces(api)
    assert words in seen["list"]
    assert words in seen["page"]
    assert "toggled" not in seen["list"]
    assert not any("toggled" in a for a in seen["alerts"])
    assert seen["forced"] is None
    assert seen["assign"][1] == reason
    if variant is not None:
        assert seen["assign"][0] == variant


def test_an_active_toggle_is_shown_everywhere(api: Api) -> None:
    """While a toggle is on, the list, the page, /v1/assign and /v1/config all name it."""
    _register(api)
    _toggle(api, "control")
    seen = _surfaces(api)
    assert "toggled: everyone gets control" in seen["list"]
    assert "toggled: everyone gets control" in seen["page"]
    assert seen["alerts"] == ["toggled: everyone gets control"]
    assert seen["assign"] == ("control", "toggled")
    assert seen["forced"] == "control"


def test_a_final_status_records_the_toggle_it_cleared(api: Api) -> None:
    """Shipping over a toggle clears it in the same audited change, naming the cleared toggle."""
    _register(api)
    _toggle(api, "control")
    _status(api, "shipped", "treatment")
    changes = api.client.get(f"/v1/experiments/{EID}/audit", headers=api.admin).json()["changes"]
    assert changes[-1]["to"] == "shipped"
    assert changes[-1]["details"]["toggleCleared"] == "control"
    assert api.ctx.registry.get(EID).forced_variant is None


def _exposures(per_day: dict[str, int], days: int) -> list[Event]:
    """Units first exposed at the same moment of each day (day 0 .. days-1)."""
    events = []
    for day in range(days):
        for variant, count in per_day.items():
            for i in range(count):
                unit = f"{variant}-{day}-{i}"
                events.append(Event(f"x-{unit}", "exposure", EID, variant, unit, T0 + day * DAY))
    return events


def test_progress_shows_units_looks_and_days_left_at_the_current_rate(api: Api) -> None:
    """Units so far against minSampleSize, looks of maxPeeks, and days left from the rate."""
    _register(api)
    # control 10 a day, treatment 5 a day over days 0..7: 80 and 40 units of the planned 100.
    # The rate window is the last 7 days (days 1..7 after day 0's moment): 10 and 5 a day, so
    # treatment needs (100 - 40) / 5 = 12 more days and control (100 - 80) / 10 = 2.
    api.ctx.store.ingest(_exposures({"control": 10, "treatment": 5}, 8))
    page = api.client.get(f"/experiments/{EID}").text
    section = _text(page[page.index('id="progress"') : page.index('id="admin"')])
    assert "control 80 100 80%" in section
    assert "treatment 40 100 40%" in section
    assert "0 of 2 planned looks taken" in section
    assert "Days left: about 12 days left" in section
    row = re.search(rf'<tr data-experiment="{EID}">(.*?)</tr>', api.client.get("/").text, re.S)
    assert row is not None
    assert "40 / 100 units (smallest arm) · look 0 of 2 · about 12 days left" in _text(row[1])


def test_days_left_are_unknown_without_a_rate(api: Api) -> None:
    """With no exposures, or all at one moment, there is no rate: days left are "unknown"."""
    _register(api)
    assert "unknown (no exposure rate yet)" in api.client.get(f"/experiments/{EID}").text
    api.ctx.store.ingest(_exposures({"control": 3, "treatment": 3}, 1))
    page = _text(api.client.get(f"/experiments/{EID}").text)
    assert "control 3 100 3%" in page
    assert "unknown (no exposure rate yet)" in page


def test_unknown_experiment_and_look_pages_are_html_404s(api: Api) -> None:
    """A missing experiment or look gives the dashboard's HTML 404 page, not API JSON."""
    _register(api)
    for path, words in (
        ("/experiments/exp-nope", "There is no experiment 'exp-nope'."),
        (f"/experiments/{EID}/looks/7", f"Experiment '{EID}' has no look '7'."),
        (f"/experiments/{EID}/looks/x", f"Experiment '{EID}' has no look 'x'."),
        ("/experiments/exp-nope/looks/1", "There is no experiment 'exp-nope'."),
    ):
        r = api.client.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("text/html")
        assert words in _text(r.text)
        assert 'href="/"' in r.text


def _conversions(counts: dict[str, tuple[int, int]]) -> list[Event]:
    """`units` exposed per variant on day 0, the first `converted` of them convert on day 1."""
    events = []
    for variant, (units, converted) in counts.items():
        for i in range(units):
            unit = f"{variant}-{i}"
            events.append(Event(f"x-{unit}", "exposure", EID, variant, unit, T0 + i))
            if i < converted:
                events.append(Event(f"m-{unit}", "metric", EID, variant, unit, T0 + DAY + i,
                                    "checkout", 1.0))  # fmt: skip
    return events


def test_a_bayesian_plan_shows_the_chance_to_beat_control(api: Api) -> None:
    """A Bayesian look's page shows each variant's chance to beat control, as the look has it."""
    _register(api, evaluation={"maxPeeks": 2, "minSampleSize": 100, "method": "bayesian"})
    api.ctx.store.ingest(_conversions({"control": (200, 20), "treatment": (200, 40)}))
    api.ctx.store.flush()
    r = api.client.post(f"/v1/experiments/{EID}/evaluate", headers=api.admin,
                        json={"cutoff": "2026-06-30T00:00:00Z"})  # fmt: skip
    assert r.status_code in (200, 201), r.text
    # Independent reference: P(p_t > p_c) for the uniform-prior posteriors Beta(41, 161) and
    # Beta(21, 181), by numerical integration of pdf_t(x) * cdf_c(x) (scipy.integrate.quad).
    reference, _ = integrate.quad(
        lambda x: stats.beta.pdf(x, 41, 161) * stats.beta.cdf(x, 21, 181), 0, 1
    )
    seq = api.ctx.registry.looks(EID)[-1].seq
    for path in (f"/experiments/{EID}", f"/experiments/{EID}/looks/{seq}"):
        page = api.client.get(path).text
        assert 'id="chance-header"' in page
        row = re.search(r'data-metric="checkout" data-variant="treatment">(.*?)</tr>', page, re.S)
        assert row is not None
        chance = re.search(r'class="num chance">([0-9.]+)%', row.group(1))
        assert chance is not None
        assert float(chance.group(1)) == pytest.approx(reference * 100, abs=0.05)
