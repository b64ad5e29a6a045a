"""The sums of quantile metrics (:mod:`splitlab.store.quantile_sql`) in ClickHouse's dialect.

The same two queries and the same rules; the rows are read back by the same functions, so
both stores give identical sketches and clustered sums on the same events. Dialect: the
first exposures and the deduplicated metric events come from :mod:`.sql`; the bucket key is
``ceil(log(abs(value)) / <repr(LOG_GAMMA)>)`` (``log`` is the natural logarithm); the
thresholds table is an ``arrayJoin`` over a tuple literal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from splitlab.config.models import Experiment
from splitlab.stats.sketch import LOG_GAMMA
from splitlab.stats.sums import ExperimentSums
from splitlab.store.clickhouse.sql import Dedup, _first_exposures, metric_events, unit_values
from splitlab.store.quantile_sql import (
    Runner,
    quantile_metrics,
    read_clustered_rows,
    read_sketch_rows,
    thresholds,
)
from splitlab.store.quantile_sql import attach as attach_arms

KEY = f"toInt64(ceil(log(abs(value)) / {LOG_GAMMA!r}))"
BKEY = f"if(value = 0, toInt64(0), {KEY})"


def _values(
    db: str, experiment: Experiment, cutoff_ms: int, dedup: Dedup
) -> tuple[str, dict[str, Any]]:
    """A subquery ``(i, variant, unit, value)`` of the quantile metrics' values."""
    unit = unit_values(db, experiment, cutoff_ms, (), dedup)
    params: dict[str, Any] = dict(unit.params)
    parts = []
    for i, metric in quantile_metrics(experiment):
        if metric.per == "unit":
            parts.append(
                f"SELECT toInt32({i}) AS i, variant, '' AS unit, toFloat64(y{i}) AS value "
                f"FROM {unit.sql}"
            )
            continue
        params[f"qe{i}"] = metric.event_name
        window = ""
        if metric.window_hours is not None:
            params[f"w{i}"] = int(metric.window_hours * 3_600_000)
            window = f" AND ts < t0 + $w{i}"
        events = metric_events(
            db,
            f"experiment_id = $exp AND metric = $qe{i} AND ts <= $cutoff",
            "unit_id, value, ts",
            dedup,
        )
        parts.append(
            f"SELECT toInt32({i}) AS i, unit_variant AS variant, unit_id AS unit, "
            f"toFloat64(value) AS value FROM {events} "
            f"ALL INNER JOIN (SELECT unit_id, t0, unit_variant FROM {_first_exposures(db, ())}) "
            f"USING unit_id WHERE ts >= t0{window}"
        )
    return "(\n  " + "\n  UNION ALL\n  ".join(parts) + "\n)", params


def sketch_sql(
    db: str, experiment: Experiment, cutoff_ms: int, dedup: Dedup
) -> tuple[str, dict[str, Any]]:
    values, params = _values(db, experiment, cutoff_ms, dedup)
    sql = f"""SELECT i, variant, toInt32(if(value > 0, 1, if(value < 0, -1, 0))) AS sg, {BKEY} AS bkey,
       count() AS c, sum(value) AS vs, sum(value * value) AS vss
FROM {values}
GROUP BY i, variant, sg, bkey"""
    return sql, params


def clustered_sql(
    db: str,
    experiment: Experiment,
    cutoff_ms: int,
    dedup: Dedup,
    buckets: Sequence[tuple[int, str, int, int]],
) -> tuple[str, dict[str, Any]]:
    values, params = _values(db, experiment, cutoff_ms, dedup)
    rows = []
    for j, (i, variant, sign, key) in enumerate(buckets):
        params[f"tv{j}"] = variant
        rows.append(f"(toInt32({i}), $tv{j}, toInt32({int(sign)}), toInt64({int(key)}))")
    below = (
        "if(tsg = 1, value <= 0 OR bkey <= tkey, if(tsg = 0, value <= 0, "
        "value < 0 AND bkey >= tkey))"
    )
    sql = f"""SELECT i, variant, count() AS units, sum(n_u) AS n_s, sum(n_u * n_u) AS n_ss,
       sum(s_u) AS s_s, sum(s_u * s_u) AS s_ss, sum(s_u * n_u) AS sn_s
FROM (
  SELECT i, variant, unit, toFloat64(count()) AS n_u, toFloat64(countIf({below})) AS s_u
  FROM (SELECT i, variant, unit, value, {BKEY} AS bkey FROM {values})
  ALL INNER JOIN (
    SELECT t.1 AS i, t.2 AS variant, t.3 AS tsg, t.4 AS tkey
    FROM system.one ARRAY JOIN [{", ".join(rows)}] AS t
  ) USING i, variant
  GROUP BY i, variant, unit
)
GROUP BY i, variant"""
    return sql, params


def quantile_sums(
    db: str,
    experiment: Experiment,
    sums: ExperimentSums,
    cutoff_ms: int,
    dedup: Dedup,
    run: Runner,
) -> ExperimentSums:
    """Run both queries through `run` (ClickHouse) and attach the results to `sums`."""
    if not quantile_metrics(experiment):
        return sums
    columns, rows = run(*sketch_sql(db, experiment, cutoff_ms, dedup))
    found = read_sketch_rows(columns, rows)
    buckets = thresholds(experiment, found)
    if buckets:
        columns, rows = run(*clustered_sql(db, experiment, cutoff_ms, dedup, buckets))
        read_clustered_rows(columns, rows, found, buckets)
    return attach_arms(experiment, sums, found)
