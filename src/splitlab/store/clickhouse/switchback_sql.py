"""The switchback cell queries of :mod:`splitlab.store.switchback_sql`, in ClickHouse's dialect.

Same rules and the same result columns, so that
:func:`~splitlab.store.switchback_sql.read_cells` builds the table from either store. What
differs: ``-If`` aggregates (0 over no rows, where DuckDB gives NULL and then 0: the same
value), ``uniqExactIf`` for the distinct converted users, ``intDiv``/``modulo`` for the
period (both truncate towards zero, as DuckDB's ``//`` and ``%``, so the same floor
correction applies), and metric events deduplicated by ``event_id`` in the query
(:func:`~splitlab.store.clickhouse.sql.metric_events`).
"""

from __future__ import annotations

from splitlab.config.models import Experiment, Metric, MetricType
from splitlab.store.clickhouse.sql import Dedup, aggregate, metric_events
from splitlab.store.switchback_sql import CellPlan, design_of, plan_cells


def _aggregate(metric: Metric, param: str) -> str:
    """As the DuckDB cell aggregate: distinct units for a conversion, else a unit's aggregate."""
    if metric.type is MetricType.CONVERSION:
        return f"uniqExactIf(unit_id, metric = ${param})"
    return aggregate(metric, param, "1")


def has_presence(metric: Metric) -> bool:
    """Whether the cell rows carry ``c{i}``, the cell's events of `metric`: for a ``max``,
    whose 0 over no event cannot be told from a largest value of 0 otherwise."""
    plain = metric.type not in (MetricType.CONVERSION, MetricType.RATIO)
    return plain and metric.aggregation == "max"


def plan_clickhouse_cells(
    db: str, experiment: Experiment, cutoff_ms: int, dedup: Dedup = "final"
) -> CellPlan:
    """The cell queries in database `db` (parameters as DuckDB's plan, plus ``e{i}``/``d{i}``)."""
    base = plan_cells(experiment, cutoff_ms)
    params = dict(base.params)
    global_unit = design_of(experiment).unit is None
    unit = "''" if global_unit else "assumeNotNull(cluster_id)"
    has_unit = "1" if global_unit else "isNotNull(cluster_id)"
    columns: list[str] = []
    for i, metric in enumerate(base.metrics):
        if metric.type is MetricType.RATIO:
            params[f"e{i}"] = metric.numerator or metric.event_name
            params[f"d{i}"] = metric.denominator or metric.event_name
            columns.append(f"sumIf(value, metric = $e{i}) AS y{i}")
            columns.append(f"sumIf(value, metric = $d{i}) AS d{i}")
        else:
            params[f"e{i}"] = metric.event_name
            columns.append(f"{_aggregate(metric, f'e{i}')} AS y{i}")
            if has_presence(metric):  # a cell's events of it (sharded: .sharded_designs)
                columns.append(f"countIf(metric = $e{i}) AS c{i}")
    for j in range(len(experiment.variant_names)):
        columns.append(f"countIf(variant = $v{j}) AS q{j}")
    columns.append("count() AS q_all")
    scope = "experiment_id = $exp AND ts <= $cutoff"
    events = metric_events(db, scope, "unit_id, metric, value, ts, variant, cluster_id", dedup)
    period_of = "intDiv(ts - $origin, $period) - if(modulo(ts - $origin, $period) < 0, 1, 0)"
    kept = f"""(
  SELECT {unit} AS u, {period_of} AS p, unit_id, metric, value, ts, variant
  FROM {events} WHERE {has_unit}
)"""
    window = "p >= $first AND p <= $last AND ts - ($origin + p * $period) >= $burn"
    bounds_sql = f"""
SELECT u, min(ts) AS first_ts FROM (
  SELECT {unit} AS u, ts FROM {db}.exposures WHERE {scope} AND {has_unit}
  UNION ALL
  SELECT {unit} AS u, ts FROM {events} WHERE {has_unit}
) GROUP BY u ORDER BY u
"""
    cells_sql = f"""
SELECT u, p, {", ".join(columns)}
FROM {kept} WHERE {window}
GROUP BY u, p
"""
    missing_sql = f"SELECT countIf(NOT ({has_unit})), count() FROM {events}"
    return CellPlan(
        bounds_sql,
        cells_sql,
        missing_sql,
        params,
        base.metrics,
        base.origin,
        base.period_ms,
    )
