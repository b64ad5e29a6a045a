"""The design panel's parts without a server (the cells chart, the labels and the panel data),
and, over real events in a real store, the progress counted in clusters or cells, design
warnings kept out of "Low power", and each design's test named in the definition.

The pages over the demo (real looks, real cells) are checked in tests/server/test_dashboard.py
and, in Chromium, in tests/browser/test_dashboard_designs_browser.py.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import markupsafe
import msgspec

from splitlab.config import Experiment, load_experiment
from splitlab.config.designs import SwitchbackDesign
from splitlab.server.dashboard import charts, designs, looks, progress, words
from splitlab.tracking.model import Event

from .server_helpers import Api, small


def _demo(name: str) -> Experiment:
    text = resources.files("splitlab.demo").joinpath(f"{name}.json").read_text(encoding="utf-8")
    return load_experiment(msgspec.json.decode(text))


def _rects(svg: str) -> list[tuple[str, int, int, str]]:
    found = re.findall(
        r'<rect class="cell [^"]+" data-unit="([^"]+)" data-from="(\d+)" data-to="(\d+)" '
        r'data-variant="([^"]+)"',
        svg,
    )
    return [(u, int(a), int(b), v) for u, a, b, v in found]


def test_the_cell_chart_draws_runs_of_one_variant_and_leaves_gaps_blank() -> None:
    """Consecutive periods with one variant are one rectangle; a period without a cell is a
    gap; every cell is counted once in data-cells."""
    plan: dict[str, list[str | None]] = {
        "ams": ["control", "control", "batched", None, "batched", "batched"],
        "ber": ["batched", "control", "control", "control", "batched", "control"],
    }
    cells = [
        charts.Cell(unit, 100 + k, variant)
        for unit, row in plan.items()
        for k, variant in enumerate(row)
        if variant is not None
    ]
    svg = charts.cell_chart(cells, ["control", "batched"], str, "cells", control="control")
    assert _rects(svg) == [
        ("ams", 100, 101, "control"),
        ("ams", 102, 102, "batched"),
        ("ams", 104, 105, "batched"),
        ("ber", 100, 100, "batched"),
        ("ber", 101, 103, "control"),
        ("ber", 104, 104, "batched"),
        ("ber", 105, 105, "control"),
    ]
    assert 'data-cells="11"' in svg and 'data-units="2"' in svg
    assert svg.count('class="cell control"') == 3 + 1  # three runs and the legend's key
    assert '<g class="legend" data-legend="batched">' in svg


def test_the_cell_chart_keeps_the_latest_periods_and_names_the_global_unit() -> None:
    """Past ``max_periods`` only the latest periods are drawn; the global unit (None) is
    named "all traffic"; no cells is a short message, not an empty axis."""
    cells = [charts.Cell(None, k, "control" if k % 3 else "treatment") for k in range(50)]
    svg = charts.cell_chart(cells, ["control", "treatment"], str, "cells", max_periods=10)
    rects = _rects(svg)
    assert min(r[1] for r in rects) == 40 and max(r[2] for r in rects) == 49
    assert {r[0] for r in rects} == {"all traffic"}
    assert 'data-cells="10"' in svg
    assert "No cells yet." in charts.cell_chart([], ["a", "b"], str, "cells")


def test_empty_cells_are_drawn_faint_and_break_runs() -> None:
    """A cell without events is its own run, marked empty; its neighbours stay separate."""
    cells = [
        charts.Cell("ams", 1, "a"),
        charts.Cell("ams", 2, "a", empty=True),
        charts.Cell("ams", 3, "a", empty=True),
        charts.Cell("ams", 4, "a"),
    ]
    svg = charts.cell_chart(cells, ["a", "b"], str, "t")
    assert _rects(svg) == [("ams", 1, 1, "a"), ("ams", 2, 3, "a"), ("ams", 4, 4, "a")]
    assert svg.count("data-empty") == 1 and "(no events)" in svg


def test_the_cell_chart_escapes_unit_names() -> None:
    """A unit value is user data: it is escaped in the labels and attributes."""
    svg = charts.cell_chart([charts.Cell("<b>&", 1, "a")], ["a", "b"], str, "t")
    assert "<b>" not in svg and "&lt;b&gt;&amp;" in svg


def test_labels_name_each_design() -> None:
    """The list's label, the period wording and the definition sentence of each design."""
    pricing, dispatch = _demo("exp-pricing-annual-plan"), _demo("exp-dispatch-batching")
    classic = _demo("exp-search-ranking-v2")
    assert designs.label(pricing) == "cluster: accountId → userId"
    assert designs.label(dispatch) == "switchback: region, 1 h"
    assert designs.label(classic) == "classic"
    assert [designs.duration(s) for s in (600, 3600, 5400, 86_400, 172_800, 90)] == [
        "10 min", "1 h", "1 h 30 min", "1 day", "2 days", "1 min 30 s",
    ]  # fmt: skip
    said = " ".join(words.describe(dispatch))
    assert "each “region” value switches variant every hour" in said
    assert "first 10 minutes of every period are left out" in said
    assert "whole “accountId” clusters are randomised" in " ".join(words.describe(pricing))
    assert not any("design" in line for line in words.describe(classic))


