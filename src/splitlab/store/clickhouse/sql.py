"""The sufficient-statistics SQL of :mod:`splitlab.store.summary_sql`, in ClickHouse's dialect.

Same rules, same numbers (the tests compare both stores on the same events); what differs is
how ClickHouse 18.16 says it:

* ``sumIf`` / ``maxIf`` / ``countIf`` instead of ``FILTER (WHERE ...)``. An ``-If`` aggregate
  over no rows gives 0 where DuckDB gives NULL and then ``coalesce(..., 0)``: the same value.
* No common table expressions over subqueries: the first-exposure subquery is written twice.
* No ``GROUPING SETS``: each unit's row is repeated by ``ARRAY JOIN`` once for the overall
  slice and once per segment attribute, and one ``GROUP BY`` makes every slice in one pass.
* Joins are hash joins with ``USING``; a unit without metric events gets 0 from ``ANY LEFT
  JOIN`` (ClickHouse fills defaults, ``join_use_nulls`` being off).
* Deduplication by ``event_id`` happens in the query, because ``ReplacingMergeTree`` merges
  duplicates only eventually. ``FINAL`` (the default) merges the sorted parts on read, which
  removes a retried event (identical in every column of the sorting key, ``event_id``
  included); ``LIMIT 1 BY event_id`` keeps one row per id through a hash table of all ids,
  and measured 1.5x to 1.7x slower (docs/clickhouse.md). Exposures need none (see
  :mod:`.schema`).

The metrics, their numbering and the sum columns come from ``summary_sql``
(:func:`~splitlab.store.summary_sql.summary_metrics`,
:func:`~splitlab.store.summary_sql.sum_columns`), so that its
:func:`~splitlab.store.summary_sql.sums_from_rows` assembles the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from splitlab.config.models import Experiment, Metric, MetricType
from splitlab.store.capping_sql import cap_columns
from splitlab.store.clickhouse.capping import capped_source
from splitlab.store.clickhouse.retention_sql import clickhouse_unit_columns
from splitlab.store.clickhouse.sql_metric import row_match, with_sql_rows
from splitlab.store.retention_sql import SURVIVAL_TYPES
from splitlab.store.summary_sql import (
    MISSING,
    SummaryPlan,
    event_names,
    sum_columns,
    summary_metrics,
)

Dedup = Literal["limit_by", "final", "none"]


def aggregate(metric: Metric, event_param: str, condition: str, match: str | None = None) -> str:
    """The per-unit aggregate of `metric`'s events that satisfy `condition` (`match`: how its
    rows are picked, by default ``metric = $event_param``)."""
    where = f"{match or f'metric = ${event_param}'} AND {condition}"
    if metric.type is MetricType.CONVERSION:
        return f"maxIf(1, {where})"
    if metric.aggregation == "count":
        return f"countIf({where})"
    if metric.aggregation == "max":
        return f"maxIf(value, {where})"
    return f"sumIf(value, {where})"


def _first_exposures(db: str, segments: Sequence[str], clustered: bool = False) -> str:
    """One row per unit exposed to exactly one variant: its first exposure.

    `clustered`: every unit whose exposures carry a ``cluster_id`` (only those count), with
    ``multi`` (exposed to more than one variant) and its first ``cluster``.
    """
    seg_cols = "".join(
        f",\n    argMin(if(has(attr_keys, $s{k}), attr_values[indexOf(attr_keys, $s{k})],"
        f" '{MISSING}'), ts) AS s{k}"
        for k in range(len(segments))
    )
    if clustered:
        cluster = "argMin(assumeNotNull(cluster_id), ts) AS cluster"
        return f"""(
    SELECT unit_id, min(ts) AS t0, argMin(variant, ts) AS unit_variant,
           uniqExact(variant) > 1 AS multi, {cluster}{seg_cols}
    FROM {db}.exposures
    WHERE experiment_id = $exp AND ts <= $cutoff AND isNotNull(cluster_id)
    GROUP BY unit_id
)"""
    return f"""(
    SELECT unit_id, min(ts) AS t0, argMin(variant, ts) AS unit_variant{seg_cols}
    FROM {db}.exposures WHERE experiment_id = $exp AND ts <= $cutoff
    GROUP BY unit_id HAVING uniqExact(variant) = 1
)"""


def metric_events(db: str, where: str, columns: str, dedup: Dedup) -> str:
    """A subquery of `columns` of the metric events matching `where`, one row per event id."""
    if dedup == "final":
        return f"(SELECT {columns} FROM {db}.metric_events FINAL WHERE {where})"
    if dedup == "limit_by":
        return (
            f"(SELECT event_id, {columns} FROM {db}.metric_events WHERE {where}"
            " LIMIT 1 BY event_id)"
        )
    return f"(SELECT {columns} FROM {db}.metric_events WHERE {where})"


@dataclass(frozen=True)
class UnitValues:
    """A subquery with one row per exposed unit (``variant``, segment labels ``s{k}``, metric
    columns ``y{i}``, ``x{i}``, ``d{i}``, each name after a prefix; clustered: also ``multi``,
    ``cluster``, ``t0``), its parameters and the metrics in summary order."""

    sql: str
    params: dict[str, Any]
    metrics: list[Metric]


def unit_values(
    db: str,
    experiment: Experiment,
    cutoff_ms: int,
    segments: Sequence[str],
    dedup: Dedup,
    *,
    clustered: bool = False,
    prefix: str = "",
    with_t0: bool = False,
) -> UnitValues:
    """The per-unit metric values of `experiment` (see :class:`UnitValues`); `with_t0`: also
    the unit's first-exposure time ``t0`` (as with `clustered`)."""
    metrics = summary_metrics(experiment)
    params: dict[str, Any] = {
        "exp": experiment.experiment_id,
        "cutoff": cutoff_ms,
        "lookback": experiment.evaluation.cuped_lookback_days * 86_400_000,
    }
    per_unit: list[str] = []
    values: list[str] = []
    for i, metric in enumerate(metrics):
        if metric.type in SURVIVAL_TYPES:  # their own columns (.retention_sql)
            cols = clickhouse_unit_columns(i, metric, params, prefix)
            per_unit += cols.per_unit
            values += cols.values
            continue
        window = ""
        if metric.window_hours is not None:
            params[f"w{i}"] = int(metric.window_hours * 3_600_000)
            window = f" AND ts < t0 + $w{i}"
        post = f"event_experiment = $exp AND ts >= t0{window}"
        pre = "ts < t0 AND ts >= t0 - $lookback"
        if metric.type is MetricType.RATIO:
            params[f"e{i}"] = metric.numerator or metric.event_name
            params[f"d{i}"] = metric.denominator or metric.event_name
            per_unit.append(f"sumIf(value, metric = $e{i} AND {post}) AS py{i}")
            per_unit.append(f"sumIf(value, metric = $d{i} AND {post}) AS pd{i}")
            values.append(f"toFloat64(pd{i}) AS {prefix}d{i}")
            cuped = f"sumIf(value, metric = $e{i} AND {pre}) AS px{i}"
        else:
            params[f"e{i}"] = metric.event_name
            match = row_match(metric, i, f"e{i}")  # SQL metrics: their rows (.sql_metric)
            per_unit.append(f"{aggregate(metric, f'e{i}', post, match)} AS py{i}")
            cuped = f"{aggregate(metric, f'e{i}', pre, match)} AS px{i}"
        values.append(f"toFloat64(py{i}) AS {prefix}y{i}")
        if metric.cuped:
            per_unit.append(cuped)
            values.append(f"toFloat64(px{i}) AS {prefix}x{i}")
    names = event_names(metrics)
    for j, name in enumerate(names):
        params[f"n{j}"] = name
    for k, attribute in enumerate(segments):
        params[f"s{k}"] = attribute
    in_names = ", ".join(f"$n{j}" for j in range(len(names))) or "''"
    where = f"ts <= $cutoff AND metric IN ({in_names})"
    if not any(m.cuped for m in metrics):
        where += " AND experiment_id = $exp"
    events = metric_events(
        db, where, "unit_id, metric, value, ts, experiment_id AS event_experiment", dedup
    )
    events = with_sql_rows(events, metrics)
    first = _first_exposures(db, segments, clustered)
    units = _first_exposures(db, (), clustered)
    per_unit_sql = ",\n    ".join(per_unit) if per_unit else "0 AS nothing"
    columns = "".join(
        f", s{k} AS {prefix}s{k}" if prefix else f", s{k}" for k in range(len(segments))
    )
    if clustered:
        columns += ", multi, cluster, t0"
    elif with_t0:
        columns += ", t0"
    sql = f"""(
  SELECT unit_variant AS {prefix}variant{columns}{"".join(", " + v for v in values)}
  FROM {first}
  ANY LEFT JOIN (
    SELECT unit_id,
    {per_unit_sql}
    FROM {events}
    ALL INNER JOIN (SELECT unit_id, t0 FROM {units}) USING unit_id
    GROUP BY unit_id
  ) USING unit_id
)"""
    return UnitValues(sql, params, metrics)


