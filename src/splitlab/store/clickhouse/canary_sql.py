"""The canary queries of :mod:`splitlab.store.canary_sql`, in ClickHouse's dialect.

Same rules, same numbers (the tests compare both stores on the same events). What differs:
three queries instead of one (interval moments, step totals, bucket counts: the server has
no common table expressions to share between them), units are matched by ``unit_id``,
per-unit columns are named ``u...`` (ClickHouse reads ``sum(n) AS n`` as a cyclic alias),
the first exposure is ``argMin`` with ``HAVING uniqExact(variant) = 1`` (units exposed to more
than one variant left out), ``intDiv`` for the interval (the events are at or after
``start``, so it is the floor), ``log`` for the natural logarithm, ``multiIf`` for the sign,
the thresholds table an ``ARRAY JOIN`` over a tuple literal, and metric events deduplicated
by ``event_id`` in the query (:func:`~splitlab.store.clickhouse.sql.metric_events`). The
bucket key uses the same ``repr(LOG_GAMMA)`` literal as DuckDB and
:mod:`splitlab.stats.sketch`.
"""

from __future__ import annotations

from collections.abc import Sequence

from splitlab.stats.sketch import LOG_GAMMA
from splitlab.store.canary_sql import CanaryPlan, Threshold
from splitlab.store.clickhouse.sql import Dedup, metric_events

BKEY = f"if(value = 0, toInt64(0), toInt64(ceil(log(abs(value)) / {LOG_GAMMA!r})))"


def _events(db: str, plan: CanaryPlan, names: Sequence[str], dedup: Dedup) -> str:
    """A subquery ``(e, k, unit_variant, unit_id, value)`` of the counted events."""
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
  SELECT metric AS e, intDiv(ts - $start, $interval) AS k, unit_variant, unit_id, value
  FROM {events} ALL INNER JOIN {first} USING unit_id
  WHERE ts >= t0
)"""


def clickhouse_sql(db: str, plan: CanaryPlan, dedup: Dedup) -> tuple[str, str, str | None]:
    """The moments, step-totals and (when an event needs a sketch) bucket queries, in the
    row shapes of :func:`splitlab.store.canary_sql.canary_data`."""
    ev = _events(db, plan, plan.events, dedup)
    sums = (
        "count() AS units, sum(un) AS n, toFloat64(sum(un * un)) AS n_sq, sum(uy) AS s, "
        "sum(uy * uy) AS ss, sum(uy * un) AS sp, sum(uyy) AS ess"
    )
    moments = f"""
SELECT e, k, unit_variant AS variant, {sums}
FROM (
  SELECT e, k, unit_variant, unit_id, count() AS un, sum(value) AS uy, sum(value * value) AS uyy
  FROM {ev} GROUP BY e, k, unit_variant, unit_id
) GROUP BY e, k, unit_variant"""
    step = f"""
SELECT e, unit_variant AS variant, {sums}
FROM (
  SELECT e, unit_variant, unit_id, count() AS un, sum(value) AS uy, sum(value * value) AS uyy
  FROM {ev} GROUP BY e, unit_variant, unit_id
) GROUP BY e, unit_variant"""
    buckets = None
    if plan.sketch_events:
        sev = _events(db, plan, plan.sketch_events, dedup)
        buckets = f"""
SELECT e, k, unit_variant AS variant, multiIf(value > 0, 1, value < 0, -1, 0) AS sg,
       {BKEY} AS b, count() AS c
FROM {sev} GROUP BY e, k, variant, sg, b"""
    return moments, step, buckets


def clickhouse_clustered_sql(
    db: str, plan: CanaryPlan, found: Sequence[Threshold], dedup: Dedup
) -> tuple[str, dict[str, object]]:
    """Rows ``(j, variant, units, n, n_sq, s, s_sq, s_n)`` as the DuckDB clustered query."""
    params: dict[str, object] = dict(plan.params)
    rows = []
    for i, (j, event, variant, sign, key) in enumerate(found):
        params[f"tv{i}"] = variant
        rows.append(
            f"(toInt32({j}), $e{plan.events.index(event)}, $tv{i}, toInt32({int(sign)}), "
            f"toInt64({int(key)}))"
        )
    ev = _events(db, plan, sorted({t[1] for t in found}), dedup)
    below = (
        "if(tsg = 1, value <= 0 OR bkey <= tkey, if(tsg = 0, value <= 0, "
        "value < 0 AND bkey >= tkey))"
    )
    sql = f"""SELECT j, variant, count() AS units, sum(n_u) AS n_s, sum(n_u * n_u) AS n_ss,
       sum(s_u) AS s_s, sum(s_u * s_u) AS s_ss, sum(s_u * n_u) AS sn_s
FROM (
  SELECT j, variant, unit_id, toFloat64(count()) AS n_u, toFloat64(countIf({below})) AS s_u
  FROM (SELECT e, unit_variant AS variant, unit_id, value, {BKEY} AS bkey FROM {ev})
  ALL INNER JOIN (
    SELECT t.1 AS j, t.2 AS e, t.3 AS variant, t.4 AS tsg, t.5 AS tkey
    FROM system.one ARRAY JOIN [{", ".join(rows)}] AS t
  ) USING e, variant
  GROUP BY j, variant, unit_id
)
GROUP BY j, variant"""
    return sql, params