def test_period_labels_start_at_the_origin() -> None:
    """Period k is named by its start: origin + k periods, in UTC."""
    hourly = SwitchbackDesign.model_validate(
        {"type": "switchback", "periodSeconds": 3600, "burnInSeconds": 600,
         "origin": "2026-03-01T00:30:00+01:00"}
    )  # fmt: skip
    name = designs.period_labeller(hourly)
    assert name(0) == "Feb 28 23:30" and name(25) == "Mar 02 00:30"
    daily = SwitchbackDesign.model_validate(
        {"type": "switchback", "periodSeconds": 86_400, "burnInSeconds": 3600}
    )
    assert (
        designs.period_labeller(daily)(20_527) == "Mar 15"
    )  # 2026-03-15 is day 20,527 of the epoch


class _NoStore:
    """Stands where the server context is not read (cluster panels need no store)."""


def test_the_cluster_panel_reads_the_recorded_design_block() -> None:
    """Clusters, analysis units, units per cluster, the correction and warnings come from the
    look's results.design exactly as recorded."""
    pricing = _demo("exp-pricing-annual-plan")
    document: dict[str, Any] = {"results": {"design": {
        "type": "cluster", "analysisUnit": "userId", "clusterKey": "accountId",
        "clusters": {"control": 400, "annual-discount": 390},
        "analysisUnits": {"control": 1700, "annual-discount": None},
        "smallSampleCorrection": "CR1", "warnings": ["Few clusters: x"],
    }}}  # fmt: skip
    panel = designs.panel(_NoStore(), pricing, document)  # type: ignore[arg-type]
    assert panel is not None and panel["kind"] == "cluster"
    assert panel["rows"] == [
        {"variant": "control", "clusters": 400, "units": 1700, "mean": "4.25"},
        {"variant": "annual-discount", "clusters": 390, "units": None, "mean": None},
    ]
    assert panel["correction_text"].startswith("CR1: ")
    assert panel["warnings"] == ["Few clusters: x"]
    assert panel["looked"]
    empty = designs.panel(_NoStore(), pricing, None)  # type: ignore[arg-type]
    assert empty is not None and not empty["looked"] and "No look yet" in empty["pending"]
    classic = designs.panel(_NoStore(), _demo("exp-search-ranking-v2"), document)  # type: ignore[arg-type]
    assert classic is None


# Progress, power warnings and the method sentence over real stored events (a real DuckDB
# store behind the whole server, the `api` fixture of tests/server/conftest.py).

T0 = 1_773_000_000_000  # 2026-03-08T20:00:00Z, a whole hour
HOUR = 3_600_000
SWITCHBACK = {"type": "switchback", "unit": "region", "periodSeconds": 3600, "burnInSeconds": 600}


def _signed_in(api: Api) -> None:
    r = api.client.post("/login", data={"key": api.admin_key, "next": "/"},
                        follow_redirects=False)  # fmt: skip
    assert r.status_code == 303


def _create(api: Api, raw: dict[str, Any]) -> None:
    assert api.client.post("/v1/experiments", json=raw, headers=api.admin).status_code == 201


def _exposure(unit: str, variant: str, t: int, cluster: str | None, exp: str) -> Event:
    return Event(f"x-{exp}-{unit}-{t}", "exposure", exp, variant, unit, t, cluster_id=cluster)


