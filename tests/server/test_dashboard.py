"""The dashboard, in-process: sign-in, the pages over a small demo, forms, charts and words."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from splitlab.config import load_experiment
from splitlab.config.adaptive import BanditDesign
from splitlab.demo.setup import DemoResult
from splitlab.server.app import create_app
from splitlab.server.dashboard import charts, looks, pages, words

from .server_helpers import ARTICLE

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def browser(demo: DemoResult) -> Iterator[TestClient]:
    """A test client signed in to the dashboard with the demo's admin key."""
    with TestClient(create_app(demo.ctx), base_url="http://testserver") as client:
        r = client.post("/login", data={"key": demo.admin_key, "next": "/"},
                        follow_redirects=False)  # fmt: skip
        assert r.status_code == 303
        yield client


def test_pages_need_a_session(demo: DemoResult) -> None:
    """Without a session the pages redirect to the sign-in form, keeping the target."""
    with TestClient(create_app(demo.ctx)) as client:
        r = client.get("/experiments/exp-checkout-flow-v3", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=/experiments/exp-checkout-flow-v3"
        assert client.get("/login").status_code == 200


def test_sign_in_refuses_sdk_and_bad_keys_and_sets_a_strict_cookie(demo: DemoResult) -> None:
    """Only an admin key signs in; the cookie is HttpOnly, SameSite=Strict, and not the key."""
    with TestClient(create_app(demo.ctx)) as client:
        bad = client.post("/login", data={"key": "nope"})
        assert bad.status_code == 401
        assert "not a valid admin key" in bad.text
        sdk = client.post("/login", data={"key": demo.sdk_key})
        assert sdk.status_code == 401
        assert "SDK key" in sdk.text
        ok = client.post("/login", data={"key": demo.admin_key, "next": "//evil.example/"},
                         follow_redirects=False)  # fmt: skip
        assert ok.headers["location"] == "/"
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert demo.admin_key not in cookie


def test_list_page_shows_status_decision_and_alerts(browser: TestClient) -> None:
    """The list names each experiment's status, latest decision, why, and alerts."""
    html = browser.get("/").text
    rows = dict(re.findall(r'<tr data-experiment="([^"]+)">(.*?)</tr>', html, re.S))
    assert set(rows) == {"exp-checkout-flow-v3", "exp-search-ranking-v2", "exp-homepage-copy-aa",
                         "exp-pricing-annual-plan", "exp-dispatch-batching",
                         "exp-orders-db-migration", "exp-onboarding-bandit",
                         "holdout-growth-2026", "exp-welcome-offer"}  # fmt: skip
    assert "Ship variant-a (proposed" in rows["exp-checkout-flow-v3"]
    assert '<td class="design">holdout: 5% held out</td>' in rows["holdout-growth-2026"]
    assert "rolled back" in rows["exp-search-ranking-v2"]
    assert "guardrail search_error_rate breached (new-ranker)" in rows["exp-search-ranking-v2"]
    assert "Stop: no meaningful difference" in rows["exp-homepage-copy-aa"]


def test_experiment_page_has_every_section_and_charts_with_data(browser: TestClient) -> None:
    """The page shows the definition in words, SRM, metrics, charts with data, ledger and log."""
    html = browser.get("/experiments/exp-checkout-flow-v3").text
    for section in ("decision", "definition", "exposures", "srm", "metrics", "primary",
                    "guardrails", "looks", "audit", "admin"):  # fmt: skip
        assert f'id="{section}"' in html, section
    assert "for 25% of eligible units" in html
    lines = re.findall(r'data-series="([^"]+)" data-points="(\d+)"', html)
    assert {name for name, _ in lines} == {"control", "variant-a", "variant-b"}
    assert all(int(n) >= 6 for _, n in lines)
    assert len(re.findall(r'<g class="interval', html)) == 8
    assert len(re.findall(r'<circle class="look[^"]*" [^>]*data-z=', html)) == 10
    assert html.count('data-boundary="upper"') == 2
    assert "The split of units matches the plan" in html
    assert html.count("<tr data-seq=") == 5  # five looks in the ledger


def test_a_status_change_from_the_page_is_applied_and_audited(
    browser: TestClient, demo: DemoResult
) -> None:
    """Pausing from the page's form changes the status and records the reason and who."""
    page = browser.get("/experiments/exp-checkout-flow-v3").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    r = browser.post(
        "/experiments/exp-checkout-flow-v3/actions",
        data={
            "csrf": csrf.group(1),
            "action": "status",
            "target": "paused",
            "reason": "checking a dip",
        },
    )
    assert "Status changed to paused." in r.text
    experiment = demo.ctx.registry.get("exp-checkout-flow-v3")
    assert experiment.status.value == "paused"
    assert "checking a dip" in r.text
    assert "(dashboard)" in r.text


def test_a_form_without_the_csrf_token_changes_nothing(browser: TestClient) -> None:
    """A forged post (no CSRF token) is refused with a message, the status unchanged."""
    r = browser.post(
        "/experiments/exp-homepage-copy-aa/actions",
        data={"action": "toggle", "variant": "control", "reason": "forged"},
    )
    assert "The form expired" in r.text
    assert "toggled" not in r.text


def test_an_invalid_change_shows_the_lifecycle_message(browser: TestClient) -> None:
    """A change the lifecycle refuses comes back as a readable message on the page."""
    page = browser.get("/experiments/exp-checkout-flow-v3").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    r = browser.post(
        "/experiments/exp-search-ranking-v2/actions",
        data={"csrf": csrf.group(1), "action": "status", "target": "running", "reason": "again"},
    )
    assert "cannot change from &#39;rolled_back&#39; to &#39;running&#39;" in r.text


def test_static_assets_are_served_by_splitlab(browser: TestClient) -> None:
    """CSS and JS come from the package, and no page refers to another host."""
    assert browser.get("/static/dashboard.css").status_code == 200
    assert browser.get("/static/dashboard.js").status_code == 200
    html = browser.get("/experiments/exp-checkout-flow-v3").text
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_forest_plot_marks_carry_their_values() -> None:
    """Each interval is drawn with its estimate and bounds in data attributes, tone by direction."""
    svg = charts.forest_plot(
        [
            charts.Interval("m · b", 2.0, 0.5, 3.5, "better"),
            charts.Interval("m · c", -1.0, -2.0, 0.1),
        ],
        "t",
    )
    assert 'data-estimate="2.0" data-lower="0.5" data-upper="3.5"' in svg
    assert '<g class="interval better"' in svg
    assert svg.count("<circle") == 2
    assert "No estimates yet" in charts.forest_plot([], "t")


def test_titles_and_labels_are_escaped() -> None:
    """Names from definitions cannot inject markup into the SVG."""
    svg = charts.line_chart([charts.Series("<script>", [(0.0, 1.0)])], {0.0: "d"}, "<b>")
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg


def test_the_article_definition_in_words() -> None:
    """The article's definition reads as sentences a non-statistician can follow."""
    text = " ".join(words.describe(load_experiment(ARTICLE)))
    assert "for 25% of eligible units" in text
    assert "only units with region = US and accountType = free" in text
    assert "never units with internal = true or bot = true" in text
    assert "Guardrail: if “error_rate” is shown to rise by more than 0.02" in text
    assert "at most 5 looks" in text
    assert "a person confirms before it ships" in text


def test_each_decision_has_one_plain_sentence() -> None:
    """The headline and the why are short and come from the recorded decision."""
    decision = {"action": "rollback", "variant": None, "reasons": ["Guardrail x breached.", "b"]}
    assert words.headline(decision) == "Roll back"
    assert words.why(decision) == "Guardrail x breached."
    assert words.headline(None) == "No look yet"


def _latest_document(demo: DemoResult, experiment_id: str) -> dict[str, Any]:
    planned = demo.ctx.registry.looks(experiment_id, include_peeks=False)
    return planned[-1].to_dict()


def test_the_page_shows_the_power_warning_and_data_quality_counts(
    browser: TestClient, demo: DemoResult
) -> None:
    """The latest look's power warning and its four data-quality counts are on the page."""
    document = _latest_document(demo, "exp-checkout-flow-v3")
    html = browser.get("/experiments/exp-checkout-flow-v3").text
    quality = html[html.index('id="quality"') : html.index('id="srm"')]
    warnings = document["results"]["warnings"]
    assert warnings, "the demo's plan is under-powered after its Bonferroni correction"
    for warning in warnings:
        assert f"<strong>Low power:</strong> {warning}" in quality
    counts = dict(re.findall(r'data-quality="(\w+)"><td class="num">([\d,]+)</td>', quality))
    recorded = document["dataQuality"]
    assert set(counts) == {"multiExposedUnits", "unexposedMetricEvents",
                           "variantMismatchEvents", "preExposureMetricEvents"}  # fmt: skip
    for key, shown in counts.items():
        assert int(shown.replace(",", "")) == recorded[key]
    assert "units saw more than one variant" in quality


def test_sequential_points_follow_the_recorded_decision(
    browser: TestClient, demo: DemoResult
) -> None:
    """A point beyond the boundary at a look that decided to keep running is not "acted on"."""
    html = browser.get("/experiments/exp-checkout-flow-v3").text
    marks = re.findall(r'<circle class="look state-(\w+)" [^>]*data-look="(\d+)"', html)
    assert "crossed" not in html
    looks = {r.number: r.to_dict() for r in demo.ctx.registry.looks("exp-checkout-flow-v3")}
    held = 0
    for state, number in marks:
        decision = looks[int(number)]["decision"]
        if state == "decided":
            assert decision["action"] in {"ship", "stop", "rollback"}
        if state == "held":
            held += 1
            assert decision["action"] == "continue"
    assert held >= 1, "the demo's variant-a is beyond the boundary before the planned sample"
    assert "planned 4,500 units" in html


def test_point_state_reads_the_engine_flags() -> None:
    """Significant and acted on, significant but held, or inside: from the look, not re-judged."""
    significant = {"variant": "b", "significant": True}
    assert looks.point_state(significant, {"action": "ship", "variant": "b"}) == "decided"
    assert looks.point_state(significant, {"action": "ship", "variant": "c"}) == "held"
    assert looks.point_state(significant, {"action": "continue"}) == "held"
    assert looks.point_state({"significant": False}, {"action": "ship"}) == "inside"


def test_the_metrics_table_names_its_interval_and_p_value(browser: TestClient) -> None:
    """The headers say which interval and which p-value are shown, with a note on each."""
    html = browser.get("/experiments/exp-checkout-flow-v3").text
    assert re.search(r'id="interval-header">Sequential interval<sup>1</sup>', html)
    assert re.search(r'id="p-header">Sequential p, corrected<sup>2</sup>', html)
    assert "widened for the looks taken (alpha spending), corrected (bonferroni)" in html
    assert 'title="raw single-look p = ' in html


def test_the_decision_says_how_old_its_look_is(demo: DemoResult) -> None:
    """The decision card gives the look's time and its age in days."""
    data = pages.experiment_page(demo.ctx, "exp-checkout-flow-v3", now=NOW + timedelta(days=9))
    latest = data["latest"]
    assert latest["at"] == "2026-03-19 09:01"
    assert latest["age"] == "10 days ago"
    assert data["headline"].startswith("Ship variant-a")


def test_the_exposure_chart_draws_control_on_top_with_a_legend_and_the_look(
    browser: TestClient,
) -> None:
    """Control is the last line drawn (on top), in its own style, listed in the legend."""
    html = browser.get("/experiments/exp-checkout-flow-v3").text
    chart = html[html.index('id="exposures"') : html.index('id="quality"')]
    lines = re.findall(r'<polyline class="line ([\w-]+)" data-series="([^"]+)"', chart)
    assert lines[-1] == ("control", "control")
    assert re.findall(r'data-legend="([^"]+)"', chart) == ["control", "variant-a", "variant-b"]
    assert 'data-marker="look 5 data cut-off"' in chart


def test_past_looks_open_from_the_ledger(browser: TestClient, demo: DemoResult) -> None:
    """Every ledger entry links to its own page showing that look's decision and metrics."""
    html = browser.get("/experiments/exp-checkout-flow-v3").text
    links = re.findall(r'href="(/experiments/exp-checkout-flow-v3/looks/(\d+))"', html)
    records = demo.ctx.registry.looks("exp-checkout-flow-v3")
    assert {int(seq) for _, seq in links} == {r.seq for r in records}
    for record in records:
        page = browser.get(f"/experiments/exp-checkout-flow-v3/looks/{record.seq}")
        assert page.status_code == 200
        assert f"Look {record.number} of 5" in page.text
        decision = record.to_dict()["decision"]
        assert words.why(decision).replace("'", "&#39;") in page.text
        assert 'id="metrics"' in page.text and 'id="quality"' in page.text


def _weights_version(demo: DemoResult) -> int:
    design = demo.ctx.registry.get("exp-onboarding-bandit").design
    assert isinstance(design, BanditDesign)
    return design.weights_version


def test_design_panels_show_each_looks_recorded_design(
    browser: TestClient, demo: DemoResult
) -> None:
    """The list names each design; the experiment page and every past look's page show the
    design block that look recorded (clusters and users per arm; cells per arm and a chart
    whose cells add up to them); a classic experiment has no panel."""
    listing = browser.get("/").text
    row_design = r'<tr data-experiment="([^"]+)">.*?<td class="design">([^<]*)</td>'
    designs_shown = dict(re.findall(row_design, listing, re.S))
    assert designs_shown == {
        "exp-checkout-flow-v3": "classic", "exp-search-ranking-v2": "classic",
        "exp-homepage-copy-aa": "classic", "exp-pricing-annual-plan": "cluster: accountId → userId",
        "exp-dispatch-batching": "switchback: region, 1 h",
        "exp-orders-db-migration": "canary: step 3 of 4 (25 %)",
        "exp-onboarding-bandit": f"bandit: 4 arms, weights v{_weights_version(demo)}",
        "holdout-growth-2026": "holdout: 5% held out", "exp-welcome-offer": "classic",
    }  # fmt: skip
    assert 'id="design"' not in browser.get("/experiments/exp-checkout-flow-v3").text
    for record in demo.ctx.registry.looks("exp-pricing-annual-plan"):
        recorded = record.to_dict()["results"]["design"]
        html = browser.get(f"/experiments/exp-pricing-annual-plan/looks/{record.seq}").text
        for variant in ("control", "annual-discount"):
            panel = html.split('id="design"')[1]
            row = re.search(rf'<tr data-variant="{variant}">.*?</tr>', panel, re.S)
            assert row is not None
            cells = re.findall(r'class="num (?:clusters|units)">([\d,]+)', row.group(0))
            numbers = [int(n.replace(",", "")) for n in cells]
            assert numbers == [recorded["clusters"][variant], recorded["analysisUnits"][variant]]
    for record in demo.ctx.registry.looks("exp-dispatch-batching"):
        recorded = record.to_dict()["results"]["design"]
        html = browser.get(f"/experiments/exp-dispatch-batching/looks/{record.seq}").text
        runs = re.findall(r'data-from="(\d+)" data-to="(\d+)" data-variant="([^"]+)"', html)
        drawn: dict[str, int] = {}
        for start, end, variant in runs:
            drawn[variant] = drawn.get(variant, 0) + int(end) - int(start) + 1
        assert drawn == recorded["cells"], record.seq
        assert f'data-units="{recorded["units"]}"' in html
