"""Retention and time-to-event metrics' columns in ClickHouse's summary (the rules of
:mod:`splitlab.store.retention_sql`); the queries after the summary are in :mod:`.survival_sql`.

Kept apart from :mod:`.survival_sql` because :mod:`.sql` imports it (and that one imports
:mod:`.sql`).
"""

from __future__ import annotations

from typing import Any

from splitlab.config.models import Metric, MetricType
from splitlab.store.clickhouse.sql_metric import row_match
from splitlab.store.retention_sql import UnitColumns, window_ms


def clickhouse_unit_columns(
    i: int, metric: Metric, params: dict[str, Any], prefix: str = ""
) -> UnitColumns:
    """Metric `i`'s per-unit aggregate (``py{i}``, over events with ``metric``, ``ts``,
    ``event_experiment`` and the unit's ``t0``) and its columns in ``unit_values``
    (``{prefix}el{i}``, ``{prefix}y{i}``): the rules of
    :func:`splitlab.store.retention_sql.duckdb_unit_columns`. The event name is ``$e{i}``; a SQL metric reads its own rows
    (:func:`.sql_metric.row_match`)."""
    y, el = f"{prefix}y{i}", f"{prefix}el{i}"
    params[f"e{i}"] = metric.event_name
    if metric.type is MetricType.TIME_TO_EVENT:
        return UnitColumns([], [f"toFloat64(0) AS {y}"])
    params[f"rs{i}"], params[f"re{i}"] = window_ms(metric)
    eligible = f"t0 + $re{i} <= $cutoff"
    per_unit = [
        f"maxIf(1, {row_match(metric, i, f'e{i}')} AND event_experiment = $exp "
        f"AND ts >= t0 + $rs{i} "
        f"AND ts < t0 + $re{i}) AS py{i}"
    ]
    values = [
        f"toFloat64({eligible}) AS {el}",
        f"toFloat64(if({eligible}, py{i}, 0)) AS {y}",
    ]
    return UnitColumns(per_unit, values)
