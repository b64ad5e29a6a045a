"""Inline SVG charts of the canary and bandit panels (same conventions as :mod:`charts`).

* :func:`cdf_chart`: the baseline's and the canary's distribution of a metric (latency) as
  cumulative curves, x on a logarithmic axis and y on a tail scale (50 %, 90 %, 99 %,
  99.9 % evenly spaced), drawn from their sketches' buckets; the quantiles p50, p90 and p99
  are marked on each curve.
* :func:`weights_chart`: each bandit arm's weight at every update (step lines: a weight
  holds until the next update).
* :func:`posterior_chart`: each arm's posterior mean of the reward and its 95 % credible
  interval, one row per arm.

Every mark carries its values in ``data-*`` attributes; colours come from ``dashboard.css``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np

from splitlab.server.dashboard.charts import (
    HALF_WIDTH,
    PAD_BOTTOM,
    PAD_LEFT,
    PAD_RIGHT,
    PAD_TOP,
    WIDTH,
    _fmt,
    _nice_ticks,
    _Scale,
    _svg,
    _y_axis,
)
from splitlab.stats.sketch import Sketch

_EMPTY = '<text class="empty" x="10" y="30">{}</text>'


def _style(name: str, index: int, control: str | None) -> str:
    return "control" if name == control else f"series-{index % 6}"


def _legend(names: Sequence[str], styles: Sequence[str], x0: float, y: float) -> list[str]:
    out, x = [], x0
    for name, style in zip(names, styles, strict=True):
        out.append(
            f'<g class="legend" data-legend="{escape(name)}"><line class="line {style}" '
            f'x1="{x}" x2="{x + 24}" y1="{y - 5}" y2="{y - 5}"/><text class="label {style}" '
            f'x="{x + 30}" y="{y}">{escape(name)}</text></g>'
        )
        x += 30 + 8 * len(name) + 24
    return out


def _log_ticks(low: float, high: float) -> list[float]:
    """1-2-5 ticks per decade inside [low, high] (at most about 8)."""
    ticks: list[float] = []
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for m in (1, 2, 5):
            t = m * 10.0**exponent
            if low <= t <= high:
                ticks.append(t)
    if len(ticks) > 8:
        ticks = [t for t in ticks if f"{t:e}".startswith("1")] or ticks
    return ticks


def _tail(share: float, floor: float) -> float:
    """The y position of a cumulative share on the tail scale: ``-log10(1 - share)``, so 50 %,
    90 %, 99 % and 99.9 % are evenly spaced (0.3, 1, 2, 3) and a p99 change is visible."""
    return -math.log10(max(1.0 - share, floor))


#: Shares labelled on the tail scale.
_TAIL_TICKS = ((0.0, "0%"), (0.5, "50%"), (0.9, "90%"), (0.99, "99%"), (0.999, "99.9%"),
               (0.9999, "99.99%"))  # fmt: skip


def cdf_chart(
    arms: Sequence[tuple[str, Sketch]], title: str, control: str | None = None,
    height: int = 300,
) -> str:  # fmt: skip
    """Cumulative share of observations at or below x: x on a log axis (positive values), y
    on a tail scale (:func:`_tail`) that gives p90, p99 and p99.9 as much room as the body."""
    curves = []
    for name, sketch in arms:
        values, counts = sketch.distinct()
        keep = values > 0
        values, counts = values[keep], counts[keep]
        if values.size and sketch.count:
            below = (sketch.count - int(counts.sum())) / sketch.count  # zeros and negatives
            curves.append((name, sketch, values, below + np.cumsum(counts) / sketch.count, below))
    if not curves:
        return _svg(60, title, [_EMPTY.format("No observations in this step yet.")])
    low = min(float(c[2][0]) for c in curves)
    high = max(float(c[2][-1]) for c in curves)
    if high <= low:
        low, high = low / 1.5, high * 1.5
    # The top of the scale: half an observation short of 100 % in the largest arm.
    floor = 0.5 / max(c[1].count for c in curves)
    legend_height = 26
    x = _Scale(math.log10(low), math.log10(high), PAD_LEFT, WIDTH - PAD_RIGHT)
    y = _Scale(0.0, -math.log10(floor), height - PAD_BOTTOM, PAD_TOP + legend_height)
    body = []
    for share, text in _TAIL_TICKS:
        if 1.0 - share < floor:
            break
        ty = y(_tail(share, floor))
        body.append(
            f'<line class="grid" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{ty:.1f}" '
            f'y2="{ty:.1f}"/><text class="tick" x="{PAD_LEFT - 6}" y="{ty + 4:.1f}" '
            f'text-anchor="end">{text}</text>'
        )
    for t in _log_ticks(low, high):
        body.append(
            f'<text class="tick" x="{x(math.log10(t)):.1f}" y="{height - PAD_BOTTOM + 18}" '
            f'text-anchor="middle">{escape(_fmt(t))}</text>'
        )
    names = [c[0] for c in curves]
    styles = [_style(n, i, control) for i, n in enumerate(names)]
    order = sorted(range(len(curves)), key=lambda i: curves[i][0] == control)
    for i in order:
        name, sketch, values, cumulative, below = curves[i]
        points, previous = [], y(_tail(below, floor))
        for value, share in zip(values.tolist(), cumulative.tolist(), strict=True):
            px, py = x(math.log10(value)), y(_tail(share, floor))
            points.append(f"{px:.1f},{previous:.1f} {px:.1f},{py:.1f}")
            previous = py
        body.append(
            f'<polyline class="line {styles[i]}" data-series="{escape(name)}" '
            f'data-count="{sketch.count}" points="{" ".join(points)}"/>'
        )
        for p in (0.5, 0.9, 0.99):
            q = sketch.quantile(p)
            if q > 0:
                body.append(
                    f'<circle class="quantile {styles[i]}" cx="{x(math.log10(q)):.1f}" '
                    f'cy="{y(_tail(p, floor)):.1f}" r="4" data-series="{escape(name)}" '
                    f'data-p="{p!r}" data-value="{q!r}"><title>{escape(name)} '
                    f"p{p * 100:g}: {escape(_fmt(q))}</title></circle>"
                )
    body += _legend(names, styles, PAD_LEFT, PAD_TOP + 6)
    return _svg(height, title, body)


@dataclass(frozen=True, slots=True)
class WeightPoint:
    """One arm's weight from an update on (``version``, at ``label``)."""

    version: int
    label: str
    weight: float


