"""The retention and Kaplan-Meier curves on the experiment page, in Debian's Chromium against a
real ``splitlab serve`` child process.

The store holds the demo's welcome-offer experiment (a time-to-first-order metric with a
72-hour horizon and a day-7 return metric) with ten days of simulated traffic and one look at
the end, taken through the real store and engine before the server starts (its scheduler off,
so that look stays the latest). The page must draw
one curve per arm in each chart, with points that make sense (a Kaplan-Meier curve starts at
100 % at hour 0, never rises and stays within the horizon; retention rates are shares), and
show the eligible counts and the RMST of the look in text: the very numbers the API's results
document (``GET /v1/experiments/{id}/results``) gives in its ``curves`` block.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from splitlab.config import Status, load_experiment
from splitlab.demo.lifetimes import WELCOME, welcome_events
from splitlab.demo.traffic import visitors
from splitlab.evaluation import run_look
from splitlab.evaluation.lifecycle import change_status
from splitlab.evaluation.look_view import results_view
from splitlab.server.context import ServerContext
from splitlab.store import DuckDBStore
from tests.chromium import launched_chromium
from tests.server.serve_process import ServeProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAYS = 10
END = START + timedelta(days=DAYS)


def _build(db: Path) -> dict[str, Any]:
    """The experiment, its traffic and one look; the look's JSON view."""
    text = resources.files("splitlab.demo").joinpath(f"{WELCOME}.json").read_text()
    definition = json.loads(text) | {"trafficAllocation": 1.0, "status": "draft"}
    store = DuckDBStore(db)
    try:
        ctx = ServerContext.open(store)
        ctx.registry.create(load_experiment(definition), at=START - timedelta(hours=1))
        change_status(ctx.registry, WELCOME, Status.RUNNING, by="test", reason="test", now=START)
        ctx.refresh()
        rng = np.random.default_rng(14)
        for day in range(DAYS):
            people = visitors(day, 400, int((START + timedelta(days=day)).timestamp() * 1000), rng)
            store.ingest(welcome_events(people, ctx.view.service, int(END.timestamp() * 1000), rng))
        record = run_look(store, ctx.registry, WELCOME, cutoff=END, now=END + timedelta(minutes=1))
        return results_view(record)
    finally:
        store.close()


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServeProcess, dict[str, Any]]]:
    db = tmp_path_factory.mktemp("curves") / "curves.duckdb"
    view = _build(db)
    server = ServeProcess(db, "--no-scheduler").start()
    try:
        answer = httpx.get(f"{server.url}/v1/experiments/{WELCOME}/results", headers=server.admin)
        assert answer.status_code == 200, answer.text
        served = answer.json()
        assert served["curves"] == view["curves"]  # the API re-renders the recorded look
        yield server, served
    finally:
        server.stop()


@pytest.fixture(scope="module")
def page(served: tuple[ServeProcess, dict[str, Any]]) -> Iterator[Any]:
    server, _ = served
    with launched_chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.goto(f"{server.url}/")
        page.fill("#key", server.admin_key)
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("#experiments")
        page.goto(f"{server.url}/experiments/{WELCOME}")
        page.wait_for_selector("#curves")
        yield page
        assert problems == []
        context.close()


def _xy(text: str) -> list[tuple[float, float]]:
    return [(float(a), float(b)) for a, b in (pair.split(",") for pair in text.split())]


def test_the_km_chart_draws_one_step_curve_per_arm(
    page: Any, served: tuple[ServeProcess, dict[str, Any]]
) -> None:
    _, view = served
    panel = page.locator('.curve-panel[data-metric="time_to_first_order"]')
    paths = panel.locator("svg path.km")
    assert paths.count() == 2
    arms = {paths.nth(i).get_attribute("data-series"): paths.nth(i) for i in range(2)}
    assert set(arms) == {"control", "voucher"}
    expected = {a["variant"]: a for a in view["curves"]["time_to_first_order"]["arms"]}
    for name, path in arms.items():
        points = _xy(path.get_attribute("data-xy"))
        assert points[0] == (0.0, 1.0)
        assert all(0.0 <= t <= 72.0 and 0.0 <= s <= 1.0 for t, s in points)
        assert all(b[0] >= a[0] and b[1] <= a[1] for a, b in itertools.pairwise(points))
        assert points == list(zip(expected[name]["curve"]["hours"],
                                  expected[name]["curve"]["survival"], strict=True))  # fmt: skip
        # The path is a real line on the page (not an empty or zero-sized mark).
        box = path.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 20
        assert path.get_attribute("d").startswith("M")
    # The voucher brings orders forward: its curve ends lower (fewer still without an order).
    end = {n: _xy(p.get_attribute("data-xy"))[-1][1] for n, p in arms.items()}
    assert end["voucher"] < end["control"]
    texts = panel.locator(".x-title, .y-title").all_text_contents()
    assert texts == ["Hours since first exposure", "Without the event"]
    assert panel.locator("svg .legend").count() == 2


def test_the_rmst_per_arm_and_the_difference_are_in_the_text(
    page: Any, served: tuple[ServeProcess, dict[str, Any]]
) -> None:
    _, view = served
    panel = page.locator('.curve-panel[data-metric="time_to_first_order"]')
    for arm in view["curves"]["time_to_first_order"]["arms"]:
        line = panel.locator(f'.rmst li[data-variant="{arm["variant"]}"]').inner_text()
        assert f"{arm['rmstHours']:,.1f} h" in line
        assert f"of {arm['units']:,} units" in line
    (difference,) = view["curves"]["time_to_first_order"]["differences"]
    shown = panel.locator('.difference[data-variant="voucher"]').inner_text()
    assert shown.startswith("voucher against control:")
    diff = difference["differenceHours"]
    if difference["estimable"] and diff["estimate"] is not None:
        assert f"{diff['estimate']:+,.1f} h" in shown


def test_the_retention_chart_draws_one_line_per_arm_with_the_eligible_counts(
    page: Any, served: tuple[ServeProcess, dict[str, Any]]
) -> None:
    _, view = served
    panel = page.locator('.curve-panel[data-metric="day7_return"]')
    lines = panel.locator("svg polyline.retention")
    assert lines.count() == 2
    block = view["curves"]["day7_return"]
    for i in range(2):
        line = lines.nth(i)
        name = line.get_attribute("data-series")
        arm = next(a for a in block["arms"] if a["variant"] == name)
        points = _xy(line.get_attribute("data-xy"))
        curve = arm["curve"]
        assert points == [(float(d), r) for d, r in zip(curve["days"], curve["rate"], strict=True)
                          if r is not None]  # fmt: skip
        assert all(0.0 <= r <= 1.0 for _, r in points)
        assert {d for d, _ in points} >= {0.0, 7.0}  # ten days of traffic reach day 7
        assert line.bounding_box()["width"] > 300
        text = panel.locator(f'.eligible li[data-variant="{name}"]').inner_text()
        assert arm["text"] in text
        assert 0 < arm["eligible"] < arm["units"]  # some units are still in their window
    assert panel.locator(".x-title").text_content() == "Days after first exposure"
