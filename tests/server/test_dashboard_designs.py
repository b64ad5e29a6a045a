"""The design panel's parts without a server: the cells chart, the labels and the panel data.

The pages over the demo (real looks, real cells) are checked in tests/server/test_dashboard.py
and, in Chromium, in tests/browser/test_dashboard_designs_browser.py.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import msgspec

from splitlab.config import Experiment, load_experiment
from splitlab.config.designs import SwitchbackDesign
from splitlab.server.dashboard import charts, designs, words


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