def test_cluster_progress_counts_clusters_not_users(api: Api) -> None:
    """minSampleSize counts clusters: the progress counts distinct exposed clusters per arm
    (not users), leaves out exposures without a cluster and a cluster seen in both arms, and
    the page and the list say "clusters"."""
    _create(api, small("exp-cl", status="running", segments=[],
                       assignment={"strategy": "consistent_hash", "hashKey": "accountId",
                                   "salt": "s"},
                       design={"type": "cluster", "analysisUnit": "userId"},
                       evaluation={"maxPeeks": 2, "minSampleSize": 5}))  # fmt: skip
    events = []
    for arm, clusters, users in (("control", 5, 4), ("treatment", 4, 3)):
        for c in range(clusters):
            for u in range(users):  # clusters first exposed over two days
                t = T0 + (c * users + u) * HOUR
                events.append(_exposure(f"{arm}-{c}-{u}", arm, t, f"{arm}-acct-{c}", "exp-cl"))
    events += [  # no cluster id: not counted
        _exposure("loose-1", "treatment", T0, None, "exp-cl"),
        _exposure("loose-2", "treatment", T0 + HOUR, None, "exp-cl"),
    ]
    events += [  # one account seen in both arms: left out, as in the analysis
        _exposure("mixed-1", "control", T0, "mixed", "exp-cl"),
        _exposure("mixed-2", "treatment", T0, "mixed", "exp-cl"),
    ]
    api.ctx.store.ingest(events)
    experiment = api.ctx.registry.get("exp-cl")
    state = progress.progress(api.ctx, experiment, 0, 0)
    assert [(v.variant, v.units, v.target) for v in state.variants] == [
        ("control", 5, 5), ("treatment", 4, 5),
    ]  # fmt: skip
    assert state.noun == "clusters"
    assert not state.reached  # 15 treatment users would have "reached" 5
    # The window: from the first cluster's first exposure (T0) to the latest cluster's (the
    # fifth control account, 16 h later); the rate counts the clusters first seen after T0.
    span = 16 / 24
    assert state.window_days == span
    assert state.days_left == (5 - 4) / (3 / span)
    assert state.compact().startswith("4 / 5 clusters (smallest arm)")
    _signed_in(api)
    page = api.client.get("/experiments/exp-cl").text
    table = page.split('id="progress"')[1].split("</table>")[0]
    assert "Clusters so far" in table and "New clusters a day" in table
    assert "Units so far" not in table
    assert re.findall(r'<td class="num units">([\d,]+)</td>', table) == ["5", "4"]
    assert "4 / 5 clusters (smallest arm)" in api.client.get("/").text
    assert api.client.post("/v1/experiments/exp-cl/evaluate", headers=api.admin).is_success
    listing = api.client.get("/").text.split('data-experiment="exp-cl"')[1].split("</tr>")[0]
    assert '<td class="num">9 clusters</td>' in listing  # the last look's sample, named


def test_switchback_progress_counts_cells_not_orders(api: Api) -> None:
    """minSampleSize counts cells: the progress counts every region in every complete period
    of the window, each in its assigned variant, whatever the number of orders; the rate is
    cells a day over the window."""
    _create(api, small("exp-sb", status="running", segments=[], design=SWITCHBACK,
                       evaluation={"maxPeeks": 2, "minSampleSize": 12}))  # fmt: skip
    service = api.ctx.view.service
    regions, hours = ("eu", "us", "asia"), 4
    expected: dict[str, int] = {"control": 0, "treatment": 0}
    events = []
    for hour in range(hours):
        for region in regions:
            t = T0 + hour * HOUR + 20 * 60_000
            variant = service.assign(region, "exp-sb", {"region": region}, at=t).variant
            assert variant is not None
            expected[variant] += 1
            for order in range(3):  # three orders a cell, each its own unit
                events.append(_exposure(f"o-{region}-{hour}-{order}", variant,
                                        t + order * 60_000, region, "exp-sb"))  # fmt: skip
    api.ctx.store.ingest(events)
    state = progress.progress(api.ctx, api.ctx.registry.get("exp-sb"), 0, 0)
    assert {v.variant: v.units for v in state.variants} == expected  # not 3 x as many orders
    assert state.noun == "cells"
    assert sum(expected.values()) == len(regions) * hours
    days = hours / 24
    assert state.window_days == days
    assert {v.variant: v.per_day for v in state.variants} == {
        v: (n / days) or None for v, n in expected.items()
    }
    short = [v for v, n in expected.items() if n < 12]
    assert state.days_left == max((12 - expected[v]) / (expected[v] / days) for v in short)
    low = min(expected.values())
    assert state.compact().startswith(f"{low} / 12 cells (smallest arm)")
    _signed_in(api)
    table = api.client.get("/experiments/exp-sb").text.split('id="progress"')[1]
    assert "Cells so far" in table.split("</table>")[0] and "New cells a day" in table


