"""The per-interval data of a canary metric, inside DuckDB (see :mod:`splitlab.stats.intervals`).

Rules (docs/canary.md):

* An event counts when it is a metric event of this experiment with the metric's event name,
  at or after ``start`` and before ``end`` (half-open), and at or after its unit's first
  exposure in this experiment (as in the summary).
* It is attributed to the variant of its unit's first exposure before ``end``; a unit exposed
  to more than one variant is left out (as in the summary).
* Interval ``k = floor((ts - start) / interval)``; per (interval, variant) the events are
  grouped by unit: ``units``, ``n`` (events), ``n_sq`` (sum of N_u squared), ``sum`` (sum of
  Y_u), ``sum_sq`` (sum of Y_u squared), ``sum_product`` (sum of Y_u N_u) and
  ``event_sum_sq`` (sum of squared event values).
* For the kinds that need a distribution (``mann_whitney``, ``quantile``), a second query
  counts the values per log bucket with the key of :mod:`splitlab.stats.sketch`:
  ``ceil(ln |x| / LOG_GAMMA)``, with the sign apart and zeros counted on their own; the
  constant is written as ``repr(LOG_GAMMA)``, so SQL and Python compute the same key.

Only the per-interval sums and bucket counts leave the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from splitlab.config.adaptive import CanaryMetric
from splitlab.config.models import Experiment
from splitlab.stats.intervals import IntervalArm
from splitlab.stats.sketch import LOG_GAMMA, Sketch
from splitlab.store.errors import StoreError
from splitlab.store.summary_sql import cutoff_millis

#: Metric kinds whose intervals carry the values' sketch.
SKETCH_KINDS = frozenset({"mann_whitney", "quantile"})

#: The bucket key of a non-zero value ``value`` (SQL shared by both dialects).
BUCKET_KEY = f"CEIL(LN(abs(value)) / {LOG_GAMMA!r})"

#: The columns of the moments query, in order (after ``k`` and ``variant``).
MOMENT_COLUMNS = ("units", "n", "n_sq", "s", "ss", "sp", "ess")


@dataclass(frozen=True)
class IntervalPlan:
    """The canary queries of one metric and window: moments per (interval, variant), and (for
    sketch kinds) the bucket counts per (interval, variant, sign, key)."""

    moments_sql: str
    sketch_sql: str | None
    params: dict[str, Any]


def window_params(
    experiment: Experiment,
    metric: CanaryMetric,
    start: datetime,
    end: datetime,
    interval_seconds: int,
) -> dict[str, Any]:
    """The parameters shared by both dialects; a bad window is a :class:`StoreError`."""
    if interval_seconds <= 0:
        raise StoreError(f"interval_seconds: expected a positive number (got {interval_seconds})")
    start_ms, end_ms = cutoff_millis(start), cutoff_millis(end)
    if end_ms < start_ms:
        raise StoreError(f"end {end.isoformat()}: expected at or after start {start.isoformat()}")
    return {
        "exp": experiment.experiment_id,
        "name": metric.event_name,
        "start": start_ms,
        "end": end_ms,
        "interval": int(interval_seconds) * 1000,
    }


def plan_intervals(
    experiment: Experiment,
    metric: CanaryMetric,
    start: datetime,
    end: datetime,
    interval_seconds: int,
) -> IntervalPlan:
    """The DuckDB queries for :func:`intervals_from_rows`."""
    params = window_params(experiment, metric, start, end, interval_seconds)
    events = """
WITH first AS (
  SELECT unit_key, min(ts) AS t0, arg_min(variant, ts) AS variant,
         min(variant) <> max(variant) AS multi
  FROM exposures WHERE experiment_id = $exp AND ts < $end GROUP BY unit_key
), ev AS (
  SELECT (me.ts - $start) // $interval AS k, f.variant, me.unit_key, me.value
  FROM metric_events me JOIN first f ON me.unit_key = f.unit_key
  WHERE me.experiment_id = $exp AND me.metric = $name AND me.ts >= $start
    AND me.ts < $end AND me.ts >= f.t0 AND NOT f.multi
)"""
    moments = f"""{events}
SELECT k, variant, count(*) AS units, sum(n) AS n, sum(n * n)::DOUBLE AS n_sq, sum(y) AS s,
       sum(y * y) AS ss, sum(y * n) AS sp, sum(yy) AS ess
FROM (
  SELECT k, variant, unit_key, count(*) AS n, sum(value) AS y, sum(value * value) AS yy
  FROM ev GROUP BY k, variant, unit_key
) GROUP BY k, variant"""
    sketch = None
    if metric.kind in SKETCH_KINDS:
        sketch = f"""{events}
SELECT k, variant, sign(value)::INTEGER AS sg,
       CASE WHEN value = 0 THEN 0 ELSE {BUCKET_KEY}::BIGINT END AS b, count(*) AS c
FROM ev GROUP BY k, variant, sg, b"""
    return IntervalPlan(moments, sketch, params)


def intervals_from_rows(
    experiment: Experiment,
    metric: CanaryMetric,
    moments: Iterable[Sequence[Any]],
    buckets: Iterable[Sequence[Any]] | None,
) -> dict[int, dict[str, IntervalArm]]:
    """``{interval: {variant: IntervalArm}}`` from the rows of both queries (either dialect).

    Variants not in the definition are left out; an interval appears only when it has events.
    """
    known = set(experiment.variant_names)
    sketches: dict[tuple[int, str], tuple[int, dict[int, int], dict[int, int]]] = {}
    for k, variant, sign, key, count in buckets or ():
        if variant not in known:
            continue
        zeros, positive, negative = sketches.get((int(k), variant), (0, {}, {}))
        if int(sign) == 0:
            zeros += int(count)
        else:
            side = positive if int(sign) > 0 else negative
            side[int(key)] = side.get(int(key), 0) + int(count)
        sketches[(int(k), variant)] = (zeros, positive, negative)
    out: dict[int, dict[str, IntervalArm]] = {}
    for row in moments:
        k, variant = int(row[0]), row[1]
        if variant not in known:
            continue
        units, n, n_sq, s, ss, sp, ess = row[2:9]
        sketch = None
        if buckets is not None:
            zeros, positive, negative = sketches.get((k, variant), (0, {}, {}))
            sketch = Sketch(zeros, positive, negative)
        out.setdefault(k, {})[variant] = IntervalArm(
            int(units),
            int(n),
            float(n_sq),
            float(s),
            float(ss),
            float(sp),
            float(ess),
            sketch,
        )
    return {k: out[k] for k in sorted(out)}
