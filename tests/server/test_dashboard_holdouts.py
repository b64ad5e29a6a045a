"""The holdout on the dashboard, over the demo (its holdout covers the checkout flow): the
view functions, then the pages as the server renders them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from splitlab.demo.setup import DemoResult
from splitlab.server.app import create_app
from splitlab.server.dashboard import holdouts

HOLDOUT = "holdout-growth-2026"
CHECKOUT = "exp-checkout-flow-v3"
LINE = (
    "Held out: 5% of units by holdout-growth-2026 (they get control and are not in this "
    "experiment's results)"
)


@pytest.fixture
def browser(demo: DemoResult) -> Iterator[TestClient]:
    with TestClient(create_app(demo.ctx), base_url="http://testserver") as client:
        r = client.post("/login", data={"key": demo.admin_key, "next": "/"},
                        follow_redirects=False)  # fmt: skip
        assert r.status_code == 303
        yield client


def test_the_panel_shows_scope_covered_experiments_and_results(demo: DemoResult) -> None:
    """Scope in words, the covered experiment with its status, and each metric's lift of
    everyone else vs held out exactly as the latest look recorded it."""
    registry = demo.ctx.registry
    holdout = registry.get(HOLDOUT)
    [*_, latest] = registry.looks(HOLDOUT, include_peeks=False)
    document = latest.to_dict()
    panel = holdouts.panel(demo.ctx, holdout, document)
    assert panel is not None
    assert (panel["percent"], panel["scope"], panel["compared"]) == (
        "5", "experiments tagged growth", "everyone else vs held out"
    )  # fmt: skip
    status = registry.get(CHECKOUT).status.value  # other tests of the session may change it
    assert panel["covered"] == [
        {"id": CHECKOUT, "name": "Checkout Flow Optimization", "status": status}
    ]
    rows = {r["metric"]: r for r in panel["rows"]}
    assert set(rows) == {"checkout_completion_rate", "cart_abandonment_rate", "error_rate"}
    recorded = document["results"]["metrics"][0]["comparisons"][0]
    primary = rows["checkout_completion_rate"]
    assert primary["lift"] == recorded["relative"]["estimate"]
    assert (primary["held_out"], primary["everyone_else"]) == (
        recorded["controlMean"], recorded["variantMean"]
    )  # fmt: skip
    assert holdouts.panel(demo.ctx, registry.get(CHECKOUT), None) is None


def test_result_rows_without_a_look_are_empty() -> None:
    assert holdouts.result_rows(None) == []
    assert holdouts.result_rows({"results": {"metrics": []}}) == []


def test_covered_experiments_say_who_holds_units_out(demo: DemoResult) -> None:
    """The checkout flow (tagged growth) names the running holdout; the A/A (not tagged) and
    the holdout itself name none."""
    registry = demo.ctx.registry
    assert holdouts.held_out_lines(demo.ctx, registry.get(CHECKOUT)) == [LINE]
    assert holdouts.held_out_lines(demo.ctx, registry.get("exp-homepage-copy-aa")) == []
    assert holdouts.held_out_lines(demo.ctx, registry.get(HOLDOUT)) == []


def test_the_pages_render_the_holdout(browser: TestClient) -> None:
    """The holdout page has its panel (covered experiment linked, results table) and no
    rollback, ship or toggle controls; the covered experiment's page has the line."""
    html = browser.get(f"/experiments/{HOLDOUT}").text
    assert 'id="holdout"' in html
    assert "Results: everyone else vs held out" in html
    assert f'<a href="/experiments/{CHECKOUT}">Checkout Flow Optimization</a>' in html
    assert len(re.findall(r'<tr data-metric="[^"]+"><td>', html)) >= 3
    assert "Roll back" not in html and "Ship " not in html and 'id="toggle-form"' not in html
    assert 'value="stopped"' in html
    # the summary does not promise a winner that ships: a holdout's ship is refused
    assert "A winner is" not in html
    assert "Its looks only report; a person stops it at its planned end." in html
    checkout = browser.get(f"/experiments/{CHECKOUT}").text
    assert f'<p class="serving held-out">{LINE.replace(chr(39), "&#39;")}</p>' in checkout
