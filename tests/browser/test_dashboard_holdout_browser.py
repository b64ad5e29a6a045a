"""The holdout's page in a real headless Chromium, over the demo's own data.

The lift shown is compared with the latest look recorded in the ledger, and the covered
experiment's link is followed to its page, which says who holds units out of it.
"""

from __future__ import annotations

import pytest

from splitlab.demo.setup import DemoResult
from splitlab.server.run import BackgroundServer

from .conftest import Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOLDOUT = "holdout-growth-2026"
CHECKOUT = "exp-checkout-flow-v3"


def test_the_holdout_page_shows_scope_covered_experiments_and_results(
    page: Page, server: BackgroundServer, demo: DemoResult
) -> None:
    """The list marks the holdout; its page names the scope, lists the covered experiment
    with its status, and shows everyone else vs held out with the recorded lift; the link
    leads to the covered experiment, whose page names the holdout."""
    row = page.page.locator(f'#experiments tr[data-experiment="{HOLDOUT}"]')
    assert row.locator("td.design").inner_text() == "holdout: 5% held out"
    page.page.goto(f"{server.url}/experiments/{HOLDOUT}")
    panel = page.page.locator("#holdout")
    assert panel.is_visible()
    assert page.page.locator("#holdout-scope").inner_text().startswith("experiments tagged growth")
    covered = page.page.locator(f'#holdout-covered tr[data-experiment="{CHECKOUT}"]')
    status = demo.ctx.registry.get(CHECKOUT).status.value  # other tests may have changed it
    assert status.replace("_", " ") in covered.inner_text()
    assert page.page.locator("#holdout-compared").inner_text() == (
        "Results: everyone else vs held out"
    )
    recorded = demo.ctx.registry.looks(HOLDOUT, include_peeks=False)[-1].to_dict()
    [primary] = recorded["results"]["metrics"][0]["comparisons"]
    lift = page.page.locator('#holdout-results tr[data-metric="checkout_completion_rate"] td.lift')
    assert lift.inner_text() == f"{primary['relative']['estimate'] * 100:+.2f}%"
    assert page.page.locator("#toggle-form").count() == 0
    covered.locator("a").click()
    page.page.wait_for_url(f"**/experiments/{CHECKOUT}")
    line = page.page.locator(".held-out").inner_text()
    assert line == (
        f"Held out: 5% of units by {HOLDOUT} (they get control and are not in this "
        "experiment's results)"
    )
    assert page.problems == []