def weights_chart(
    series: Sequence[tuple[str, Sequence[WeightPoint]]], title: str,
    control: str | None = None, height: int = 280,
) -> str:  # fmt: skip
    """Each arm's weight (in percent of new units) as a step line over the updates."""
    versions = sorted({p.version for _, pts in series for p in pts})
    if not versions:
        return _svg(60, title, [_EMPTY.format("No weight update yet.")])
    legend_height = 26
    last = versions[-1] + 1
    x = _Scale(float(versions[0]), float(last), PAD_LEFT, WIDTH - PAD_RIGHT)
    ticks = [0.0, 25.0, 50.0, 75.0, 100.0]  # weights are shares: always the whole range
    percent = _Scale(0.0, 100.0, height - PAD_BOTTOM, PAD_TOP + legend_height)
    body = _y_axis(percent, ticks, PAD_LEFT, WIDTH - PAD_RIGHT, "%")

    def y(weight: float) -> float:
        return percent(weight * 100)

    labels = {}
    for _, pts in series:
        for p in pts:
            labels[p.version] = p.label
    step = max(1, math.ceil(len(versions) / 8))
    for v in versions[::step]:
        body.append(
            f'<text class="tick" x="{x(v):.1f}" y="{height - PAD_BOTTOM + 18}" '
            f'text-anchor="start">v{v}</text>'
            f'<text class="tick" x="{x(v):.1f}" y="{height - PAD_BOTTOM + 33}" '
            f'text-anchor="start">{escape(labels.get(v, ""))}</text>'
        )
    names = [name for name, _ in series]
    styles = [_style(n, i, control) for i, n in enumerate(names)]
    for i, (name, pts) in enumerate(series):
        ordered = sorted(pts, key=lambda p: p.version)
        coords = []
        for k, p in enumerate(ordered):
            end = ordered[k + 1].version if k + 1 < len(ordered) else last
            coords.append(f"{x(p.version):.1f},{y(p.weight):.1f} {x(end):.1f},{y(p.weight):.1f}")
        body.append(
            f'<polyline class="line {styles[i]}" data-series="{escape(name)}" '
            f'data-points="{len(ordered)}" data-last="{ordered[-1].weight!r}" '
            f'points="{" ".join(coords)}"/>'
        )
        for p in ordered:
            body.append(
                f'<circle class="weight {styles[i]}" cx="{x(p.version):.1f}" '
                f'cy="{y(p.weight):.1f}" r="3" data-series="{escape(name)}" '
                f'data-version="{p.version}" data-weight="{p.weight!r}"><title>{escape(name)} '
                f"v{p.version}: {p.weight * 100:.1f}%</title></circle>"
            )
    body += _legend(names, styles, PAD_LEFT, PAD_TOP + 6)
    return _svg(height + 15, title, body)


