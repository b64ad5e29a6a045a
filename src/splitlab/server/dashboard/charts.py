"""Charts as inline SVG, rendered on the server: no JavaScript chart library, no CDN.

Each function takes plain numbers and returns an SVG string (every text escaped). The marks
carry ``data-*`` attributes with their values so that tests (and curious readers) can check
what was drawn without measuring pixels. Colours come from CSS classes in ``dashboard.css``
(``series-0`` ... ``series-5``), so the page's style decides them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

#: Widths in SVG units, about the size the chart is shown at on a wide screen, so that text
#: keeps its CSS size: a full-width card, and half a card (the side-by-side pair).
WIDTH = 960
HALF_WIDTH = 480
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
    #: How the look's own decision treated this point (recorded by the engine, not re-judged
    #: here): ``inside`` (not significant), ``decided`` (significant and the decision acted
    #: on it) or ``held`` (significant, but the decision was to keep running).
    state: str = "inside"
    #: The look's decision, in words, for the mark's tooltip.
    note: str = ""


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


def _svg(height: int, title: str, body: list[str], width: int = WIDTH) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
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
               height: int = 260, highlight: str | None = None,
               markers: Sequence[tuple[float, str]] = ()) -> str:  # fmt: skip
    """Lines over a shared x axis (for exposures per variant over time).

    ``highlight`` names the series drawn last (on top) in its own dark, dashed style (the
    control), so lines that overlap it cannot hide it. ``markers`` are vertical lines at an x
    value with a label (the latest look's data cut-off).
    """
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    if not xs:
        return _svg(60, title, ['<text class="empty" x="10" y="30">No data yet.</text>'])
    x = _Scale(min(xs), max(xs), PAD_LEFT, WIDTH - PAD_RIGHT)
    ticks = _nice_ticks(0.0, max(ys) or 1.0)
    legend_height = 26
    y = _Scale(0.0, max(ticks[-1], max(ys)), height - PAD_BOTTOM, PAD_TOP + legend_height)
    body = _y_axis(y, ticks, PAD_LEFT, WIDTH - PAD_RIGHT)
    shown = sorted(x_labels)
    step = max(1, math.ceil(len(shown) / 10))
    for value in shown[::step]:
        anchor = "start" if value == shown[0] else "end" if value == shown[-1] else "middle"
        body.append(
            f'<text class="tick" x="{x(value):.1f}" y="{height - PAD_BOTTOM + 18}" '
            f'text-anchor="{anchor}">{escape(x_labels[value])}</text>'
        )
    for at, label in markers:
        mx = x(min(max(at, min(xs)), max(xs)))
        body.append(
            f'<g class="marker" data-marker="{escape(label)}"><line x1="{mx:.1f}" x2="{mx:.1f}" '
            f'y1="{PAD_TOP + legend_height}" y2="{height - PAD_BOTTOM}"/>'
            f'<text class="tick" x="{mx - 6:.1f}" y="{height - PAD_BOTTOM - 8}" '
            f'text-anchor="end">{escape(label)}</text></g>'
        )
    order = sorted(range(len(series)), key=lambda i: series[i].name == highlight)
    legend_x = PAD_LEFT
    legend: list[str] = []
    lines: list[str] = []
    for i, s in enumerate(series):
        style = "control" if s.name == highlight else f"series-{i % 6}"
        lx, ly = legend_x, PAD_TOP + 6
        legend_x += 30 + 8 * len(s.name) + 24
        legend.append(
            f'<g class="legend" data-legend="{escape(s.name)}"><line class="line {style}" '
            f'x1="{lx}" x2="{lx + 24}" y1="{ly - 5}" y2="{ly - 5}"/><text class="label {style}" '
            f'x="{lx + 30}" y="{ly}">{escape(s.name)}</text></g>'
        )
    for i in order:
        s = series[i]
        style = "control" if s.name == highlight else f"series-{i % 6}"
        pts = " ".join(f"{x(px):.1f},{y(py):.1f}" for px, py in s.points)
        lines.append(
            f'<polyline class="line {style}" data-series="{escape(s.name)}" '
            f'data-points="{len(s.points)}" points="{pts}"/>'
        )
    return _svg(height, title, body + lines + legend)


def forest_plot(rows: Sequence[Interval], title: str, unit: str = "%") -> str:
    """Intervals of several comparisons around a zero line (one row each)."""
    finite = [r for r in rows if all(math.isfinite(v) for v in (r.estimate, r.lower, r.upper))]
    if not finite:
        return _svg(60, title, ['<text class="empty" x="10" y="30">No estimates yet.</text>'])
    row_height = 28
    label_width = min(WIDTH // 2, max(120, 8 * max(len(r.label) for r in finite) + 24))
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


def sequential_chart(
    points: Sequence[LookPoint], max_looks: int, title: str, width: int = HALF_WIDTH
) -> str:
    """The primary metric's test statistic at each look against the sequential boundary.

    The boundary (critical |z| at that look) is drawn as a stepped band. Each point is marked
    as the look's own recorded result says (:attr:`LookPoint.state`), never by re-comparing
    the statistic with the boundary here: filled red when significant and acted on, hollow
    when significant but the decision was to keep running (for instance below the planned
    sample, where the engine does not stop early), plain otherwise.
    """
    usable = [p for p in points if p.z is not None and math.isfinite(p.z)]
    if not usable:
        return _svg(60, title, ['<text class="empty" x="10" y="30">No looks yet.</text>'], width)
    height = 260
    right = width - PAD_RIGHT
    bounds = [p.boundary for p in points if p.boundary is not None and math.isfinite(p.boundary)]
    top = max([abs(p.z) for p in usable if p.z is not None] + bounds + [2.5]) * 1.1
    last = max(max_looks, max(p.look for p in points))
    x = _Scale(0.5, last + 0.5, PAD_LEFT, right)
    y = _Scale(-top, top, height - PAD_BOTTOM, PAD_TOP)
    body = _y_axis(y, _nice_ticks(-top, top), PAD_LEFT, right)
    body += _look_ticks(x, last, height)
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
    body.append(f'<line class="zero" x1="{PAD_LEFT}" x2="{right}" '
                f'y1="{zero:.1f}" y2="{zero:.1f}"/>')  # fmt: skip
    path = " ".join(f"{x(p.look):.1f},{y(p.z or 0.0):.1f}" for p in usable)
    body.append(f'<polyline class="line series-0" data-series="z" points="{path}"/>')
    for p in usable:
        body.append(
            f'<circle class="look state-{escape(p.state)}" cx="{x(p.look):.1f}" '
            f'cy="{y(p.z or 0.0):.1f}" r="5" data-look="{p.look}" data-z="{p.z!r}" '
            f'data-boundary="{p.boundary!r}" data-state="{escape(p.state)}" '
            f'data-note="{escape(p.note)}"/>'
        )
    body.append(f'<text class="axis-title" x="8" y="{PAD_TOP + 10}">z</text>')
    return _svg(height, title, body, width)


def _look_ticks(x: _Scale, last: int, height: int) -> list[str]:
    step = max(1, math.ceil(last / 6))
    return [
        f'<text class="tick" x="{x(look):.1f}" y="{height - PAD_BOTTOM + 18}" '
        f'text-anchor="middle">look {look}</text>'
        for look in range(1, last + 1, step)
    ]


def effect_chart(
    points: Sequence[LookPoint], max_looks: int, title: str, unit: str = "%",
    width: int = HALF_WIDTH,
) -> str:  # fmt: skip
    """The primary metric's cumulative effect estimate and interval at each look."""
    usable = [p for p in points
              if all(math.isfinite(v) for v in (p.estimate, p.lower, p.upper))]  # fmt: skip
    if not usable:
        return _svg(60, title, ['<text class="empty" x="10" y="30">No looks yet.</text>'], width)
    height = 260
    right = width - PAD_RIGHT
    low = min(0.0, *(p.lower for p in usable))
    high = max(0.0, *(p.upper for p in usable))
    margin = (high - low) * 0.1 or 1.0
    last = max(max_looks, max(p.look for p in usable))
    x = _Scale(0.5, last + 0.5, PAD_LEFT, right)
    y = _Scale(low - margin, high + margin, height - PAD_BOTTOM, PAD_TOP)
    body = _y_axis(y, _nice_ticks(low - margin, high + margin), PAD_LEFT, right, unit)
    zero = y(0.0)
    body.append(f'<line class="zero" x1="{PAD_LEFT}" x2="{right}" '
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
    body += _look_ticks(x, last, height)
    return _svg(height, title, body, width)


@dataclass(frozen=True, slots=True)
class Cell:
    """One switchback cell: a unit (None: the one global unit), a period and its variant."""

    unit: str | None
    period: int
    variant: str
    #: True when the cell had no counted events (drawn faint).
    empty: bool = False


def cell_chart(cells: Sequence[Cell], variants: Sequence[str], period_label: Callable[[int], str],
               title: str, control: str | None = None, max_periods: int = 336) -> str:  # fmt: skip
    """Which variant each (unit, period) cell had: one row per unit, one column per period.

    Consecutive periods of a row with the same variant are drawn as one rectangle carrying
    ``data-unit``, ``data-from``, ``data-to`` (period indexes) and ``data-variant``; a period
    with no cell stays blank and empty cells (no events) are drawn faint (``cell empty``,
    ``data-empty``). Only the latest ``max_periods`` periods are drawn.
    """
    if not cells:
        return _svg(60, title, ['<text class="empty" x="10" y="30">No cells yet.</text>'])
    last = max(c.period for c in cells)
    first = max(min(c.period for c in cells), last - max_periods + 1)
    by_unit: dict[str | None, dict[int, tuple[str, bool]]] = {}
    for c in cells:
        if c.period >= first:
            by_unit.setdefault(c.unit, {})[c.period] = (c.variant, c.empty)
    units = sorted(by_unit, key=lambda u: (u is not None, u or ""))
    names = [u if u is not None else "all traffic" for u in units]
    row, legend_height = 18, 26
    left = max(72, 8 * max(len(n) for n in names) + 20)
    height = PAD_TOP + legend_height + row * len(units) + PAD_BOTTOM
    x = _Scale(float(first), float(last + 1), left, WIDTH - PAD_RIGHT)
    style = {v: "control" if v == control else f"series-{i % 6}" for i, v in enumerate(variants)}
    body: list[str] = []
    legend_x = left
    for v in variants:
        body.append(
            f'<g class="legend" data-legend="{escape(v)}"><rect class="cell {style[v]}" '
            f'x="{legend_x}" y="{PAD_TOP}" width="14" height="12"/><text class="label" '
            f'x="{legend_x + 20}" y="{PAD_TOP + 11}">{escape(v)}</text></g>'
        )
        legend_x += 20 + 8 * len(v) + 24
    top = PAD_TOP + legend_height
    drawn = 0
    for i, (unit, name) in enumerate(zip(units, names, strict=True)):
        y = top + row * i
        body.append(f'<text class="row-label" x="{left - 8}" y="{y + 13}" '
                    f'text-anchor="end">{escape(name)}</text>')  # fmt: skip
        periods = sorted(by_unit[unit])
        k = 0
        while k < len(periods):
            start, (variant, empty) = periods[k], by_unit[unit][periods[k]]
            end = start
            while k + 1 < len(periods) and periods[k + 1] == end + 1 \
                    and by_unit[unit][periods[k + 1]] == (variant, empty):  # fmt: skip
                k += 1
                end = periods[k]
            k += 1
            drawn += end - start + 1
            label = f"{name}: {variant}, {period_label(start)}"
            label += f" to {period_label(end + 1)}" if end > start else ""
            label += " (no events)" if empty else ""
            body.append(
                f'<rect class="cell {style.get(variant, "series-5")}{" empty" if empty else ""}" '
                f'data-unit="{escape(name)}" data-from="{start}" data-to="{end}" '
                f'data-variant="{escape(variant)}"{" data-empty" if empty else ""} '
                f'x="{x(start):.2f}" y="{y + 2}" '
                f'width="{x(end + 1) - x(start):.2f}" height="{row - 4}">'
                f"<title>{escape(label)}</title></rect>"
            )
    # Ticks at multiples of a round number of periods (1, 2, 3, 6, 12, 24, 48, ...), at most 8.
    span = last + 1 - first
    step = next((s for s in (1, 2, 3, 6, 12, 24, 48, 72, 96, 168) if span / s <= 8),
                math.ceil(span / 8))  # fmt: skip
    ticks = []
    for p in range(first + (-first) % step, last + 1, step):
        ticks.append(f'<line class="grid" x1="{x(p):.1f}" x2="{x(p):.1f}" y1="{top}" '
                    f'y2="{height - PAD_BOTTOM + 4}"/><text class="tick" x="{x(p):.1f}" '
                    f'y="{height - PAD_BOTTOM + 18}" text-anchor="middle">'
                    f"{escape(period_label(p))}</text>")  # fmt: skip
    return _svg(height, title, [f'<g class="cells" data-cells="{drawn}" '
                                f'data-units="{len(units)}">', *ticks, *body, "</g>"])  # fmt: skip