#: The slice number of the allocation table's strata in :func:`final_sums`.
STRATUM_SLICE = -2


def final_sums(
    source: str, segments: Sequence[str], sums: Sequence[str], *, stratified: bool = False
) -> str:
    """Per-variant (and per-segment) `sums` of the rows of `source`: one ``GROUP BY``, each
    row repeated by ``ARRAY JOIN`` for the overall slice and once per segment attribute.

    `stratified`: `source` has a ``stratum`` column ('' outside the allocation table), and
    each row is repeated once more for slice :data:`STRATUM_SLICE`, unless it has no stratum.
    """
    if not segments and not stratified:
        return f"SELECT variant, {', '.join(sums)}\nFROM {source}\nGROUP BY variant"
    slices = ", ".join(
        ["-1"] + [str(k) for k in range(len(segments))] + ([str(STRATUM_SLICE)] * stratified)
    )
    labels = ", ".join(["''"] + [f"s{k}" for k in range(len(segments))] + ["stratum"] * stratified)
    where = f"\nWHERE slice != {STRATUM_SLICE} OR label != ''" if stratified else ""
    return f"""SELECT variant, slice, label, {", ".join(sums)}
FROM {source}
ARRAY JOIN [{slices}] AS slice, [{labels}] AS label{where}
GROUP BY variant, slice, label"""


