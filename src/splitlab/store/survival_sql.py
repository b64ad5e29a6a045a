"""Time-to-event survival tables and retention curves: the queries after DuckDB's summary.

The main summary stays as it is (:mod:`splitlab.store.retention_sql` gives these metrics their
columns there); these queries run only when the experiment has such metrics, and fill the
overall slice's arms:

* Time to event (``horizonHours`` = tau): per unit exposed to one variant, ``first`` = the
  age (ms after ``t0``) of its first event of the metric's name in this experiment at or
  after ``t0`` (and at or before the cut-off); ``limit`` = ``min(cut-off - t0, tau)``. The
  event is *observed* when ``first <= limit``, and the duration is then ``first``; otherwise
  the unit is censored at ``limit``. One ``GROUP BY i, variant, duration`` counts both (the
  observed and the censored units at each duration), sorted so that Python only reads the
  columns; durations are whole milliseconds, turned into hours (``ms / 3,600,000``) in Python,
  so every store gives the same floats. The arm's :class:`~splitlab.stats.survival_table.SurvivalTable`
  counts every unit of the arm (``n``).
* Retention: the day-by-day curve (:func:`~splitlab.store.retention_sql.duckdb_curve`).

Segments' slices get neither (their retention ``n`` and ``sum`` come from the summary).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import groupby
from typing import Any

from splitlab.config.models import Experiment, Metric, MetricType
from splitlab.stats.sums import ArmSums, ExperimentSums
from splitlab.stats.survival_table import RetentionCurve, SurvivalTable
from splitlab.store.retention_sql import (
    HOUR_MS,
    UNITS_CTE,
    CurvePlan,
    curves_from_rows,
    duckdb_curve,
    horizon_ms,
    metrics_of,
)

Runner = Callable[[str, dict[str, Any]], tuple[Sequence[str], Sequence[Sequence[Any]]]]


@dataclass(frozen=True)
class SurvivalPlan:
    """The time-to-event query: rows ``(i, variant, ms, events, censored)`` sorted by
    ``(i, variant, ms)``: per duration in whole milliseconds, the units whose event was
    observed then and those censored then."""

    sql: str
    params: dict[str, Any]
    metrics: list[int]


def time_to_event_params(
    experiment_id: str, found: Sequence[tuple[int, Metric]], cutoff_ms: int
) -> tuple[dict[str, Any], list[str]]:
    """Parameters (``exp``, ``cutoff``, the event names ``tn{j}``, the horizons ``tau{i}``)
    and the distinct event names, numbered ``j``."""
    names = sorted({m.event_name for _, m in found})
    params: dict[str, Any] = {"exp": experiment_id, "cutoff": cutoff_ms}
    for j, name in enumerate(names):
        params[f"tn{j}"] = name
    for i, metric in found:
        params[f"tau{i}"] = horizon_ms(metric)
    return params, names


def duckdb_time_to_event(
    experiment_id: str, metrics: Sequence[Metric], cutoff_ms: int
) -> SurvivalPlan:
    """DuckDB's time-to-event query (see the module docstring)."""
    found = metrics_of(metrics, MetricType.TIME_TO_EVENT)
    params, names = time_to_event_params(experiment_id, found, cutoff_ms)
    number = {name: j for j, name in enumerate(names)}
    firsts = ", ".join(
        f"min(CASE WHEN me.metric = $tn{number[m.event_name]} THEN me.ts - u.t0 END) AS f{i}"
        for i, m in found
    )
    in_names = ", ".join(f"$tn{j}" for j in range(len(names)))
    parts = []
    for i, _ in found:
        limit = f"least($cutoff - t0, $tau{i})"
        parts.append(
            f"SELECT {i} AS i, variant, CASE WHEN obs THEN f{i} ELSE lim END AS ms, "
            "count(CASE WHEN obs THEN 1 END) AS ev, count(CASE WHEN NOT obs THEN 1 END) AS ce "
            f"FROM (SELECT variant, f{i}, {limit} AS lim, "
            f"coalesce(f{i} <= {limit}, false) AS obs FROM uf) GROUP BY variant, ms"
        )
    union = "\nUNION ALL\n".join(parts) + "\nORDER BY i, variant, ms"
    sql = f"""WITH {UNITS_CTE}, f AS (
  SELECT u.uk, {firsts}
  FROM metric_events me JOIN u ON me.unit_key = u.uk
  WHERE me.experiment_id = $exp AND me.ts <= $cutoff AND me.metric IN ({in_names})
    AND me.ts >= u.t0
  GROUP BY u.uk
), uf AS (
  SELECT u.variant, u.t0, {", ".join(f"f.f{i}" for i, _ in found)}
  FROM u LEFT JOIN f ON u.uk = f.uk
)
{union}"""
    return SurvivalPlan(sql, params, [i for i, _ in found])


