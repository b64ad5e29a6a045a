"""The cluster and switchback panels in a real headless Chromium, over the demo's own data.

The numbers on the page are compared with the latest look recorded in the ledger (clusters and
analysis units per arm) and with the store's exposures (which variant each region had in each
hour), so the panels are checked against data the page did not compute itself.
"""

from __future__ import annotations

from typing import Any

import pytest

from splitlab.demo.setup import DemoResult
from splitlab.server.run import BackgroundServer

from .conftest import Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PRICING = "exp-pricing-annual-plan"
DISPATCH = "exp-dispatch-batching"


def _latest_design(demo: DemoResult, experiment_id: str) -> dict[str, Any]:
    looks = demo.ctx.registry.looks(experiment_id, include_peeks=False)
    design: dict[str, Any] = looks[-1].to_dict()["results"]["design"]
    return design


def test_the_list_names_each_design(page: Page) -> None:
    """The experiments list has a design column with the two new designs."""
    cells = {
        str(row.get_attribute("data-experiment")): row.locator("td.design").inner_text()
        for row in page.page.locator("#experiments tbody tr").all()
    }
    assert cells[PRICING] == "cluster: accountId → userId"
    assert cells[DISPATCH] == "switchback: region, 1 h"
    assert cells["exp-checkout-flow-v3"] == "classic"
    assert page.problems == []


def test_the_cluster_panel_shows_the_recorded_clusters(
    page: Page, server: BackgroundServer, demo: DemoResult
) -> None:
    """Randomisation and analysis units, and per arm the clusters and users the latest look
    recorded, visible in the page with the correction named."""
    page.page.goto(f"{server.url}/experiments/{PRICING}")
    panel = page.page.locator("#design")
    assert panel.is_visible()
    assert panel.get_attribute("data-design") == "cluster"
    assert "accountId" in page.page.locator("#design-cluster-key").inner_text()
    assert "userId" in page.page.locator("#design-analysis-unit").inner_text()
    assert page.page.locator("#design-correction").inner_text().startswith("CR1")
    recorded = _latest_design(demo, PRICING)
    for variant in ("control", "annual-discount"):
        row = page.page.locator(f'#design-arms tr[data-variant="{variant}"]')
        clusters = int(row.locator("td.clusters").inner_text().replace(",", ""))
        users = int(row.locator("td.units").inner_text().replace(",", ""))
        assert clusters == recorded["clusters"][variant] > 0
        assert users == recorded["analysisUnits"][variant] > clusters
    assert page.problems == []


def test_the_switchback_panel_and_its_cells_chart(
    page: Page, server: BackgroundServer, demo: DemoResult
) -> None:
    """Unit, period and burn-in are shown; the chart has one row per region, is laid out
    with a real size, its cells add up to the latest look's cells per arm, and each cell's
    variant is the variant of the orders the store holds for that region and hour."""
    page.page.goto(f"{server.url}/experiments/{DISPATCH}")
    assert page.page.locator("#design").get_attribute("data-design") == "switchback"
    assert "region" in page.page.locator("#design-unit").inner_text()
    assert page.page.locator("#design-period").inner_text().startswith("1 h")
    assert page.page.locator("#design-burn-in").inner_text().startswith("10 min")
    recorded = _latest_design(demo, DISPATCH)
    for variant in ("control", "batched"):
        shown = page.page.locator(f'#design-arms tr[data-variant="{variant}"] td.cells')
        assert int(shown.inner_text().replace(",", "")) == recorded["cells"][variant] > 0
    chart = page.page.locator("#design svg.chart g.cells")
    assert chart.get_attribute("data-units") == "8"
    box = page.page.locator("#design svg.chart").bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 8 * 10
    rects = page.page.eval_on_selector_all(
        "#design rect[data-variant][data-unit]",
        "els => els.map(e => [e.dataset.unit, +e.dataset.from, +e.dataset.to, "
        "e.dataset.variant, e.getBBox().width])",
    )
    assert all(width > 0 for *_, width in rects)
    drawn = {(u, k): v for u, a, b, v, _ in rects for k in range(a, b + 1)}
    per_variant = {v: sum(1 for x in drawn.values() if x == v) for v in ("control", "batched")}
    assert per_variant == recorded["cells"], "the chart shows the look's cells"
    with demo.ctx.store.lock:
        served = demo.ctx.store.connection.execute(
            "SELECT cluster_id, ts // 3600000, min(variant), max(variant) FROM exposures "
            "WHERE experiment_id = ? GROUP BY 1, 2",
            [DISPATCH],
        ).fetchall()
    inside = [(str(u), int(k), low, high) for u, k, low, high in served if (u, k) in drawn]
    assert len(inside) > len(drawn) / 2, "most cells had orders"
    for region, hour, low, high in inside:
        assert low == high == drawn[(region, hour)], (region, hour)
    assert page.problems == []