@dataclass(frozen=True, slots=True)
class Posterior:
    """One arm's posterior mean and 95 % credible interval of the reward."""

    arm: str
    mean: float
    lower: float
    upper: float
    best: bool = False


def posterior_chart(rows: Sequence[Posterior], title: str, width: int = HALF_WIDTH) -> str:
    """One row per arm: the posterior mean (dot) and 95 % credible interval (whisker)."""
    finite = [r for r in rows if all(math.isfinite(v) for v in (r.mean, r.lower, r.upper))]
    if not finite:
        return _svg(60, title, [_EMPTY.format("No posterior yet.")], width)
    row_height = 28
    label_width = min(width // 2, max(110, 8 * max(len(r.arm) for r in finite) + 24))
    height = PAD_TOP + row_height * len(finite) + PAD_BOTTOM
    low, high = min(r.lower for r in finite), max(r.upper for r in finite)
    margin = (high - low) * 0.08 or abs(high) * 0.1 or 1.0
    x = _Scale(low - margin, high + margin, label_width, width - PAD_RIGHT)
    body = []
    for t in _nice_ticks(low - margin, high + margin, 4):
        body.append(
            f'<line class="grid" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{PAD_TOP}" '
            f'y2="{height - PAD_BOTTOM}"/><text class="tick" x="{x(t):.1f}" '
            f'y="{height - PAD_BOTTOM + 18}" text-anchor="middle">{escape(_fmt(t))}</text>'
        )
    for i, r in enumerate(finite):
        cy = PAD_TOP + row_height * i + row_height / 2
        tone = "better" if r.best else "neutral"
        body.append(
            f'<g class="interval {tone}" data-arm="{escape(r.arm)}" data-mean="{r.mean!r}" '
            f'data-lower="{r.lower!r}" data-upper="{r.upper!r}">'
            f'<text class="row-label" x="{label_width - 10}" y="{cy + 4:.1f}" '
            f'text-anchor="end">{escape(r.arm)}</text>'
            f'<line class="whisker" x1="{x(r.lower):.1f}" x2="{x(r.upper):.1f}" '
            f'y1="{cy:.1f}" y2="{cy:.1f}"/>'
            f'<circle class="estimate" cx="{x(r.mean):.1f}" cy="{cy:.1f}" r="5"/></g>'
        )
    return _svg(height, title, body, width)