def tables_from_rows(
    plan: SurvivalPlan, variants: Sequence[str], rows: Sequence[Sequence[Any]]
) -> dict[tuple[int, str], SurvivalTable]:
    """Per (metric number ``i``, variant): the survival table (empty where no unit), from
    rows ``(i, variant, ms, events, censored)`` sorted by ``(i, variant, ms)``."""
    out = {(i, v): SurvivalTable((), (), ()) for i in plan.metrics for v in variants}
    for (i, variant), group in groupby(rows, key=lambda row: (int(row[0]), str(row[1]))):
        if (i, variant) in out:  # not a variant the definition lacks
            part = list(group)
            out[(i, variant)] = SurvivalTable(
                tuple([int(row[2]) / HOUR_MS for row in part]),
                tuple([float(row[3]) for row in part]),
                tuple([float(row[4]) for row in part]),
            )
    return out


def attach(
    experiment: Experiment,
    sums: ExperimentSums,
    metrics: Sequence[Metric],
    curves: dict[tuple[int, str], RetentionCurve],
    tables: dict[tuple[int, str], SurvivalTable],
) -> ExperimentSums:
    """`sums` with the overall arms of the retention metrics carrying their curve and those
    of the time-to-event metrics their survival table."""
    out = {name: dict(arms) for name, arms in sums.metrics.items()}
    for i, metric in enumerate(metrics):
        for variant in experiment.variant_names:
            arm = out.setdefault(metric.name, {}).get(variant, ArmSums(0.0, 0.0, 0.0))
            if (i, variant) in curves:
                out[metric.name][variant] = replace(arm, retention=curves[(i, variant)])
            elif (i, variant) in tables:
                out[metric.name][variant] = replace(arm, survival=tables[(i, variant)])
    return replace(sums, metrics=out)


def has_survival_metrics(metrics: Sequence[Metric]) -> tuple[bool, bool]:
    """Whether `metrics` have (retention, time-to-event) metrics."""
    kinds = {m.type for m in metrics}
    return MetricType.RETENTION in kinds, MetricType.TIME_TO_EVENT in kinds


def survival_sums(
    experiment: Experiment,
    sums: ExperimentSums,
    metrics: Sequence[Metric],
    cutoff_ms: int,
    run: Runner,
    curve: Callable[[str, Sequence[Metric], int], CurvePlan] = duckdb_curve,
    time_to_event: Callable[[str, Sequence[Metric], int], SurvivalPlan] = duckdb_time_to_event,
) -> ExperimentSums:
    """Run the curve and time-to-event queries that `metrics` (the summary's, in its order)
    need through `run`, and attach their results to `sums`; the query builders default to
    DuckDB's."""
    retention, tte = has_survival_metrics(metrics)
    if not retention and not tte:
        return sums
    variants = experiment.variant_names
    curves: dict[tuple[int, str], RetentionCurve] = {}
    tables: dict[tuple[int, str], SurvivalTable] = {}
    if retention:
        plan = curve(experiment.experiment_id, metrics, cutoff_ms)
        _, rows = run(plan.sql, plan.params)
        curves = curves_from_rows(plan, variants, rows)
    if tte:
        tplan = time_to_event(experiment.experiment_id, metrics, cutoff_ms)
        _, rows = run(tplan.sql, tplan.params)
        tables = tables_from_rows(tplan, variants, rows)
    return attach(experiment, sums, metrics, curves, tables)
