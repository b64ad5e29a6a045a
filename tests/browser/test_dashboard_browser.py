"""The dashboard in a real headless Chromium: no console errors, charts drawn, changes applied."""

from __future__ import annotations

import httpx
import pytest

from splitlab.demo.setup import DemoResult
from splitlab.server.run import BackgroundServer

from .conftest import Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EXPERIMENTS = (
    "exp-checkout-flow-v3",
    "exp-search-ranking-v2",
    "exp-homepage-copy-aa",
    "exp-pricing-annual-plan",
    "exp-dispatch-batching",
    "exp-orders-db-migration",
    "exp-onboarding-bandit",
    "holdout-growth-2026",
    "exp-welcome-offer",
)


def test_every_page_loads_without_console_errors(page: Page, server: BackgroundServer) -> None:
    """The list and each experiment page load with no console error and no failed request."""
    assert page.page.locator("#experiments tbody tr").count() == len(EXPERIMENTS)
    for experiment_id in EXPERIMENTS:
        page.page.goto(f"{server.url}/experiments/{experiment_id}")
        page.page.wait_for_selector("#audit")
    assert page.problems == []


def test_the_charts_render_with_data(page: Page, server: BackgroundServer) -> None:
    """The SVG charts are laid out with a real size and carry their data points."""
    page.page.goto(f"{server.url}/experiments/exp-checkout-flow-v3")
    lines = page.page.locator("#exposures svg polyline[data-series]")
    assert lines.count() == 3
    sizes = page.page.eval_on_selector_all(
        "svg.chart polyline[data-series], svg.chart g.interval",
        "els => els.map(e => { const b = e.getBBox(); return [b.width, b.height]; })",
    )
    assert len(sizes) >= 3 + 8
    assert all(width > 0 for width, _ in sizes)
    points = page.page.eval_on_selector_all(
        "#exposures polyline[data-series]", "els => els.map(e => e.points.numberOfItems)"
    )
    assert min(points) >= 6
    assert page.page.locator("#primary circle[data-z]").count() == 10
    assert page.page.locator("#primary polyline.boundary").count() == 4
    tooltip = page.page.locator("#metrics g.interval title").first.text_content()
    assert tooltip and "effect" in tooltip
    assert page.problems == []


def test_a_status_change_in_the_page_is_reflected_by_the_api(
    page: Page, server: BackgroundServer, demo: DemoResult
) -> None:
    """Pausing in the page (reason typed, confirm accepted) shows up in GET /v1/experiments."""
    page.page.on("dialog", lambda dialog: dialog.accept())
    page.page.goto(f"{server.url}/experiments/exp-checkout-flow-v3")
    page.page.fill("#status-reason", "pausing from the browser test")
    page.page.click("#status-form button[value=paused]")
    page.page.wait_for_selector(".flash.ok")
    assert page.page.locator("#status").text_content() == "paused"
    headers = {"Authorization": f"Bearer {demo.admin_key}"}
    with httpx.Client(base_url=server.url, headers=headers) as api:
        experiment = api.get("/v1/experiments/exp-checkout-flow-v3").json()
        audit = api.get("/v1/experiments/exp-checkout-flow-v3/audit").json()["changes"]
        assert experiment["status"] == "paused"
        assert audit[-1]["reason"] == "pausing from the browser test"
        assert audit[-1]["by"].endswith("(dashboard)")
        assignment = api.post(
            "/v1/assign", json={"unitId": "u-1", "experimentId": "exp-checkout-flow-v3"}
        ).json()["assignments"][0]
        assert assignment["reason"] == "not_running"
    assert page.problems == []


def test_a_missing_reason_blocks_the_form(page: Page, server: BackgroundServer) -> None:
    """Without a reason the browser does not submit the form: the status stays as it was."""
    page.page.goto(f"{server.url}/experiments/exp-checkout-flow-v3")
    before = page.page.locator("#status").text_content()
    page.page.click("#status-form button[value=stopped]")
    assert page.page.locator(".flash").count() == 0
    page.page.reload()
    assert page.page.locator("#status").text_content() == before


def test_finished_experiments_offer_no_changes(page: Page, server: BackgroundServer) -> None:
    """A rolled-back or stopped experiment shows no status buttons and no toggle."""
    for experiment_id in ("exp-search-ranking-v2", "exp-homepage-copy-aa"):
        page.page.goto(f"{server.url}/experiments/{experiment_id}")
        assert page.page.locator("#status-form").count() == 0
        assert page.page.locator("#toggle-form").count() == 0
    assert page.problems == []
