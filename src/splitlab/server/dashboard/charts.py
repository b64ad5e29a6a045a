"""Charts as inline SVG, rendered on the server: no JavaScript chart library, no CDN.

Each function takes plain numbers and returns an SVG string (every text escaped). The marks
carry ``data-*`` attributes with their values so that tests (and curious readers) can check
what was drawn without measuring pixels. Colours come from CSS classes in ``dashboard.css``
(``series-0`` ... ``series-5``), so the page's style decides them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 640
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 64, 16, 16, 40


@dataclass(frozen=True, slots=True)
class Series:
    """A named line: y values at x positions (x as numbers, with labels for the axis)."""

    name: str
    points: Sequence[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class Interval:
    """One row of a forest plot."""

    label: str
    estimate: float
    lower: float
    upper: float
    tone: str = "neutral"  # better | worse | neutral


@dataclass(frozen=True, slots=True)
class LookPoint:
    """The primary metric's evidence at one look."""

    look: int
    estimate: float
    lower: float
    upper: float
    z: float | None
    boundary: float | None


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.4g}"
    return f"{value:.3g}"


class _Scale:
    def __init__(self, low: float, high: float, start: float, end: float) -> None:
        if high <= low:
            low, high = low - 1.0, high + 1.0
        self.low, self.high, self.start, self.end = low, high, start, end

    def __call__(self, value: float) -> float:
        return self.start + (value - self.low) / (self.high - self.low) * (self.end - self.start)


