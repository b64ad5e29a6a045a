"""The per-unit summary's SQL-metric rows, aggregated beside the metric events.

:func:`~splitlab.store.summary_sql.unit_values` numbers every event name ``k`` and aggregates
per unit with ``CASE WHEN k = ...``. A SQL metric (``metric.sql``) gets a number of its own,
after the event names, and its rows (``unit_id``, ``ts`` in epoch ms, ``value``; see
:mod:`splitlab.store.sql_sources`) come from a view registered on the connection
(:func:`view_name`). They are joined to the exposed units by unit id and aggregated per unit in
a CTE of their own (:func:`sql_per_unit_cte`), under the same rules as events: after the
unit's first exposure, within ``windowHours``, up to the cut-off, and in the CUPED pre-period
for the covariate.

A SQL row belongs to no experiment, so it counts in none of the data-quality counts (which are
about the experiment's own events, aggregated with the events), and a SQL metric's
post-exposure condition does not test ``own`` (:func:`post_condition`).

The rows join the exposed units directly on the unit-id string, rather than first taking each
row's integer key from ``unit_keys`` and then joining on it like the events: one join of the
rows instead of two (measured 1.67 s -> 1.18 s for the summary query over 10M Parquet rows and
1M units, ``bench/sql_metric.py``; 1.10 s with their own CTE).

Without SQL metrics the summary's text is what it was before them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from splitlab.config.models import Metric

#: The prefix of the views holding SQL metrics' rows (one per SQL metric number ``k``).
VIEW_PREFIX = "_splitlab_sql_"


def view_name(k: int) -> str:
    return f"{VIEW_PREFIX}{k}"


def sql_numbers(metrics: Sequence[Metric], first: int) -> dict[int, int]:
    """The event number ``k`` of each SQL metric, by its index in `metrics`: `first` (the
    number of event names) upwards."""
    out: dict[int, int] = {}
    for i, metric in enumerate(metrics):
        if metric.sql is not None:
            out[i] = first + len(out)
    return out


def post_condition(i: int, sql: Mapping[int, int]) -> str:
    """Metric `i`'s rows after exposure: the experiment's own events, or its SQL rows."""
    return "age >= 0" if i in sql else "own AND age >= 0"


def event_number(i: int, metric: Metric, number: Mapping[str, int], sql: Mapping[int, int]) -> int:
    """The ``k`` that metric `i`'s per-unit aggregate tests."""
    return sql[i] if i in sql else number[metric.event_name]


def unit_id_column(sql: Mapping[int, int]) -> str:
    """The exposed units' id, for :func:`sql_per_unit_cte` (only with SQL metrics: ``unit_key``
    and ``unit_id`` are one to one, so any exposure's id is the unit's)."""
    return ", any_value(unit_id) AS unit_id" if sql else ""


#: The alias ``vals`` reads the SQL metrics' per-unit aggregates under (``p``: the events').
SQL_ALIAS = "sp"


def sql_per_unit_cte(per_unit: Sequence[str], sql: Mapping[int, int]) -> str:
    """The CTE ``sper`` (after ``per``, so starting with a comma): the SQL metrics' per-unit
    aggregates `per_unit`, over each SQL metric's rows joined to the exposed units ``u``
    (which carry ``unit_id``) in the columns ``uk, value, ts, age, k``; empty without SQL
    metrics. Apart from the events' ``per``: the rows of SQL metrics
    count in none of the data-quality counts, and aggregating them on their own was measured
    1.20 s -> 1.10 s (``bench/sql_metric.py``)."""
    if not sql:
        return ""
    rows = "\n    UNION ALL\n".join(
        f"""    SELECT u.uk, s.value, s.ts, s.ts - u.t0 AS age, {k} AS k
    FROM {view_name(k)} s JOIN u ON s.unit_id = u.unit_id WHERE s.ts <= $cutoff"""
        for k in sorted(sql.values())
    )
    columns = ",\n    ".join(per_unit)
    return f"""
), {SQL_ALIAS}er AS (
  SELECT uk,
    {columns}
  FROM (
{rows}
  ) GROUP BY uk"""


def sql_per_unit_join(sql: Mapping[int, int]) -> str:
    """``vals``' join to :func:`sql_per_unit_cte` (empty without SQL metrics)."""
    return f" LEFT JOIN {SQL_ALIAS}er {SQL_ALIAS} ON u.uk = {SQL_ALIAS}.uk" if sql else ""


def sql_rows(k: int) -> str:
    """SQL metric `k`'s rows with the store's unit keys: ``unit_key, ts, value`` (for queries
    that read a metric's rows outside :func:`sql_per_unit_cte`, e.g. per-unit first events)."""
    return (
        f"SELECT keys.unit_key, s.ts, s.value FROM {view_name(k)} s "
        "JOIN unit_keys keys ON s.unit_id = keys.unit_id"
    )
