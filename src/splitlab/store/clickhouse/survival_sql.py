"""Retention and time-to-event sums (:mod:`splitlab.store.retention_sql`,
:mod:`splitlab.store.survival_sql`) in ClickHouse's dialect.

Same rules, same rows, read back by the same functions, so both stores give identical sums.
Dialect (valid on ClickHouse 18.16 and current releases): ``maxIf`` / ``minIf`` / ``countIf``
(an ``-If`` aggregate over no rows gives 0, so a unit's first event is only used when its
count ``h{i}`` is positive); ``intDiv`` for whole days; the event name's number is
``indexOf`` in an array of the names; no common table expressions, so the first exposures are
written as a subquery where needed, and the time-to-event metrics of one experiment share one
per-unit subquery unfolded by ``ARRAY JOIN`` rather than one ``UNION ALL`` branch each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from splitlab.config.models import Metric, MetricType
from splitlab.store.clickhouse.sql import Dedup, _first_exposures, metric_events
from splitlab.store.retention_sql import DAY_MS, CurvePlan, curve_inputs, metrics_of
from splitlab.store.survival_sql import SurvivalPlan, slice_lists, time_to_event_params


def clickhouse_curve(
    db: str, dedup: Dedup, experiment_id: str, metrics: Sequence[Metric], cutoff_ms: int
) -> CurvePlan:
    """The retention curve query (rows as :class:`~splitlab.store.retention_sql.CurvePlan`)."""
    names, per, span = curve_inputs(metrics)
    params: dict[str, Any] = {"exp": experiment_id, "cutoff": cutoff_ms}
    for k, name in enumerate(names):
        params[f"rn{k}"] = name
    listed = ", ".join(f"$rn{k}" for k in range(len(names)))
    events = metric_events(
        db,
        f"experiment_id = $exp AND ts <= $cutoff AND metric IN ({listed})",
        "unit_id, metric, ts",
        dedup,
    )
    first = _first_exposures(db, ())
    sql = f"""SELECT toInt32(-1) AS k, unit_variant AS variant,
       toInt64(least(intDiv($cutoff - t0, {DAY_MS}), {span})) AS d, count() AS c
FROM {first}
GROUP BY variant, d
UNION ALL
SELECT k, variant, d, count() AS c
FROM (
  SELECT DISTINCT toInt32(indexOf([{listed}], metric)) - 1 AS k, unit_id,
         unit_variant AS variant, toInt64(intDiv(ts - t0, {DAY_MS})) AS d, t0
  FROM {events}
  ALL INNER JOIN (SELECT unit_id, t0, unit_variant FROM {first}) USING unit_id
  WHERE ts >= t0 AND ts - t0 < {span * DAY_MS}
)
WHERE t0 + (d + 1) * {DAY_MS} <= $cutoff
GROUP BY k, variant, d"""
    return CurvePlan(sql, params, per, span)


def clickhouse_time_to_event(
    db: str,
    dedup: Dedup,
    experiment_id: str,
    metrics: Sequence[Metric],
    cutoff_ms: int,
    segments: Sequence[str] = (),
) -> SurvivalPlan:
    """The time-to-event query (rows as :class:`~splitlab.store.survival_sql.SurvivalPlan`):
    the metrics unfolded by one ``ARRAY JOIN``, the slices (overall, then each segment) by a
    second one around it."""
    found = metrics_of(metrics, MetricType.TIME_TO_EVENT)
    params, names = time_to_event_params(experiment_id, found, cutoff_ms, segments)
    number = {name: j for j, name in enumerate(names)}
    listed = ", ".join(f"$tn{j}" for j in range(len(names)))
    per_unit = ",\n    ".join(
        f"minIf(ts - t0, metric = $tn{number[m.event_name]}) AS f{i}, "
        f"countIf(metric = $tn{number[m.event_name]}) AS h{i}"
        for i, m in found
    )
    events = metric_events(
        db,
        f"experiment_id = $exp AND ts <= $cutoff AND metric IN ({listed})",
        "unit_id, metric, ts",
        dedup,
    )
    labels = [f"s{k}" for k in range(len(segments))]
    slices, texts = slice_lists(labels)

    def arr(template: str) -> str:
        return "[" + ", ".join(template.format(i=i) for i, _ in found) + "]"

    sql = f"""SELECT i, slice, label, variant, toInt64(if(o, f, lim)) AS ms, countIf(o) AS ev,
       countIf(NOT o) AS ce
FROM (
  SELECT i, variant, f, lim, h > 0 AND f <= lim AS o{"".join(", " + c for c in labels)}
  FROM (
    SELECT unit_variant AS variant, t0{"".join(", " + c for c in labels)},
           {", ".join(f"f{i}, h{i}" for i, _ in found)}
    FROM {_first_exposures(db, segments)}
    ANY LEFT JOIN (
      SELECT unit_id,
      {per_unit}
      FROM {events}
      ALL INNER JOIN (SELECT unit_id, t0 FROM {_first_exposures(db, ())}) USING unit_id
      WHERE ts >= t0
      GROUP BY unit_id
    ) USING unit_id
  )
  ARRAY JOIN {arr("toInt32({i})")} AS i, {arr("toInt64(f{i})")} AS f,
    {arr("toUInt64(h{i})")} AS h, {arr("least($cutoff - t0, toInt64($tau{i}))")} AS lim
)
ARRAY JOIN arrayMap(x -> toInt32(x), {slices}) AS slice, {texts} AS label
GROUP BY i, slice, label, variant, ms
ORDER BY i, slice, label, variant, ms"""
    return SurvivalPlan(sql, params, [i for i, _ in found], list(segments))
