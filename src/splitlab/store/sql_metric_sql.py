"""The per-unit summary's event rows, with the rows of SQL metrics beside the metric events.

:func:`~splitlab.store.summary_sql.unit_values` numbers every event name ``k`` and aggregates
per unit with ``CASE WHEN k = ...``. A SQL metric (``metric.sql``) gets a number of its own,
after the event names, and its rows (``unit_id``, ``ts`` in epoch ms, ``value``; see
:mod:`splitlab.store.sql_sources`) come from a view registered on the connection
(:func:`view_name`), matched to the exposed units by unit id through ``unit_keys``. Then the
same rules apply as to events: after the unit's first exposure, within ``windowHours``, up to
the cut-off, and in the CUPED pre-period for the covariate.

Two differences from events: a SQL row belongs to no experiment (its ``own`` flag is false, so
it counts in none of the data-quality counts, which are about the experiment's own events),
and so a SQL metric's post-exposure condition does not test ``own``.

Without SQL metrics every function here returns the text the summary had before them.
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


def join_scope(wants_pre: bool, sql: Mapping[int, int]) -> str:
    """The condition on the join of rows and units (CUPED: other experiments' events only in
    the pre-period; SQL rows always, their aggregates test the ages)."""
    if not wants_pre:
        return ""
    if not sql:
        return " AND (me.own OR (me.ts < u.t0 AND me.ts >= u.t0 - $lookback))"
    first = min(sql.values())
    return f" AND (me.own OR me.k >= {first} OR (me.ts < u.t0 AND me.ts >= u.t0 - $lookback))"


def event_rows(codes: str, case: str, scope: str, sql: Mapping[int, int]) -> str:
    """The ``me`` subquery: metric events in scope with their columns ``unit_key, value, ts,
    vc, own, k``, and each SQL metric's rows (``vc`` NULL, ``own`` false)."""
    events = f"""SELECT unit_key, value, ts, {codes} AS vc, experiment_id = $exp AS own,
             CASE metric {case} END AS k
      FROM metric_events WHERE ts <= $cutoff AND ({scope})"""
    for k in sorted(sql.values()):
        events += f"""
      UNION ALL
      SELECT unit_key, value, ts, NULL::UBIGINT AS vc, false AS own, {k} AS k
      FROM ({sql_rows(k)}) WHERE ts <= $cutoff"""
    return events


def sql_rows(k: int) -> str:
    """SQL metric `k`'s rows with the store's unit keys: ``unit_key, ts, value`` (for queries
    that read a metric's rows outside :func:`event_rows`, e.g. per-unit first events)."""
    return (
        f"SELECT keys.unit_key, s.ts, s.value FROM {view_name(k)} s "
        "JOIN unit_keys keys ON s.unit_id = keys.unit_id"
    )
