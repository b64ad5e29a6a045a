"""The dashboard's states in a real headless Chromium at 1400 px, each with a screenshot.

The screenshots are written to a pytest temporary directory (printed at the start of the
module) for a person to look at; the assertions read the rendered DOM: visible text, element
boxes, computed styles. Extra experiments are registered on the running demo server through
its API, so the demo's own experiments keep their story for the other browser tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from scipy import integrate, stats

from splitlab.demo.setup import DemoResult
from splitlab.server.run import BackgroundServer
from splitlab.tracking.events import Event

from ..server.server_helpers import small

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHECKOUT = "exp-checkout-flow-v3"
T0 = 1_773_000_000_000  # 2026-03-08, before the demo's own data
DAY = 86_400_000


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this module's screenshots go."""
    path = tmp_path_factory.mktemp("screenshots")
    print(f"screenshots in {path}")
    return path


@pytest.fixture(scope="module")
def api(server: BackgroundServer, demo: DemoResult) -> Iterator[httpx.Client]:
    """An admin API client for the demo server."""
    headers = {"Authorization": f"Bearer {demo.admin_key}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
def wide(chromium: Any, server: BackgroundServer, demo: DemoResult) -> Iterator[Any]:
    """A signed-in page with a 1400 x 900 viewport."""
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(f"{server.url}/")
    page.fill("#key", demo.admin_key)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#experiments")
    try:
        yield page
    finally:
        context.close()


def _register(api: httpx.Client, experiment_id: str, **overrides: Any) -> None:
    r = api.post("/v1/experiments", json=small(experiment_id, status="running", **overrides))
    assert r.status_code == 201, r.text


def _text(page: Any, selector: str) -> str:
    return " ".join(str(page.locator(selector).first.inner_text()).split())


def test_experiment_page_at_1400px(wide: Any, server: BackgroundServer, shots: Path) -> None:
    """The metrics table fits its card, axis labels are readable, every new section shows."""
    wide.goto(f"{server.url}/experiments/{CHECKOUT}")
    wide.screenshot(path=str(shots / "experiment.png"), full_page=True)
    wide.locator("#metrics").screenshot(path=str(shots / "metrics.png"))
    outside = wide.eval_on_selector(
        "#metrics",
        """card => { const box = card.getBoundingClientRect();
          return [...card.querySelectorAll('table.metrics th, table.metrics td')]
            .map(c => c.getBoundingClientRect())
            .filter(b => b.left < box.left - 0.5 || b.right > box.right + 0.5).length; }""",
    )
    assert outside == 0
    fits = wide.eval_on_selector(".table-fit", "e => e.scrollWidth <= e.clientWidth")
    assert fits
    significant = wide.locator("table.metrics th").last.bounding_box()
    assert significant is not None and significant["x"] + significant["width"] <= 1400
    sizes = wide.eval_on_selector_all(
        "svg.chart text.tick",
        """els => els.map(t => { const svg = t.ownerSVGElement;
          const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
          return parseFloat(getComputedStyle(t).fontSize) * scale; })""",
    )
    assert len(sizes) > 20
    assert min(sizes) >= 11.5
    assert "Low power:" in _text(wide, "#quality")
    assert "units saw more than one variant" in _text(wide, "#quality")
    assert "sequential interval" in _text(wide, "#metrics thead").lower()
    assert "sequential p, corrected" in _text(wide, "#metrics thead").lower()


def test_decision_progress_and_held_points(
    wide: Any, server: BackgroundServer, shots: Path
) -> None:
    """The decision card dates its look; progress shows units, looks and days; held points."""
    wide.goto(f"{server.url}/experiments/{CHECKOUT}")
    wide.locator("#decision").screenshot(path=str(shots / "decision.png"))
    wide.locator("#progress").screenshot(path=str(shots / "progress.png"))
    wide.locator("#primary").screenshot(path=str(shots / "primary.png"))
    wide.locator("#exposures").screenshot(path=str(shots / "exposures.png"))
    age = _text(wide, "#look-age")
    assert "From look 5 of 5, taken 2026-03-19 09:01 UTC" in age
    assert "days ago" in age
    assert "5 of 5 planned looks taken" in _text(wide, "#progress")
    assert _text(wide, "#days-left") == "planned sample reached"
    held = wide.locator("#primary circle.state-held")
    assert held.count() >= 1
    fill = held.first.evaluate("c => getComputedStyle(c).fill")
    assert fill == "rgb(255, 255, 255)"  # hollow: not drawn like an acted-on crossing
    assert "keep running" in _text(wide, "#primary-caption")
    top = wide.eval_on_selector(
        "#exposures svg", "s => [...s.querySelectorAll('polyline')].pop().dataset.series"
    )
    assert top == "control"
    assert wide.locator("#exposures [data-legend]").count() == 3


def test_list_and_past_look_pages(wide: Any, server: BackgroundServer, shots: Path) -> None:
    """The list shows compact progress; a ledger link opens that past look's own page."""
    wide.screenshot(path=str(shots / "list.png"), full_page=True)
    row = _text(wide, f'tr[data-experiment="{CHECKOUT}"]')
    assert "units (smallest arm) · look 5 of 5 · planned sample reached" in row
    wide.goto(f"{server.url}/experiments/{CHECKOUT}")
    wide.click('#looks tr[data-seq="3"] a.open-look')
    wide.wait_for_selector("#decision")
    wide.screenshot(path=str(shots / "look-3.png"), full_page=True)
    assert wide.url.endswith(f"/experiments/{CHECKOUT}/looks/3")
    assert "Look 3 of 5" in _text(wide, "h1")
    assert "Keep running" in _text(wide, "#decision h2")
    assert wide.locator("#metrics table.metrics tbody tr").count() == 8


def test_unknown_experiment_is_an_html_page(
    wide: Any, server: BackgroundServer, shots: Path
) -> None:
    """An unknown experiment's page is the dashboard's 404 page, not JSON."""
    response = wide.goto(f"{server.url}/experiments/exp-does-not-exist")
    assert response is not None and response.status == 404
    wide.screenshot(path=str(shots / "not-found.png"))
    assert "There is no experiment 'exp-does-not-exist'." in _text(wide, "#not-found")


def _serving(page: Any, server: BackgroundServer, experiment_id: str) -> tuple[str, str, str]:
    page.goto(f"{server.url}/")
    row = _text(page, f'tr[data-experiment="{experiment_id}"]')
    page.goto(f"{server.url}/experiments/{experiment_id}")
    alerts = " ".join(page.locator(".alert").all_inner_texts())
    return row, _text(page, "#serving"), alerts


def test_toggle_then_ship_and_toggle_then_rollback(
    wide: Any, server: BackgroundServer, api: httpx.Client, shots: Path
) -> None:
    """A toggle shows everywhere; shipping or rolling back over it replaces it everywhere."""
    for experiment_id, final in (("exp-b-ship", "shipped"), ("exp-b-rollback", "rolled_back")):
        _register(api, experiment_id)
        api.post(f"/v1/experiments/{experiment_id}/toggle",
                 json={"variant": "control", "reason": "incident"}).raise_for_status()  # fmt: skip
        row, serving, alerts = _serving(wide, server, experiment_id)
        wide.screenshot(path=str(shots / f"{experiment_id}-toggled.png"), full_page=True)
        assert "toggled: everyone gets control" in row
        assert "toggled: everyone gets control" in serving
        assert "toggled: everyone gets control" in alerts
        body: dict[str, Any] = {"status": final, "reason": "decided"}
        if final == "shipped":
            body["variant"] = "treatment"
        api.post(f"/v1/experiments/{experiment_id}/status", json=body).raise_for_status()
        row, serving, alerts = _serving(wide, server, experiment_id)
        wide.screenshot(path=str(shots / f"{experiment_id}-{final}.png"), full_page=True)
        expected = (
            "shipped: everyone gets treatment"
            if final == "shipped"
            else "rolled back: everyone gets control"
        )
        assert expected in row and expected in serving
        assert "toggled" not in row + serving + alerts
        config = api.get("/v1/config").json()["experiments"]
        assert (
            next(e for e in config if e["experimentId"] == experiment_id)["forcedVariant"] is None
        )


def test_toggle_and_untoggle_from_the_page(
    wide: Any, server: BackgroundServer, api: httpx.Client, shots: Path
) -> None:
    """The page's toggle form sets and clears the toggle; the serving line follows."""
    _register(api, "exp-b-untoggle")
    wide.on("dialog", lambda dialog: dialog.accept())
    wide.goto(f"{server.url}/experiments/exp-b-untoggle")
    wide.select_option("#toggle-variant", "control")
    wide.fill("#toggle-form input[name=reason]", "incident")
    wide.click("#toggle-form button[type=submit]")
    wide.wait_for_selector(".flash.ok")
    assert "toggled: everyone gets control" in _text(wide, "#serving")
    wide.select_option("#toggle-variant", "")
    wide.fill("#toggle-form input[name=reason]", "fixed")
    wide.click("#toggle-form button[type=submit]")
    wide.wait_for_selector(".flash.ok")
    wide.screenshot(path=str(shots / "untoggled.png"), full_page=True)
    assert _text(wide, "#serving").startswith("Serving now: running: eligible units are split")
    assert wide.locator(".alert").count() == 0


def test_a_bayesian_plan_shows_the_chance_to_beat_control(
    wide: Any, server: BackgroundServer, api: httpx.Client, demo: DemoResult, shots: Path
) -> None:
    """A Bayesian look shows each variant's chance to beat control in the metrics table."""
    eid = "exp-b-bayes"
    _register(api, eid, evaluation={"maxPeeks": 2, "minSampleSize": 100, "method": "bayesian"})
    events = []
    for variant, converted in (("control", 20), ("treatment", 40)):
        for i in range(200):
            unit = f"{variant}-{i}"
            events.append(Event(f"b-x-{unit}", "exposure", eid, variant, unit, T0 + i))
            if i < converted:
                events.append(Event(f"b-m-{unit}", "metric", eid, variant, unit,
                                    T0 + DAY + i, "checkout", 1.0))  # fmt: skip
    demo.ctx.store.ingest(events)
    demo.ctx.store.flush()
    api.post(f"/v1/experiments/{eid}/evaluate",
             json={"cutoff": "2026-03-12T00:00:00Z"}).raise_for_status()  # fmt: skip
    wide.goto(f"{server.url}/experiments/{eid}")
    wide.locator("#metrics").screenshot(path=str(shots / "bayesian.png"))
    assert _text(wide, "#chance-header").lower() == "chance to beat control"
    shown = _text(wide, 'tr[data-metric="checkout"][data-variant="treatment"] td.chance')
    # Reference: P(Beta(41, 161) > Beta(21, 181)) by numerical integration (scipy).
    reference, _ = integrate.quad(
        lambda x: stats.beta.pdf(x, 41, 161) * stats.beta.cdf(x, 21, 181), 0, 1
    )
    assert float(shown.rstrip("%")) == pytest.approx(reference * 100, abs=0.05)
