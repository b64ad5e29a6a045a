"""The canary and bandit panels in a real headless Chromium, over the demo's own history.

The ramp's outcomes and the weights on the page are compared with what the canary monitor and
the bandit updater recorded (the canary's state document and the registry's bandit updates),
and the charts are checked to be laid out with a real size.
"""

from __future__ import annotations

import pytest

from splitlab.config.adaptive import BanditDesign
from splitlab.demo.adaptive import BANDIT, CANARY, SETUP_RATE
from splitlab.demo.setup import DemoResult
from splitlab.evaluation.bandit import bandit_status
from splitlab.evaluation.canary_view import canary_view
from splitlab.server.run import BackgroundServer
from splitlab.store.canary_ledger import CanaryLedger

from .conftest import Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_list_names_the_canary_and_the_bandit(page: Page, demo: DemoResult) -> None:
    cells = {
        str(row.get_attribute("data-experiment")): row.locator("td.design").inner_text()
        for row in page.page.locator("#experiments tbody tr").all()
    }
    design = demo.ctx.registry.get(BANDIT).design
    assert isinstance(design, BanditDesign)
    assert cells[CANARY] == "canary: step 3 of 4 (25 %)"
    assert cells[BANDIT] == f"bandit: 4 arms, weights v{design.weights_version}"
    assert page.problems == []


def test_the_canary_panel_shows_the_recorded_ramp_and_verdicts(
    page: Page, server: BackgroundServer, demo: DemoResult
) -> None:
    page.page.goto(f"{server.url}/experiments/{CANARY}")
    panel = page.page.locator("#canary")
    assert panel.is_visible()
    doc = canary_view(demo.ctx.registry, CanaryLedger.for_store(demo.ctx.store), CANARY)
    rows = page.page.locator("#canary-ramp tbody tr")
    assert [r.get_attribute("data-outcome") for r in rows.all()] == [
        s["outcome"] for s in doc["ramp"]
    ]
    last = doc["judgments"][-1]
    for m in last["metrics"]:
        row = page.page.locator(f'#canary-metrics tr[data-metric="{m["name"]}"]')
        assert row.get_attribute("data-verdict") == m["verdict"]
        assert row.locator("td.verdict").inner_text().startswith(m["verdict"])
    chart = page.page.locator("div.distribution svg.chart").first
    box = chart.bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 150
    assert chart.locator("polyline[data-series]").count() == 2
    assert page.problems == []


def test_the_bandit_panel_shows_the_recorded_weights(
    page: Page, server: BackgroundServer, demo: DemoResult
) -> None:
    page.page.goto(f"{server.url}/experiments/{BANDIT}")
    assert page.page.locator("#bandit-not-a-test").is_visible()
    doc = bandit_status(demo.ctx.registry, BANDIT)
    latest = doc["updates"][-1]["arms"]
    for arm in SETUP_RATE:
        shown = page.page.locator(f'#bandit-arms tr[data-arm="{arm}"] td.weight').inner_text()
        assert shown == f"{latest[arm]['weight'] * 100:.3g}%"
    chart = page.page.locator("#bandit svg.chart").first
    box = chart.bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 150
    assert chart.locator("polyline[data-series]").count() == len(SETUP_RATE)
    assert page.problems == []
