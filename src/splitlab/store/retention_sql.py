"""Retention and time-to-event metrics in the summary: the rules both stores share, and DuckDB's SQL.

Rules (docs/storage.md, "Retention and time to event"); ``t0`` is the unit's first exposure,
times are epoch milliseconds, a day is exactly 24 h, the cut-off is the look's:

* Retention (``retention = {day, days}``): a unit is *eligible* when its window has closed,
  ``t0 + (day + days) * 24 h <= cut-off``, and *retained* when it is eligible and has an event
  of the metric's name in this experiment in ``[t0 + day * 24 h, t0 + (day + days) * 24 h)``.
  The metric's sums are over eligible units only: ``n`` = eligible units (the per-unit column
  ``el{i}``, summed as ``el{i}_s``), ``sum`` = ``sumSq`` = retained units. These columns are
  part of the main summary, so segments and weights versions get them too.
* The retention curve: per day ``d`` in ``0 .. min(day + days, MAX_CURVE_DAYS) - 1``, the units
  eligible for day ``d`` (``t0 + (d + 1) * 24 h <= cut-off``) and those of them with an event
  on day ``d`` (``[t0 + d * 24 h, t0 + (d + 1) * 24 h)``). A separate query, run only when the
  experiment has retention metrics, for the overall slice only.
* Time to event: the main summary gives such a metric ``y{i}`` = 0 (so ``n`` = the arm's units
  and ``sum`` = ``sumSq`` = 0); its survival table comes from a separate query
  (:mod:`splitlab.store.survival_sql`).

Units exposed to more than one variant are left out, as everywhere in the summary. The
definition rules (:mod:`splitlab.config.metric_kinds`) refuse CUPED, ``windowHours`` and
cluster or switchback designs for both types, so none of those applies here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from splitlab.config.models import Metric, MetricType
from splitlab.stats.survival_table import RetentionCurve
from splitlab.store.sql_metric_sql import sql_rows

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
#: The most days a retention curve shows (days 0 .. 89).
MAX_CURVE_DAYS = 90
#: The metric types whose sums are not the plain per-unit sums of the summary.
SURVIVAL_TYPES = (MetricType.RETENTION, MetricType.TIME_TO_EVENT)


def window_ms(metric: Metric) -> tuple[int, int]:
    """A retention metric's window ``[start, end)`` after ``t0``, in milliseconds."""
    if metric.retention is None:
        raise ValueError(f"metric {metric.name!r}: a retention metric needs 'retention'")
    return metric.retention.start_hours * HOUR_MS, metric.retention.end_hours * HOUR_MS


def horizon_ms(metric: Metric) -> int:
    """A time-to-event metric's horizon tau in milliseconds."""
    if metric.horizon_hours is None:
        raise ValueError(f"metric {metric.name!r}: a time-to-event metric needs 'horizonHours'")
    return round(metric.horizon_hours * HOUR_MS)


def curve_days(metric: Metric) -> int:
    """How many days (from day 0) a retention metric's curve shows."""
    assert metric.retention is not None
    return min(metric.retention.day + metric.retention.days, MAX_CURVE_DAYS)


def metrics_of(metrics: Sequence[Metric], kind: MetricType) -> list[tuple[int, Metric]]:
    """The metrics of type `kind` with their summary numbers ``i``."""
    return [(i, m) for i, m in enumerate(metrics) if m.type is kind]


@dataclass(frozen=True)
class UnitColumns:
    """A retention or time-to-event metric's part of DuckDB's ``unit_values``: aggregates
    in ``per`` and columns of ``vals``."""

    per_unit: list[str]
    values: list[str]


def duckdb_unit_columns(
    i: int,
    metric: Metric,
    event: int,
    params: dict[str, Any],
    post: str = "own AND age >= 0",
    alias: str = "p",
) -> UnitColumns:
    """The ``per`` aggregates and ``vals`` columns of metric `i` (its rows: number `event`,
    those after the exposure that count: `post`, this experiment's own events; `alias`: the
    name ``vals`` reads the aggregates under). Retention: ``y{i}`` retained and ``el{i}``
    eligible (both 0 for an ineligible unit). Time to event: ``y{i}`` = 0."""
    y = f"y{i}"
    if metric.type is MetricType.TIME_TO_EVENT:
        return UnitColumns([], [f"0::DOUBLE AS {y}"])
    start, end = window_ms(metric)
    params[f"rs{i}"], params[f"re{i}"] = start, end
    eligible = f"u.t0 + $re{i} <= $cutoff"
    per_unit = [
        f"max(CASE WHEN k = {event} AND {post} AND age >= $rs{i} AND age < $re{i} THEN 1 END) "
        f"AS {y}"
    ]
    values = [
        f"({eligible})::DOUBLE AS el{i}",
        f"CASE WHEN {eligible} THEN coalesce({alias}.{y}, 0) ELSE 0 END::DOUBLE AS {y}",
    ]
    return UnitColumns(per_unit, values)


def eligible_sums(metrics: Sequence[Metric]) -> list[str]:
    """The sums of the retention metrics' eligibility columns (``el{i}_s``)."""
    return [f"sum(el{i}) AS el{i}_s" for i, _ in metrics_of(metrics, MetricType.RETENTION)]


# ---------------------------------------------------------------------- the retention curve


