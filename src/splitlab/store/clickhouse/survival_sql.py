"""Retention and time-to-event sums (:mod:`splitlab.store.retention_sql`,
:mod:`splitlab.store.survival_sql`) in ClickHouse's dialect.

Same rules, same rows, read back by the same functions, so both stores give identical sums.
Dialect (valid on ClickHouse 18.16 and current releases): ``maxIf`` / ``minIf`` / ``countIf``
(an ``-If`` aggregate over no rows gives 0, so a unit's first event is only used when its
count ``h{i}`` is positive); ``intDiv`` for whole days; the event name's number is
``indexOf`` in an array of the names; no common table expressions, so the first exposures are
written as a subquery where needed, and the time-to-event metrics of one experiment share one
per-unit subquery unfolded by ``ARRAY JOIN`` rather than one ``UNION ALL`` branch each.

A metric defined in SQL reads its query's rows (:func:`.sql_metric.with_sql_rows`, picked by
their column ``src``) instead of the events of its name, as the summary does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from splitlab.config.models import Metric, MetricType
from splitlab.store.clickhouse.sql import Dedup, _first_exposures, metric_events
from splitlab.store.clickhouse.sql_metric import with_sql_rows
from splitlab.store.retention_sql import DAY_MS, CurvePlan, curve_inputs, metrics_of
from splitlab.store.survival_sql import (
    SurvivalPlan,
    slice_lists,
    summary_sql_numbers,
    time_to_event_params,
)

RETENTION, TTE = MetricType.RETENTION, MetricType.TIME_TO_EVENT


def _timed_events(
    db: str,
    dedup: Dedup,
    metrics: Sequence[Metric],
    prefix: str,
    names: int,
    own: Mapping[int, int],
) -> str:
    """This experiment's metric events named by the parameters ``${prefix}0 ..`` (`names` of
    them) up to the cut-off, with the rows of the SQL metrics numbered in `own`
    (:func:`.sql_metric.with_sql_rows`, column ``src``)."""
    listed = ", ".join(f"${prefix}{j}" for j in range(names)) or "''"
    events = metric_events(
        db,
        f"experiment_id = $exp AND ts <= $cutoff AND metric IN ({listed})",
        "unit_id, metric, value, ts, experiment_id AS event_experiment",
        dedup,
    )
    return with_sql_rows(events, metrics, own)


def clickhouse_curve(
    db: str, dedup: Dedup, experiment_id: str, metrics: Sequence[Metric], cutoff_ms: int
) -> CurvePlan:
    """The retention curve query (rows as :class:`~splitlab.store.retention_sql.CurvePlan`);
    a SQL metric's rows (``src`` = its number + 1) count under its own ``k``."""
    own = {i: k for i, k in summary_sql_numbers(metrics).items() if metrics[i].type is RETENTION}
    names, per, span = curve_inputs(metrics, own)
    params: dict[str, Any] = {"exp": experiment_id, "cutoff": cutoff_ms}
    for k, name in enumerate(names):
        params[f"rn{k}"] = name
    listed = ", ".join(f"$rn{k}" for k in range(len(names))) or "''"
    events = _timed_events(db, dedup, metrics, "rn", len(names), own)
    number = f"toInt32(indexOf([{listed}], metric)) - 1"
    if own:
        cases = "".join(f"src = {i + 1}, toInt32({k}), " for i, k in own.items())
        number = f"multiIf({cases}{number})"
    first = _first_exposures(db, ())
    sql = f"""SELECT toInt32(-1) AS k, unit_variant AS variant,
       toInt64(least(intDiv($cutoff - t0, {DAY_MS}), {span})) AS d, count() AS c
FROM {first}
GROUP BY variant, d
UNION ALL
SELECT k, variant, d, count() AS c
FROM (
  SELECT DISTINCT {number} AS k, unit_id,
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
    own = {i: k for i, k in summary_sql_numbers(metrics).items() if metrics[i].type is TTE}
    params, names = time_to_event_params(experiment_id, found, cutoff_ms, segments, own)
    number = {name: j for j, name in enumerate(names)}
    # a SQL metric's rows: src = its number + 1 (.sql_metric.row_match)
    match = {
        i: f"src = {i + 1}" if i in own else f"metric = $tn{number[m.event_name]}" for i, m in found
    }
    per_unit = ",\n    ".join(
        f"minIf(ts - t0, {match[i]}) AS f{i}, countIf({match[i]}) AS h{i}" for i, m in found
    )
    events = _timed_events(db, dedup, metrics, "tn", len(names), own)
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
