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

A SQL metric (``metric.sql``) reads its own rows instead of the events of its name: the rows
registered for the summary (:mod:`splitlab.store.sql_views`), under the metric's event number
(:func:`summary_sql_numbers`), which belong to no experiment (the queries run inside the
summary's ``registered(...)`` block).

The time-to-event query also groups by segment: each unit counts once overall (slice ``-1``)
and once per segment attribute under its first exposure's label (``unnest`` of two lists, one
``GROUP BY``), so every segment's arms carry their table too. The retention curve is for the
overall slice only (a segment's retention ``n`` and ``sum`` come from the summary).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import groupby
from operator import itemgetter
from typing import Any

from splitlab.config.models import Experiment, Metric, MetricType
from splitlab.stats.sums import ArmSums, ExperimentSums, SliceSums
from splitlab.stats.survival_table import RetentionCurve, SurvivalTable
from splitlab.store.retention_sql import (
    HOUR_MS,
    UNITS_CTE,
    CurvePlan,
    curves_from_rows,
    duckdb_curve,
    horizon_ms,
    metrics_of,
    timed_rows,
)
from splitlab.store.sql_metric_sql import sql_numbers
from splitlab.store.summary_sql import MISSING, event_names

Runner = Callable[[str, dict[str, Any]], tuple[Sequence[str], Sequence[Sequence[Any]]]]


@dataclass(frozen=True)
class SurvivalPlan:
    """The time-to-event query: rows ``(i, slice, label, variant, ms, events, censored)``
    sorted by all but the counts: per metric number ``i``, slice (``-1`` overall with label
    ``''``, ``k`` for segment attribute ``k`` with the unit's label), variant and duration in
    whole milliseconds, the units whose event was observed then and those censored then."""

    sql: str
    params: dict[str, Any]
    metrics: list[int]
    segments: list[str]


def time_to_event_params(
    experiment_id: str,
    found: Sequence[tuple[int, Metric]],
    cutoff_ms: int,
    segments: Sequence[str],
    sql: Mapping[int, int] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Parameters (``exp``, ``cutoff``, the event names ``tn{j}``, the horizons ``tau{i}``,
    the segment attributes ``s{k}``) and the distinct event names, numbered ``j`` (not those
    of the SQL metrics in `sql`, which read their own rows)."""
    sql = sql or {}
    names = sorted({m.event_name for i, m in found if i not in sql})
    params: dict[str, Any] = {"exp": experiment_id, "cutoff": cutoff_ms}
    for j, name in enumerate(names):
        params[f"tn{j}"] = name
    for i, metric in found:
        params[f"tau{i}"] = horizon_ms(metric)
    for k, attribute in enumerate(segments):
        params[f"s{k}"] = attribute
    return params, names


def slice_lists(labels: Sequence[str]) -> tuple[str, str]:
    """The slice numbers and labels of a unit as two array literals: ``-1`` with ``''``
    (overall), then ``k`` with the unit's label for segment attribute ``k``."""
    slices = ", ".join(["-1"] + [str(k) for k in range(len(labels))])
    return f"[{slices}]", "[" + ", ".join(["''", *labels]) + "]"


def summary_sql_numbers(metrics: Sequence[Metric]) -> dict[int, int]:
    """The event numbers of the SQL metrics among the summary's `metrics`, as
    :func:`~splitlab.store.summary_sql.unit_values` and the registered views number them."""
    return sql_numbers(metrics, len(event_names(metrics)))


def duckdb_retention_curve(
    experiment_id: str, metrics: Sequence[Metric], cutoff_ms: int
) -> CurvePlan:
    """DuckDB's retention curve query, SQL metrics reading their registered rows."""
    return duckdb_curve(experiment_id, metrics, cutoff_ms, summary_sql_numbers(metrics))


def duckdb_time_to_event(
    experiment_id: str, metrics: Sequence[Metric], cutoff_ms: int, segments: Sequence[str] = ()
) -> SurvivalPlan:
    """DuckDB's time-to-event query (see the module docstring); a SQL metric reads its rows
    from its registered view (:func:`~splitlab.store.retention_sql.timed_rows`)."""
    found = metrics_of(metrics, MetricType.TIME_TO_EVENT)
    own = summary_sql_numbers(metrics)
    params, names = time_to_event_params(experiment_id, found, cutoff_ms, segments, own)
    number = {name: j for j, name in enumerate(names)}
    firsts = ", ".join(
        f"min(CASE WHEN me.k = {own[i] if i in own else number[m.event_name]} "
        f"THEN me.ts - u.t0 END) AS f{i}"
        for i, m in found
    )
    rows = timed_rows("tn", len(names), [own[i] for i, _ in found if i in own])
    units = UNITS_CTE
    slices = "-1 AS slice, '' AS label"
    if segments:  # the first exposure's attributes, as the summary labels its segments
        units = units.replace(
            "arg_min(variant, ts) AS variant",
            "arg_min(variant, ts) AS variant, arg_min(coalesce(attributes, '{}'::JSON), ts) AS attrs",
        )
        numbers, labels = slice_lists(
            [f"coalesce(u.attrs ->> $s{k}, '{MISSING}')" for k in range(len(segments))]
        )
        slices = f"unnest({numbers}) AS slice, unnest({labels}) AS label"
    parts = []
    for i, _ in found:
        limit = f"least($cutoff - t0, $tau{i})"
        parts.append(
            f"SELECT {i} AS i, slice, label, variant, CASE WHEN obs THEN f{i} ELSE lim END AS ms, "
            "count(CASE WHEN obs THEN 1 END) AS ev, count(CASE WHEN NOT obs THEN 1 END) AS ce "
            f"FROM (SELECT slice, label, variant, f{i}, {limit} AS lim, "
            f"coalesce(f{i} <= {limit}, false) AS obs FROM uf) GROUP BY slice, label, variant, ms"
        )
    union = "\nUNION ALL\n".join(parts) + "\nORDER BY i, slice, label, variant, ms"
    sql = f"""WITH {units}, f AS (
  SELECT u.uk, {firsts}
  FROM (
  {rows}
  ) me JOIN u ON me.unit_key = u.uk
  WHERE me.ts >= u.t0
  GROUP BY u.uk
), uf AS (
  SELECT u.variant, u.t0, {", ".join(f"f.f{i}" for i, _ in found)}, {slices}
  FROM u LEFT JOIN f ON u.uk = f.uk
)
{union}"""
    return SurvivalPlan(sql, params, [i for i, _ in found], list(segments))


#: Survival tables by (metric number, slice, label, variant).
Tables = dict[tuple[int, int, str, str], SurvivalTable]


def tables_from_rows(
    plan: SurvivalPlan, variants: Sequence[str], rows: Sequence[Sequence[Any]]
) -> Tables:
    """The survival tables of every (metric, slice, label, variant) with units, and an empty
    one for every overall arm without, from rows sorted as :class:`SurvivalPlan` says."""
    out: Tables = {
        (i, -1, "", v): SurvivalTable((), (), ()) for i in plan.metrics for v in variants
    }
    key = itemgetter(0, 1, 2, 3)
    for (i, part, label, variant), group in groupby(rows, key=key):
        if variant in variants:  # not a variant the definition lacks
            cells = list(group)
            out[(int(i), int(part), str(label), str(variant))] = SurvivalTable(
                tuple([int(row[4]) / HOUR_MS for row in cells]),
                tuple([float(row[5]) for row in cells]),
                tuple([float(row[6]) for row in cells]),
            )
    return out


def _with_tables(
    part: SliceSums,
    metrics: Sequence[Metric],
    variants: Sequence[str],
    tables: Tables,
    where: tuple[int, str],
) -> dict[str, dict[str, ArmSums]]:
    """`part`'s metrics with the time-to-event arms carrying their tables of slice `where`
    (an arm without units there gets an empty table)."""
    out = {name: dict(arms) for name, arms in part.metrics.items()}
    for i, metric in enumerate(metrics):
        if metric.type is not MetricType.TIME_TO_EVENT:
            continue
        arms = out.setdefault(metric.name, {})
        for variant in variants:
            arm = arms.get(variant, ArmSums(0.0, 0.0, 0.0))
            table = tables.get((i, *where, variant), SurvivalTable((), (), ()))
            arms[variant] = replace(arm, survival=table)
    return out


def attach(
    experiment: Experiment,
    sums: ExperimentSums,
    metrics: Sequence[Metric],
    curves: dict[tuple[int, str], RetentionCurve],
    tables: Tables,
    segments: Sequence[str] = (),
) -> ExperimentSums:
    """`sums` with the overall arms of the retention metrics carrying their curve, and the
    time-to-event metrics' arms their survival table (overall and in every segment)."""
    variants = experiment.variant_names
    out = {name: dict(arms) for name, arms in sums.metrics.items()}
    if tables:
        out = _with_tables(sums, metrics, variants, tables, (-1, ""))
    for i, metric in enumerate(metrics):
        for variant in variants:
            if (i, variant) in curves:
                arm = out.setdefault(metric.name, {}).get(variant, ArmSums(0.0, 0.0, 0.0))
                out[metric.name][variant] = replace(arm, retention=curves[(i, variant)])
    parts = dict(sums.segments)
    if tables:
        for name, part in sums.segments.items():
            attribute, _, label = name.partition("=")
            if attribute in segments:
                where = (segments.index(attribute), label)
                parts[name] = replace(
                    part, metrics=_with_tables(part, metrics, variants, tables, where)
                )
    return replace(sums, metrics=out, segments=parts)


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
    segments: Sequence[str] = (),
    curve: Callable[[str, Sequence[Metric], int], CurvePlan] = duckdb_retention_curve,
    time_to_event: Callable[
        [str, Sequence[Metric], int, Sequence[str]], SurvivalPlan
    ] = duckdb_time_to_event,
) -> ExperimentSums:
    """Run the curve and time-to-event queries that `metrics` (the summary's, in its order)
    need through `run`, and attach their results to `sums` (time-to-event tables also for
    the `segments`' slices); the query builders default to DuckDB's."""
    retention, tte = has_survival_metrics(metrics)
    if not retention and not tte:
        return sums
    variants = experiment.variant_names
    curves: dict[tuple[int, str], RetentionCurve] = {}
    tables: Tables = {}
    if retention:
        plan = curve(experiment.experiment_id, metrics, cutoff_ms)
        _, rows = run(plan.sql, plan.params)
        curves = curves_from_rows(plan, variants, rows)
    if tte:
        tplan = time_to_event(experiment.experiment_id, metrics, cutoff_ms, segments)
        _, rows = run(tplan.sql, tplan.params)
        tables = tables_from_rows(tplan, variants, rows)
    return attach(experiment, sums, metrics, curves, tables, segments)