@dataclass(frozen=True)
class CurvePlan:
    """The retention curve query: its rows are ``(k, variant, d, c)``: with ``k = -1`` the
    units whose completed days (capped at ``span``) are ``d``; otherwise the units with an
    event of retention event name number ``k`` on day ``d``, eligible for that day."""

    sql: str
    params: dict[str, Any]
    #: Per retention metric: its summary number, its event name number and its curve's days.
    metrics: list[tuple[int, int, int]]
    span: int


def curve_inputs(
    metrics: Sequence[Metric], sql: Mapping[int, int] | None = None
) -> tuple[list[str], list[tuple[int, int, int]], int]:
    """The retention event names (numbered ``k``), per metric ``(i, k, days)``, and the most
    days of any curve. `sql`: the SQL metrics' event numbers by metric number
    (:func:`~splitlab.store.sql_metric_sql.sql_numbers`, all above the event names' numbers);
    such a metric reads its own rows under that number, not events of its name."""
    sql = sql or {}
    found = metrics_of(metrics, MetricType.RETENTION)
    names = sorted({m.event_name for i, m in found if i not in sql})
    number = {name: k for k, name in enumerate(names)}
    per = [(i, sql[i] if i in sql else number[m.event_name], curve_days(m)) for i, m in found]
    return names, per, max((days for *_, days in per), default=0)


def timed_rows(prefix: str, names: int, sql_ks: Iterable[int]) -> str:
    """DuckDB: the rows ``(k, unit_key, ts)`` up to the cut-off that the curve and the
    time-to-event queries read: this experiment's metric events named by the parameters
    ``${prefix}0 ..`` (`names` of them; ``k`` = the name's number), and each SQL metric ``k``'s
    rows (its registered view, :func:`~splitlab.store.sql_metric_sql.sql_rows`; a SQL row
    belongs to no experiment)."""
    parts = []
    if names:
        case = " ".join(f"WHEN ${prefix}{j} THEN {j}" for j in range(names))
        in_names = ", ".join(f"${prefix}{j}" for j in range(names))
        parts.append(
            f"SELECT CASE metric {case} END AS k, unit_key, ts FROM metric_events "
            f"WHERE experiment_id = $exp AND ts <= $cutoff AND metric IN ({in_names})"
        )
    for k in sorted(set(sql_ks)):
        parts.append(f"SELECT {k} AS k, unit_key, ts FROM ({sql_rows(k)}) WHERE ts <= $cutoff")
    return "\n  UNION ALL\n  ".join(parts)


#: DuckDB: one row per unit exposed to exactly one variant, with its first exposure.
UNITS_CTE = """u AS (
  SELECT unit_key AS uk, min(ts) AS t0, arg_min(variant, ts) AS variant
  FROM exposures WHERE experiment_id = $exp AND ts <= $cutoff
  GROUP BY unit_key HAVING min(variant) = max(variant)
)"""


def duckdb_curve(
    experiment_id: str,
    metrics: Sequence[Metric],
    cutoff_ms: int,
    sql: Mapping[int, int] | None = None,
) -> CurvePlan:
    """DuckDB's retention curve query (see :class:`CurvePlan`); `sql` as in
    :func:`curve_inputs` (the SQL metrics' views must be registered when it runs)."""
    sql = sql or {}
    names, per, span = curve_inputs(metrics, sql)
    params: dict[str, Any] = {"exp": experiment_id, "cutoff": cutoff_ms}
    for k, name in enumerate(names):
        params[f"rn{k}"] = name
    rows = timed_rows("rn", len(names), [k for i, k, _ in per if i in sql])
    sql_text = f"""WITH {UNITS_CTE}, days AS (
  SELECT DISTINCT me.k, u.uk, u.variant, (me.ts - u.t0) // {DAY_MS} AS d, u.t0
  FROM (
  {rows}
  ) me JOIN u ON me.unit_key = u.uk
  WHERE me.ts >= u.t0 AND me.ts - u.t0 < {span * DAY_MS}
)
SELECT -1 AS k, variant, least(($cutoff - t0) // {DAY_MS}, {span}) AS d, count(*) AS c
FROM u GROUP BY variant, d
UNION ALL
SELECT k, variant, d, count(*) AS c
FROM days WHERE t0 + (d + 1) * {DAY_MS} <= $cutoff GROUP BY k, variant, d"""
    return CurvePlan(sql_text, params, per, span)


def curves_from_rows(
    plan: CurvePlan, variants: Sequence[str], rows: Sequence[Sequence[Any]]
) -> dict[tuple[int, str], RetentionCurve]:
    """Per (metric number ``i``, variant): its retention curve (zeros where no unit)."""
    completed: dict[str, list[float]] = {v: [0.0] * (plan.span + 1) for v in variants}
    events: dict[tuple[int, str], list[float]] = {}
    for row in rows:
        k, variant, d, c = int(row[0]), str(row[1]), int(row[2]), float(row[3])
        if variant not in completed:
            continue  # a variant the definition does not have: in no arm, as in the summary
        if k < 0:
            completed[variant][d] += c
        else:
            events.setdefault((k, variant), [0.0] * plan.span)[d] += c
    out: dict[tuple[int, str], RetentionCurve] = {}
    for i, k, days in plan.metrics:
        for variant in variants:
            done = completed[variant]
            # eligible for day d: at least d + 1 completed days
            eligible = [sum(done[d + 1 :]) for d in range(days)]
            retained = events.get((k, variant), [0.0] * plan.span)[:days]
            out[(i, variant)] = RetentionCurve(tuple(range(days)), tuple(eligible), tuple(retained))
    return out
