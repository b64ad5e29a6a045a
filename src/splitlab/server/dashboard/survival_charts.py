"""The retention curve and the Kaplan-Meier curve of a look, as inline SVG (see
:mod:`splitlab.server.dashboard.charts` for the conventions: plain numbers in, an SVG string
out, every text escaped, colours from ``dashboard.css``).

* :func:`retention_chart`: per arm, the share of eligible units retained on each day after
  their first exposure (a line with a dot per day).
* :func:`km_chart`: per arm, the Kaplan-Meier estimate of the share of units still without the
  event, by hours since their first exposure, up to the metric's horizon (a step curve).

Each arm's mark carries ``data-series`` (the arm) and ``data-xy`` (its points in data units,
``x,y`` pairs separated by spaces) so that a test can read what was drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from splitlab.server.dashboard.charts import (
    PAD_BOTTOM,
    PAD_LEFT,
    PAD_RIGHT,
    PAD_TOP,
    WIDTH,
    _fmt,
    _nice_ticks,
    _Scale,
    _svg,
)

__all__ = ["km_chart", "retention_chart"]

Points = Sequence[tuple[float, float]]
_LEGEND = 26
_EMPTY = '<text class="empty" x="10" y="30">{}</text>'


def _style(name: str, index: int, control: str | None) -> str:
    return "control" if name == control else f"series-{index % 6}"


def _legend(names: Sequence[str], styles: Sequence[str]) -> list[str]:
    out, x, y = [], float(PAD_LEFT), PAD_TOP + 6
    for name, style in zip(names, styles, strict=True):
        out.append(
            f'<g class="legend" data-legend="{escape(name)}"><line class="line {style}" '
            f'x1="{x}" x2="{x + 24}" y1="{y - 5}" y2="{y - 5}"/><text class="label {style}" '
            f'x="{x + 30}" y="{y}">{escape(name)}</text></g>'
        )
        x += 30 + 8 * len(name) + 24
    return out


def _axes(x: _Scale, y: _Scale, x_ticks: Sequence[float], y_ticks: Sequence[float],
          height: int, x_title: str, y_title: str) -> list[str]:  # fmt: skip
    """Grid lines with percentage labels on y, tick labels on x, and both axis titles."""
    body = []
    for t in y_ticks:
        ty = y(t)
        body.append(
            f'<line class="grid" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{ty:.1f}" '
            f'y2="{ty:.1f}"/><text class="tick" x="{PAD_LEFT - 6}" y="{ty + 4:.1f}" '
            f'text-anchor="end">{escape(_fmt(t * 100))}%</text>'
        )
    for t in x_ticks:
        body.append(
            f'<text class="tick" x="{x(t):.1f}" y="{height - PAD_BOTTOM + 16}" '
            f'text-anchor="middle">{escape(_fmt(t))}</text>'
        )
    middle = (PAD_TOP + _LEGEND + height - PAD_BOTTOM) / 2
    body.append(
        f'<text class="axis-title x-title" x="{(PAD_LEFT + WIDTH - PAD_RIGHT) / 2:.1f}" '
        f'y="{height - 4}" text-anchor="middle">{escape(x_title)}</text>'
        f'<text class="axis-title y-title" x="14" y="{middle:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {middle:.1f})">{escape(y_title)}</text>'
    )
    return body


def _xy(points: Points) -> str:
    return " ".join(f"{px!r},{py!r}" for px, py in points)


def retention_chart(arms: Sequence[tuple[str, Points]], title: str,
                    control: str | None = None, height: int = 280) -> str:  # fmt: skip
    """Per arm ``(name, [(day, rate), ...])``: the retention rate (0..1) on each day after
    the first exposure; days without eligible units are left out by the caller."""
    drawn = [(name, list(points)) for name, points in arms if points]
    if not drawn:
        return _svg(60, title, [_EMPTY.format("No unit has reached its first full day yet.")])
    days = [d for _, points in drawn for d, _ in points]
    top = max(r for _, points in drawn for _, r in points)
    y_ticks = _nice_ticks(0.0, max(top, 0.01))
    step = y_ticks[1] - y_ticks[0] if len(y_ticks) > 1 else 0.1
    while y_ticks[-1] < top:  # a labelled line at or above the highest point
        y_ticks.append(round(y_ticks[-1] + step, 12))
    x = _Scale(min(days), max(days), PAD_LEFT + 8, WIDTH - PAD_RIGHT - 8)
    y = _Scale(0.0, max(y_ticks[-1], top), height - PAD_BOTTOM, PAD_TOP + _LEGEND)
    span = max(days) - min(days)
    x_ticks = [d for d in _nice_ticks(min(days), max(days), 8) if float(d).is_integer()]
    body = _axes(x, y, x_ticks or [min(days)], y_ticks, height,
                 "Days after first exposure", "Retained")  # fmt: skip
    names = [name for name, _ in drawn]
    styles = [_style(n, i, control) for i, n in enumerate(names)]
    order = sorted(range(len(drawn)), key=lambda i: names[i] == control)
    for i in order:
        name, points = drawn[i]
        pts = " ".join(f"{x(d):.1f},{y(r):.1f}" for d, r in points)
        body.append(
            f'<polyline class="line retention {styles[i]}" data-series="{escape(name)}" '
            f'data-xy="{_xy(points)}" points="{pts}"/>'
        )
        if span <= 60:  # a dot per day while they stay apart
            for d, r in points:
                body.append(
                    f'<circle class="quantile {styles[i]}" cx="{x(d):.1f}" cy="{y(r):.1f}" '
                    f'r="3"><title>{escape(name)} day {d:g}: {r:.1%}</title></circle>'
                )
    return _svg(height, title, body + _legend(names, styles))


def _steps(points: Points, horizon: float) -> list[tuple[float, float]]:
    """The corners of a right-continuous step curve from (0, 1) through `points` (each the
    value just after that time, as :func:`splitlab.stats.survival.km_curve` gives them; the
    last point is where the follow-up ends, at most the horizon: nothing is drawn past it)."""
    corners = [(0.0, 1.0)]
    level = 1.0
    for t, s in points:
        t = min(max(t, 0.0), horizon)
        if t > corners[-1][0]:
            corners.append((t, level))
        if s != level:
            corners.append((t, s))
            level = s
    return corners


def km_chart(arms: Sequence[tuple[str, Points]], horizon: float, title: str,
             control: str | None = None, height: int = 300) -> str:  # fmt: skip
    """Per arm ``(name, [(hours, S), ...])``: the Kaplan-Meier share still without the event
    just after each time, drawn as a step curve from (0, 100 %) on an axis up to the horizon."""
    drawn = [(name, list(points)) for name, points in arms]
    if not drawn or horizon <= 0:
        return _svg(60, title, [_EMPTY.format("No unit exposed yet.")])
    low = min([1.0, *(s for _, points in drawn for _, s in points)])
    y_ticks = _nice_ticks(max(0.0, low - 0.05), 1.0)
    bottom = min(y_ticks[0], low)
    x = _Scale(0.0, horizon, PAD_LEFT + 8, WIDTH - PAD_RIGHT - 8)
    y = _Scale(bottom, 1.0, height - PAD_BOTTOM, PAD_TOP + _LEGEND)
    body = _axes(x, y, _nice_ticks(0.0, horizon, 8), y_ticks, height,
                 "Hours since first exposure", "Without the event")  # fmt: skip
    names = [name for name, _ in drawn]
    styles = [_style(n, i, control) for i, n in enumerate(names)]
    order = sorted(range(len(drawn)), key=lambda i: names[i] == control)
    for i in order:
        name, points = drawn[i]
        corners = _steps(points, horizon)
        path = "M" + " L".join(f"{x(t):.1f},{y(s):.1f}" for t, s in corners)
        body.append(
            f'<path class="line km {styles[i]}" data-series="{escape(name)}" '
            f'data-xy="{_xy(points)}" d="{path}"><title>{escape(name)}: '
            f"{corners[-1][1]:.1%} still without the event at "
            f"{_fmt(corners[-1][0])} h</title></path>"
        )
    return _svg(height, title, body + _legend(names, styles))
