"""The canary queries of :mod:`splitlab.store.canary_sql`, in ClickHouse's dialect.

Same rules, same numbers (the tests compare both stores on the same events). What differs:
the interval moments and the step totals in two queries (the server has no common table
expressions to share between them), units are matched by ``unit_id``,
per-unit columns are named ``u...`` (ClickHouse reads ``sum(n) AS n`` as a cyclic alias),
the first exposure is ``argMin`` with ``HAVING uniqExact(variant) = 1`` (units exposed to more
than one variant left out), ``intDiv`` for the interval (the events are at or after
``start``, so it is the floor), ``log`` for the natural logarithm, ``multiIf`` for the sign,
and metric events deduplicated
by ``event_id`` in the query (:func:`~splitlab.store.clickhouse.sql.metric_events`). The
bucket key uses the same ``repr(LOG_GAMMA)`` literal as DuckDB and
:mod:`splitlab.stats.sketch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from splitlab.store.canary_sql import (
    CanaryPlan,
    Threshold,
    clustered_columns,
    clustered_sums,
)
from splitlab.store.clickhouse.quantile_sql import BKEY
from splitlab.store.clickhouse.sql import Dedup, metric_events


def _events(db: str, plan: CanaryPlan, names: Sequence[str], dedup: Dedup) -> str:
    """A subquery ``(e, k, unit_variant, unit_id, value, bkey)`` of the counted events."""
    where = (
        f"experiment_id = $exp AND metric IN {plan.names_in(names)} AND ts >= $start AND ts < $end"
    )
    events = metric_events(db, where, "metric, unit_id, value, ts", dedup)
    first = f"""(
    SELECT unit_id, min(ts) AS t0, argMin(variant, ts) AS unit_variant
    FROM {db}.exposures WHERE experiment_id = $exp AND ts < $end
    GROUP BY unit_id HAVING uniqExact(variant) = 1
)"""
    return f"""(
  SELECT metric AS e, intDiv(ts - $start, $interval) AS k, unit_variant, unit_id, value,
         {BKEY} AS bkey
  FROM {events} ALL INNER JOIN {first} USING unit_id
  WHERE ts >= t0
)"""


def clickhouse_buckets_sql(db: str, plan: CanaryPlan, dedup: Dedup) -> str:
    """Query 1: rows ``(event, k, variant, sign, key, count)`` of the sketch events."""
    return f"""
SELECT e, k, unit_variant AS variant, multiIf(value > 0, 1, value < 0, -1, 0) AS sg,
       bkey AS b, count() AS c
FROM {_events(db, plan, plan.sketch_events, dedup)} GROUP BY e, k, variant, sg, b"""


def clickhouse_sql(
    db: str, plan: CanaryPlan, found: Sequence[Threshold], dedup: Dedup
) -> tuple[str, str, dict[str, Any]]:
    """The moments and step-totals queries (with the clustered sums at ``found``) and their
    parameters, in the row shapes of :func:`splitlab.store.canary_sql.canary_data`."""
    params: dict[str, Any] = dict(plan.params)
    columns = clustered_columns(plan, found, params)
    ev = _events(db, plan, plan.events, dedup)
    moments = f"""
SELECT e, k, unit_variant AS variant, count() AS units, count() AS n, toFloat64(count()) AS n_sq,
       sum(value) AS s, sum(value * value) AS ss, sum(value) AS sp, sum(value * value) AS ess
FROM {ev} GROUP BY e, k, unit_variant"""
    step = f"""
SELECT e, variant, count() AS units, sum(n) AS un, toFloat64(sum(n * n)) AS n_sq, sum(y) AS s,
       sum(y * y) AS ss, sum(y * n) AS sp, sum(yy) AS ess{clustered_sums(found, "toFloat64")}
FROM (
  SELECT e, unit_variant AS variant, unit_id, count() AS n, sum(value) AS y,
         sum(value * value) AS yy{columns}
  FROM {ev} GROUP BY e, unit_variant, unit_id
) GROUP BY e, variant"""
    return moments, step, params
