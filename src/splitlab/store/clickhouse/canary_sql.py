"""The per-interval canary queries of :mod:`splitlab.store.canary_sql`, in ClickHouse's dialect.

Same rules, same numbers (the tests compare both stores on the same events). What differs:
units are matched by ``unit_id``, per-unit columns are named ``u...`` (ClickHouse reads
``sum(n) AS n`` as a cyclic alias), (the ClickHouse tables have no ``unit_key``), the first
exposure is ``argMin`` with ``HAVING uniqExact(variant) = 1`` (units exposed to more than one
variant left out), ``intDiv`` for the interval (the events are at or after ``start``, so it
is the floor), ``log`` for the natural logarithm, ``multiIf`` for the sign (18.16 has no ``sign``), and metric events deduplicated by
``event_id`` in the query (:func:`~splitlab.store.clickhouse.sql.metric_events`). The bucket
key uses the same ``repr(LOG_GAMMA)`` literal as DuckDB and :mod:`splitlab.stats.sketch`.
"""

from __future__ import annotations

from datetime import datetime

from splitlab.config.adaptive import CanaryMetric
from splitlab.config.models import Experiment
from splitlab.stats.sketch import LOG_GAMMA
from splitlab.store.canary_sql import SKETCH_KINDS, IntervalPlan, window_params
from splitlab.store.clickhouse.sql import Dedup, metric_events


def plan_clickhouse_intervals(
    db: str,
    experiment: Experiment,
    metric: CanaryMetric,
    start: datetime,
    end: datetime,
    interval_seconds: int,
    dedup: Dedup = "final",
) -> IntervalPlan:
    """The queries in database `db`, read back by ``canary_sql.intervals_from_rows``."""
    params = window_params(experiment, metric, start, end, interval_seconds)
    where = "experiment_id = $exp AND metric = $name AND ts >= $start AND ts < $end"
    events = metric_events(db, where, "unit_id, value, ts", dedup)
    first = f"""(
    SELECT unit_id, min(ts) AS t0, argMin(variant, ts) AS unit_variant
    FROM {db}.exposures WHERE experiment_id = $exp AND ts < $end
    GROUP BY unit_id HAVING uniqExact(variant) = 1
)"""
    ev = f"""(
  SELECT intDiv(ts - $start, $interval) AS k, unit_variant, unit_id, value
  FROM {events} ALL INNER JOIN {first} USING unit_id
  WHERE ts >= t0
)"""
    moments = f"""
SELECT k, unit_variant AS variant, count() AS units, sum(un) AS n,
       toFloat64(sum(un * un)) AS n_sq, sum(uy) AS s, sum(uy * uy) AS ss, sum(uy * un) AS sp,
       sum(uyy) AS ess
FROM (
  SELECT k, unit_variant, unit_id, count() AS un, sum(value) AS uy, sum(value * value) AS uyy
  FROM {ev} GROUP BY k, unit_variant, unit_id
) GROUP BY k, unit_variant"""
    sketch = None
    if metric.kind in SKETCH_KINDS:
        key = f"toInt64(ceil(log(abs(value)) / {LOG_GAMMA!r}))"
        sketch = f"""
SELECT k, unit_variant AS variant, multiIf(value > 0, 1, value < 0, -1, 0) AS sg,
       if(value = 0, toInt64(0), {key}) AS b, count() AS c
FROM {ev} GROUP BY k, variant, sg, b"""
    return IntervalPlan(moments, sketch, params)