def test_design_warnings_are_not_shown_as_low_power(api: Api) -> None:
    """A switchback with few cells carries design warnings in results.warnings and
    results.design.warnings: the look page shows them in the design panel only, not under
    "Low power"; other warnings stay under "Low power"."""
    _create(api, small("exp-sb", status="running", segments=[], design=SWITCHBACK))
    service = api.ctx.view.service
    events = []
    for hour in range(3):
        for region in ("eu", "us"):
            t = T0 + hour * HOUR + 20 * 60_000
            variant = service.assign(region, "exp-sb", {"region": region}, at=t).variant
            assert variant is not None
            unit = f"o-{region}-{hour}"
            events.append(_exposure(unit, variant, t, region, "exp-sb"))
            events.append(Event(f"m-{unit}", "metric", "exp-sb", variant, unit, t,
                                metric="checkout", value=1.0, cluster_id=region))  # fmt: skip
    api.ctx.store.ingest(events)
    look = api.client.post("/v1/experiments/exp-sb/evaluate", headers=api.admin,
                           json={"cutoff": "2026-03-08T23:00:00Z"})  # fmt: skip
    assert look.status_code == 200, look.text
    results = look.json()
    design_warnings = results["design"]["warnings"]
    assert design_warnings and set(design_warnings) <= set(results["warnings"])
    _signed_in(api)
    seq = api.ctx.registry.looks("exp-sb")[-1].seq
    page = api.client.get(f"/experiments/exp-sb/looks/{seq}").text
    power = re.findall(r"<li><strong>Low power:</strong> (.*?)</li>", page, re.S)
    panel = page.split('id="design"')[1]
    for warning in design_warnings:
        shown = str(markupsafe.escape(warning))  # as Jinja writes it
        assert shown not in power and shown in panel
    assert looks.power_warnings(
        {"warnings": ["plan is under-powered", "w"], "design": {"warnings": ["w"]}}
    ) == ["plan is under-powered"]
    assert looks.power_warnings({"warnings": ["plan is under-powered"]}) == [
        "plan is under-powered"
    ]


def test_the_definition_names_each_designs_test_and_sample() -> None:
    """ "What this experiment tests": the cluster design's CR1 t-test with G − 1 degrees of
    freedom and clusters; the switchback's Horvitz–Thompson z-test (or the regression) and
    cells, its ratio per cell; the classic Welch t-test and units."""
    pricing, dispatch = _demo("exp-pricing-annual-plan"), _demo("exp-dispatch-batching")
    classic = _demo("exp-search-ranking-v2")
    cluster_text = " ".join(words.describe(pricing))
    assert "planned sample 1,500 clusters per variant" in cluster_text
    assert "cluster-robust (CR1) t-test" in cluster_text and "G − 1 degrees" in cluster_text
    assert "Welch" not in cluster_text
    switchback_text = " ".join(words.describe(dispatch))
    assert "planned sample 600 cells per variant" in switchback_text
    assert "Horvitz–Thompson estimate over the cells with a z-test" in switchback_text
    assert "ratio of two per-cell totals" in switchback_text
    assert "Welch" not in switchback_text and "per-unit" not in switchback_text
    assert dispatch.design is not None and dispatch.design.type == "switchback"
    regression = dispatch.model_copy(
        update={"design": dispatch.design.model_copy(update={"estimator": "regression"})}
    )
    regression_text = " ".join(words.describe(regression))
    assert "period fixed effects" in regression_text
    assert "Horvitz" not in regression_text
    classic_text = " ".join(words.describe(classic))
    assert "Welch t-test" in classic_text and "units per variant" in classic_text