def plan_clickhouse_summary(
    db: str,
    experiment: Experiment,
    cutoff_ms: int,
    segments: Sequence[str] = (),
    dedup: Dedup = "final",
    known_caps: Mapping[tuple[str, str], float] | None = None,
) -> SummaryPlan:
    """The summary query in database `db`, read back by ``summary_sql.sums_from_rows``;
    capped metrics are capped per unit first (:mod:`.capping`; `known_caps`: caps recorded
    at an earlier look)."""
    caps = cap_columns(summary_metrics(experiment), known_caps)
    if not caps:
        unit = unit_values(db, experiment, cutoff_ms, segments, dedup)
        sums = ["toFloat64(count()) AS n", *sum_columns(unit.metrics)]
        sql = final_sums(unit.sql, segments, sums)
        return SummaryPlan(sql, unit.params, unit.metrics, list(segments))
    unit = unit_values(db, experiment, cutoff_ms, segments, dedup, prefix="r")
    params = dict(unit.params)
    source, cap_sums = capped_source(unit.sql, unit.metrics, segments, caps, params)
    sums = ["toFloat64(count()) AS n", *sum_columns(unit.metrics), *cap_sums]
    sql = final_sums(source, segments, sums)
    return SummaryPlan(sql, params, unit.metrics, list(segments), caps=caps)


def as_grouping_rows(
    plan: SummaryPlan, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Rows shaped like DuckDB's ``GROUPING SETS`` result (``s{k}`` and ``g{k}`` columns;
    with strata ``st`` and ``gst``)."""
    if not plan.segments and not plan.stratified:
        return list(columns), [tuple(row) for row in rows]
    head = ["variant"]
    for k in range(len(plan.segments)):
        head += [f"s{k}", f"g{k}"]
    if plan.stratified:
        head += ["st", "gst"]
    sums = list(columns[3:])
    shaped: list[tuple[Any, ...]] = []
    for row in rows:
        variant, slice_index, label = row[0], int(row[1]), row[2]
        cells: list[Any] = [variant]
        for k in range(len(plan.segments)):
            cells += [label, 0] if k == slice_index else [None, 1]
        if plan.stratified:
            cells += [label, 0] if slice_index == STRATUM_SLICE else [None, 1]
        shaped.append((*cells, *row[3:]))
    return head + sums, shaped


def data_quality_sql(db: str, dedup: Dedup = "final", clustered: bool = False) -> str:
    """Multi-exposed units, unexposed / mismatched / pre-exposure metric events (one row).

    `clustered` (cluster designs): over the exposures with a ``cluster_id``, and two more
    counts: clusters served more than one variant and exposures without a ``cluster_id``
    (distinct ids: exposures are not deduplicated in the table); then each count's own
    denominator: analysis units, all exposures, clusters and metric events.
    """
    events = metric_events(
        db, "experiment_id = $exp AND ts <= $cutoff", "unit_id, variant, ts", dedup
    )
    exposures = f"{db}.exposures WHERE experiment_id = $exp AND ts <= $cutoff"
    extra = ""
    if clustered:
        exposures += " AND isNotNull(cluster_id)"
        first = _first_exposures(db, (), clustered=True)
        extra = f""",
  (SELECT count() FROM (
     SELECT cluster FROM {first}
     GROUP BY cluster HAVING uniqExact(unit_variant) > 1 OR max(multi) = 1)) AS multi_clusters,
  (SELECT uniqExact(event_id) FROM {db}.exposures
   WHERE experiment_id = $exp AND ts <= $cutoff AND isNull(cluster_id)) AS missing_clusters,
  (SELECT count() FROM {first}) AS analysis_units,
  (SELECT uniqExact(event_id) FROM {db}.exposures
   WHERE experiment_id = $exp AND ts <= $cutoff) AS all_exposures,
  (SELECT uniqExact(cluster) FROM {first}) AS all_clusters,
  count() AS metric_events"""
    return f"""SELECT
  (SELECT count() FROM (
     SELECT unit_id FROM {exposures}
     GROUP BY unit_id HAVING uniqExact(variant) > 1)) AS multi_exposed,
  countIf(exposed = 0) AS unexposed,
  countIf(exposed = 1 AND variant != first_variant) AS mismatched,
  countIf(exposed = 1 AND ts < t0) AS pre_exposure{extra}
FROM {events}
ANY LEFT JOIN (
  SELECT unit_id, 1 AS exposed, min(ts) AS t0, argMin(variant, ts) AS first_variant
  FROM {exposures} GROUP BY unit_id
) USING unit_id"""