def _svg(height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _y_axis(scale: _Scale, ticks: list[float], x0: float, x1: float, unit: str = "") -> list[str]:
    out = []
    for t in ticks:
        y = scale(t)
        out.append(f'<line class="grid" x1="{x0:.1f}" x2="{x1:.1f}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(
            f'<text class="tick" x="{x0 - 6:.1f}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_fmt(t) + unit)}</text>"
        )
    return out


def line_chart(series: Sequence[Series], x_labels: dict[float, str], title: str,
               height: int = 240) -> str:  # fmt: skip
    """Lines over a shared x axis (for exposures per variant over time)."""
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    if not xs:
        return _svg(60, title, ['<text class="empty" x="10" y="30">No data yet.</text>'])
    x = _Scale(min(xs), max(xs), PAD_LEFT, WIDTH - PAD_RIGHT)
    ticks = _nice_ticks(0.0, max(ys) or 1.0)
    legend_height = 22
    y = _Scale(0.0, max(ticks[-1], max(ys)), height - PAD_BOTTOM, PAD_TOP + legend_height)
    body = _y_axis(y, ticks, PAD_LEFT, WIDTH - PAD_RIGHT)
    shown = sorted(x_labels)
    step = max(1, math.ceil(len(shown) / 8))
    for value in shown[::step]:
        anchor = "start" if value == shown[0] else "end" if value == shown[-1] else "middle"
        body.append(
            f'<text class="tick" x="{x(value):.1f}" y="{height - PAD_BOTTOM + 16}" '
            f'text-anchor="{anchor}">{escape(x_labels[value])}</text>'
        )
    legend_x = PAD_LEFT
    for i, s in enumerate(series):
        pts = " ".join(f"{x(px):.1f},{y(py):.1f}" for px, py in s.points)
        body.append(
            f'<polyline class="line series-{i % 6}" data-series="{escape(s.name)}" '
            f'data-points="{len(s.points)}" points="{pts}"/>'
        )
        lx, ly = legend_x, PAD_TOP + 4
        legend_x += 24 + 7 * len(s.name) + 18
        body.append(
            f'<line class="line series-{i % 6}" x1="{lx}" x2="{lx + 18}" y1="{ly - 4}" '
            f'y2="{ly - 4}"/><text class="label series-{i % 6}" x="{lx + 24}" y="{ly}">'
            f"{escape(s.name)}</text>"
        )
    return _svg(height, title, body)


def forest_plot(rows: Sequence[Interval], title: str, unit: str = "%") -> str:
    """Intervals of several comparisons around a zero line (one row each)."""
    finite = [r for r in rows if all(math.isfinite(v) for v in (r.estimate, r.lower, r.upper))]
    if not finite:
        return _svg(60, title, ['<text class="empty" x="10" y="30">No estimates yet.</text>'])
    row_height, label_width = 28, 220
    height = PAD_TOP + row_height * len(finite) + PAD_BOTTOM
    low = min(0.0, *(r.lower for r in finite))
    high = max(0.0, *(r.upper for r in finite))
    margin = (high - low) * 0.08 or 1.0
    x = _Scale(low - margin, high + margin, label_width, WIDTH - PAD_RIGHT)
    body = []
    for t in _nice_ticks(low - margin, high + margin):
        body.append(
            f'<text class="tick" x="{x(t):.1f}" y="{height - PAD_BOTTOM + 18}" '
            f'text-anchor="middle">{escape(_fmt(t) + unit)}</text>'
        )
    zero = x(0.0)
    body.append(f'<line class="zero" x1="{zero:.1f}" x2="{zero:.1f}" y1="{PAD_TOP}" '
                f'y2="{height - PAD_BOTTOM}"/>')  # fmt: skip
    for i, r in enumerate(finite):
        cy = PAD_TOP + row_height * i + row_height / 2
        body.append(
            f'<g class="interval {escape(r.tone)}" data-label="{escape(r.label)}" '
            f'data-estimate="{r.estimate!r}" data-lower="{r.lower!r}" data-upper="{r.upper!r}">'
            f'<text class="row-label" x="{label_width - 10}" y="{cy + 4:.1f}" '
            f'text-anchor="end">{escape(r.label)}</text>'
            f'<line class="whisker" x1="{x(r.lower):.1f}" x2="{x(r.upper):.1f}" '
            f'y1="{cy:.1f}" y2="{cy:.1f}"/>'
            f'<circle class="estimate" cx="{x(r.estimate):.1f}" cy="{cy:.1f}" r="5"/></g>'
        )
    return _svg(height, title, body)


def sequential_chart(points: Sequence[LookPoint], max_looks: int, title: str) -> str:
    """The primary metric's test statistic at each look against the sequential boundary.

    The boundary (critical |z| at that look) is drawn as a stepped band; a statistic beyond
    it at a planned look is significant with the overall false-positive rate kept at alpha.
    """
    usable = [p for p in points if p.z is not None and math.isfinite(p.z)]
    if not usable:
        return _svg(60, title, ['<text class="empty" x="10" y="30">No looks yet.</text>'])
    height = 240
    bounds = [p.boundary for p in points if p.boundary is not None and math.isfinite(p.boundary)]
    top = max([abs(p.z) for p in usable if p.z is not None] + bounds + [2.5]) * 1.1
    x = _Scale(0.5, max(max_looks, max(p.look for p in points)) + 0.5, PAD_LEFT, WIDTH - PAD_RIGHT)
    y = _Scale(-top, top, height - PAD_BOTTOM, PAD_TOP)
    body = _y_axis(y, _nice_ticks(-top, top), PAD_LEFT, WIDTH - PAD_RIGHT)
    for look in range(1, max(max_looks, max(p.look for p in points)) + 1):
        body.append(
            f'<text class="tick" x="{x(look):.1f}" y="{height - PAD_BOTTOM + 16}" '
            f'text-anchor="middle">look {look}</text>'
        )
    upper, lower = [], []
    for p in points:
        if p.boundary is not None and math.isfinite(p.boundary):
            upper.append(f"{x(p.look - 0.4):.1f},{y(p.boundary):.1f} "
                         f"{x(p.look + 0.4):.1f},{y(p.boundary):.1f}")  # fmt: skip
            lower.append(f"{x(p.look - 0.4):.1f},{y(-p.boundary):.1f} "
                         f"{x(p.look + 0.4):.1f},{y(-p.boundary):.1f}")  # fmt: skip
    for name, coords in (("upper", upper), ("lower", lower)):
        if coords:
            body.append(f'<polyline class="boundary" data-boundary="{name}" '
                        f'data-points="{len(coords)}" points="{" ".join(coords)}"/>')  # fmt: skip
    zero = y(0.0)
    body.append(f'<line class="zero" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" '
                f'y1="{zero:.1f}" y2="{zero:.1f}"/>')  # fmt: skip
    path = " ".join(f"{x(p.look):.1f},{y(p.z or 0.0):.1f}" for p in usable)
    body.append(f'<polyline class="line series-0" data-series="z" points="{path}"/>')
    for p in usable:
        crossed = p.boundary is not None and abs(p.z or 0.0) >= p.boundary
        body.append(
            f'<circle class="look{" crossed" if crossed else ""}" cx="{x(p.look):.1f}" '
            f'cy="{y(p.z or 0.0):.1f}" r="5" data-look="{p.look}" data-z="{p.z!r}" '
            f'data-boundary="{p.boundary!r}"/>'
        )
    body.append(f'<text class="axis-title" x="12" y="{PAD_TOP + 4}">z</text>')
    return _svg(height, title, body)


def effect_chart(points: Sequence[LookPoint], max_looks: int, title: str, unit: str = "%") -> str:
    """The primary metric's cumulative effect estimate and interval at each look."""
    usable = [p for p in points
              if all(math.isfinite(v) for v in (p.estimate, p.lower, p.upper))]  # fmt: skip
    if not usable:
        return _svg(60, title, ['<text class="empty" x="10" y="30">No looks yet.</text>'])
    height = 220
    low = min(0.0, *(p.lower for p in usable))
    high = max(0.0, *(p.upper for p in usable))
    margin = (high - low) * 0.1 or 1.0
    last = max(max_looks, max(p.look for p in usable))
    x = _Scale(0.5, last + 0.5, PAD_LEFT, WIDTH - PAD_RIGHT)
    y = _Scale(low - margin, high + margin, height - PAD_BOTTOM, PAD_TOP)
    body = _y_axis(y, _nice_ticks(low - margin, high + margin), PAD_LEFT, WIDTH - PAD_RIGHT, unit)
    zero = y(0.0)
    body.append(f'<line class="zero" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" '
                f'y1="{zero:.1f}" y2="{zero:.1f}"/>')  # fmt: skip
    band = [f"{x(p.look):.1f},{y(p.upper):.1f}" for p in usable]
    band += [f"{x(p.look):.1f},{y(p.lower):.1f}" for p in reversed(usable)]
    body.append(f'<polygon class="band" points="{" ".join(band)}"/>')
    line = " ".join(f"{x(p.look):.1f},{y(p.estimate):.1f}" for p in usable)
    body.append(f'<polyline class="line series-1" data-series="effect" points="{line}"/>')
    for p in usable:
        body.append(
            f'<circle class="look" cx="{x(p.look):.1f}" cy="{y(p.estimate):.1f}" r="4" '
            f'data-look="{p.look}" data-estimate="{p.estimate!r}"/>'
        )
    for look in range(1, last + 1):
        body.append(f'<text class="tick" x="{x(look):.1f}" y="{height - PAD_BOTTOM + 16}" '
                    f'text-anchor="middle">look {look}</text>')  # fmt: skip
    return _svg(height, title, body)
