"""The retention and Kaplan-Meier charts as SVG: one mark per arm carrying its points, a step
curve whose corners follow the points, names escaped, and a sentence when there is nothing."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from splitlab.server.dashboard.survival_charts import _steps, km_chart, retention_chart

NS = {"s": "http://www.w3.org/2000/svg"}


def test_a_step_curve_holds_each_value_until_the_next_time() -> None:
    points = [(0.0, 1.0), (2.0, 0.8), (5.0, 0.5), (9.0, 0.5)]
    assert _steps(points, 72.0) == [
        (0.0, 1.0), (2.0, 1.0), (2.0, 0.8), (5.0, 0.8), (5.0, 0.5), (9.0, 0.5)
    ]  # fmt: skip
    # An event at hour 0 drops the curve at once; nothing is drawn past the last point.
    assert _steps([(0.0, 0.9), (3.0, 0.9)], 72.0) == [(0.0, 1.0), (0.0, 0.9), (3.0, 0.9)]


def test_the_km_chart_has_one_path_per_arm_within_the_plot() -> None:
    arms = [("control", [(0.0, 1.0), (10.0, 0.7), (72.0, 0.7)]),
            ("t<1>", [(0.0, 1.0), (5.0, 0.6), (40.0, 0.6)])]  # fmt: skip
    svg = km_chart(arms, 72.0, "km", control="control")
    root = ET.fromstring(svg)
    paths = root.findall(".//s:path", NS)
    assert [p.get("data-series") for p in paths] == ["t<1>", "control"]  # control drawn last
    for path, (_, points) in zip(paths, reversed(arms), strict=True):
        xy = [tuple(map(float, pair.split(","))) for pair in (path.get("data-xy") or "").split()]
        assert xy == points
        coords = [float(v) for v in re.findall(r"[-\d.]+", path.get("d") or "")]
        xs, ys = coords[0::2], coords[1::2]
        assert all(64 <= x <= 944 for x in xs) and all(16 <= y <= 300 for y in ys)
        assert xs == sorted(xs) and ys == sorted(ys)  # rightwards, and downwards on screen
    assert "t&lt;1&gt;" in svg and "<1>" not in svg


def test_the_retention_chart_labels_a_line_above_its_highest_point() -> None:
    svg = retention_chart([("control", [(0.0, 0.57), (1.0, 0.3)]), ("b", [(0.0, 0.5)])], "r")
    root = ET.fromstring(svg)
    assert len(root.findall(".//s:polyline", NS)) == 2
    ticks = [t.text for t in root.findall(".//s:text[@class='tick']", NS)]
    assert "60%" in ticks


def test_empty_charts_say_so() -> None:
    assert "No unit has reached" in retention_chart([("control", [])], "r")
    assert "No unit exposed yet" in km_chart([], 72.0, "km")
