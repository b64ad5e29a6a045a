"""The per-interval canary data computed by hand with numpy, independently of the SQL."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from splitlab.config.adaptive import CanaryMetric
from splitlab.stats.intervals import IntervalArm
from splitlab.stats.sketch import Sketch
from splitlab.tracking.events import Event


def reference_rows(
    events: Sequence[Event],
    experiment_id: str,
    metric: CanaryMetric,
    start_ms: int,
    end_ms: int,
    interval_ms: int,
    variants: Sequence[str],
) -> list[tuple[int, str, str, float]]:
    """The counted events ``(interval, variant, unit, value)``."""
    seen: set[str] = set()
    first: dict[str, tuple[int, str]] = {}
    arms: dict[str, set[str]] = {}
    for e in events:
        if e.event_id in seen or e.type != "exposure" or e.experiment_id != experiment_id:
            continue
        seen.add(e.event_id)
        if e.timestamp >= end_ms:
            continue
        arms.setdefault(e.unit_id, set()).add(e.variant)
        if e.unit_id not in first or e.timestamp < first[e.unit_id][0]:
            first[e.unit_id] = (e.timestamp, e.variant)
    rows: list[tuple[int, str, str, float]] = []
    for e in events:
        if e.event_id in seen or e.type != "metric":
            continue
        seen.add(e.event_id)
        if e.experiment_id != experiment_id or e.metric != metric.event_name:
            continue
        if not start_ms <= e.timestamp < end_ms or e.unit_id not in first:
            continue
        t0, variant = first[e.unit_id]
        if len(arms[e.unit_id]) > 1 or e.timestamp < t0 or variant not in variants:
            continue
        assert e.value is not None
        rows.append(((e.timestamp - start_ms) // interval_ms, variant, e.unit_id, e.value))
    return rows


def reference_intervals(
    events: Sequence[Event],
    experiment_id: str,
    metric: CanaryMetric,
    start_ms: int,
    end_ms: int,
    interval_ms: int,
    variants: Sequence[str],
) -> dict[int, dict[str, IntervalArm]]:
    """The rules of docs/canary.md, applied event by event (duplicate ids counted once)."""
    rows = reference_rows(events, experiment_id, metric, start_ms, end_ms, interval_ms, variants)
    out: dict[int, dict[str, IntervalArm]] = {}
    for k in sorted({r[0] for r in rows}):
        for variant in variants:
            values = [(u, v) for kk, var, u, v in rows if kk == k and var == variant]
            if not values:
                continue
            units = sorted({u for u, _ in values})
            n_u = np.array([sum(1 for uu, _ in values if uu == u) for u in units], dtype=float)
            y_u = np.array([sum(v for uu, v in values if uu == u) for u in units])
            x = np.array([v for _, v in values])
            sketch = Sketch.from_values(x) if metric.kind in ("mann_whitney", "quantile") else None
            out.setdefault(k, {})[variant] = IntervalArm(
                len(units), int(n_u.sum()), float(np.sum(n_u * n_u)), float(y_u.sum()),
                float(np.sum(y_u * y_u)), float(np.sum(y_u * n_u)), float(np.sum(x * x)), sketch,
            )  # fmt: skip
    return out
