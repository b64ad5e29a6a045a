"""The sums of quantile metrics: per arm a sketch, and per event the clustered sums.

A quantile metric's arm carries, besides ``n``, ``sum`` and ``sumSq`` of its values, the
values' :class:`~splitlab.stats.sketch.Sketch` (``"sketch"`` in the sums JSON) and, for a
quantile per event, the per-unit sums of the clustered correction (``"clustered"``; see
:mod:`splitlab.stats.quantile`). Values follow the summary's rules (:mod:`.summary_sql`):
first exposure, no unit exposed to two variants, events at or after the exposure and within
``windowHours``, at or before the cut-off.

* ``per: "event"``: every such event's value; ``n`` counts the events.
* ``per: "unit"``: each exposed unit's aggregated value (``aggregation``; 0 without events,
  as for a continuous metric); ``n`` counts the units.

Two queries, both grouped in the database, so only bucket counts and a few sums leave it:

1. The sketch: counts per (metric, variant, sign, bucket), the bucket key
   ``CEIL(LN(|value|) / ln gamma)`` with the literal ``repr(LOG_GAMMA)``, negative values
   mirrored, zero its own count; the same keys as ``Sketch.from_values``.
2. For the per-event metrics: each arm's quantile bucket is found in Python from its sketch
   (:func:`~splitlab.stats.quantile.quantile_bucket`, the same rule the interval uses), and
   passed back as a small table; per unit ``N_u`` (events) and ``S_u`` (events at or below
   that bucket) are summed per arm. A second query rather than one with a window over the
   cumulative bucket counts: ClickHouse 18 has no window functions, and the two stores then
   share the rule in one place.

Segments: quantile metrics are computed for the overall slice; in a segment's slice their
arms carry no sketch, and the analysis of a segment says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from splitlab.config.models import Experiment, Metric, MetricType
from splitlab.stats.quantile import ClusteredSums, quantile_bucket
from splitlab.stats.sketch import LOG_GAMMA, Sketch
from splitlab.stats.sums import ArmSums, ExperimentSums
from splitlab.store.summary_sql import summary_metrics, unit_values, used_params

Runner = Callable[[str, dict[str, Any]], tuple[Sequence[str], Sequence[Sequence[Any]]]]


def bucket_key_sql(column: str = "value") -> str:
    """DuckDB: the sketch bucket key of ``column`` (0 for zero, else ``ceil(ln |x| / ln
    gamma)`` with the literal ``repr(LOG_GAMMA)``, as :func:`splitlab.stats.sketch.bucket_key`)."""
    return f"CASE WHEN {column} = 0 THEN 0 ELSE CEIL(LN(abs({column})) / {LOG_GAMMA!r})::BIGINT END"


def quantile_metrics(experiment: Experiment) -> list[tuple[int, Metric]]:
    """The quantile metrics with their summary numbers (``y{i}``)."""
    return [
        (i, m) for i, m in enumerate(summary_metrics(experiment)) if m.type is MetricType.QUANTILE
    ]


@dataclass
class ArmQuantile:
    """What the queries found for one (metric, variant)."""

    n: float = 0.0
    sum: float = 0.0
    sum_sq: float = 0.0
    zeros: int = 0
    positive: dict[int, int] | None = None
    negative: dict[int, int] | None = None
    clustered: ClusteredSums | None = None

    def sketch(self) -> Sketch:
        return Sketch(self.zeros, dict(self.positive or {}), dict(self.negative or {}))


def read_sketch_rows(
    columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> dict[tuple[int, str], ArmQuantile]:
    """Rows ``(i, variant, sg, bkey, c, vs, vss)`` into per-arm counts and sums."""
    out: dict[tuple[int, str], ArmQuantile] = {}
    for row in rows:
        r = dict(zip(columns, row, strict=True))
        arm = out.setdefault((int(r["i"]), str(r["variant"])), ArmQuantile())
        count = int(r["c"])
        arm.n += count
        arm.sum += float(r["vs"] or 0.0)
        arm.sum_sq += float(r["vss"] or 0.0)
        sign = int(r["sg"])
        if sign == 0:
            arm.zeros += count
        else:
            side = arm.positive if sign > 0 else arm.negative
            if side is None:
                side = {}
                if sign > 0:
                    arm.positive = side
                else:
                    arm.negative = side
            side[int(r["bkey"])] = side.get(int(r["bkey"]), 0) + count
    return out


def thresholds(
    experiment: Experiment, found: dict[tuple[int, str], ArmQuantile]
) -> list[tuple[int, str, int, int]]:
    """``(i, variant, sign, key)``: each per-event arm's quantile bucket."""
    out = []
    for i, metric in quantile_metrics(experiment):
        if metric.per != "event" or metric.quantile is None:
            continue
        for variant in experiment.variant_names:
            arm = found.get((i, variant))
            if arm is not None and arm.n > 0:
                sign, key = quantile_bucket(arm.sketch(), metric.quantile)
                out.append((i, variant, sign, key))
    return out


def read_clustered_rows(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    found: dict[tuple[int, str], ArmQuantile],
    buckets: Sequence[tuple[int, str, int, int]],
) -> None:
    """Rows ``(i, variant, units, n_s, n_ss, s_s, s_ss, sn_s)`` into the arms' clustered sums."""
    bucket_of = {(i, v): (s, k) for i, v, s, k in buckets}
    for row in rows:
        r = dict(zip(columns, row, strict=True))
        key = (int(r["i"]), str(r["variant"]))

        def num(name: str, record: dict[str, Any] = r) -> float:
            return float(record[name] or 0.0)

        found[key].clustered = ClusteredSums(
            int(r["units"]),
            num("n_s"),
            num("n_ss"),
            num("s_s"),
            num("s_ss"),
            num("sn_s"),
            bucket_of[key],
        )


def attach(
    experiment: Experiment, sums: ExperimentSums, found: dict[tuple[int, str], ArmQuantile]
) -> ExperimentSums:
    """The summary's sums with each quantile metric's overall arms replaced: per event the
    events' ``n``, ``sum``, ``sumSq``, per unit the units' (as summed already); both with the
    sketch, and per event the clustered sums."""
    metrics = {name: dict(arms) for name, arms in sums.metrics.items()}
    for i, metric in quantile_metrics(experiment):
        arms = metrics.setdefault(metric.name, {})
        for variant in experiment.variant_names:
            arm = found.get((i, variant), ArmQuantile())
            old = arms.get(variant, ArmSums(0.0, 0.0, 0.0))
            if metric.per == "event":
                arms[variant] = ArmSums(
                    arm.n, arm.sum, arm.sum_sq, sketch=arm.sketch(), clustered=arm.clustered
                )
            else:
                arms[variant] = replace(old, sketch=arm.sketch())
    return ExperimentSums(
        sums.units,
        metrics,
        sums.experiment_id,
        sums.look,
        sums.segments,
        cluster_sizes=sums.cluster_sizes,
        cells=sums.cells,
        capping=sums.capping,
    )


def _values_cte(experiment: Experiment) -> tuple[str, dict[str, Any]]:
    """CTEs ending in ``qv (i, variant, uk, value)``: the quantile metrics' values of units
    exposed to one variant (events per event, aggregated values per unit)."""
    unit = unit_values(experiment, 0, ())
    params = dict(unit.params)
    parts = []
    for i, metric in quantile_metrics(experiment):
        if metric.per == "unit":
            parts.append(
                f"SELECT {i} AS i, variant, NULL::BIGINT AS uk, y{i} AS value "
                "FROM vals WHERE NOT multi"
            )
            continue
        params[f"qe{i}"] = metric.event_name
        window = ""
        if metric.window_hours is not None:
            params[f"w{i}"] = int(metric.window_hours * 3_600_000)
            window = f" AND me.ts - u.t0 < $w{i}"
        parts.append(
            f"SELECT {i} AS i, u.variant, u.uk, me.value FROM metric_events me "
            f"JOIN u ON me.unit_key = u.uk WHERE NOT u.multi AND me.experiment_id = $exp "
            f"AND me.metric = $qe{i} AND me.ts <= $cutoff AND me.ts >= u.t0{window}"
        )
    union = "\n  UNION ALL ".join(parts)
    return f"{unit.ctes}, qv AS (\n  {union}\n)", params


def sketch_sql(experiment: Experiment, cutoff_ms: int) -> tuple[str, dict[str, Any]]:
    """Query 1: bucket counts and value sums per (metric, variant, sign, bucket)."""
    ctes, params = _values_cte(experiment)
    params["cutoff"] = cutoff_ms
    sql = f"""{ctes}
SELECT i, variant, sign(value)::INTEGER AS sg,
       {bucket_key_sql()} AS bkey,
       count(*) AS c, sum(value) AS vs, sum(value * value) AS vss
FROM qv GROUP BY i, variant, sg, bkey"""
    return sql, used_params(sql, params)


#: Whether a value (with its bucket ``bkey``) is at or below the threshold bucket ``(tsg, tkey)``.
AT_OR_BELOW = (
    "CASE WHEN tsg = 1 THEN (value <= 0 OR bkey <= tkey) WHEN tsg = 0 THEN value <= 0 "
    "ELSE (value < 0 AND bkey >= tkey) END"
)


def clustered_sql(
    experiment: Experiment, cutoff_ms: int, buckets: Sequence[tuple[int, str, int, int]]
) -> tuple[str, dict[str, Any]]:
    """Query 2: per arm the sums over units of ``N_u`` and ``S_u`` at the arm's bucket."""
    ctes, params = _values_cte(experiment)
    params["cutoff"] = cutoff_ms
    rows = []
    for j, (i, variant, sign, key) in enumerate(buckets):
        params[f"tv{j}"] = variant
        rows.append(f"({i}, $tv{j}, {int(sign)}, {int(key)})")
    sql = f"""{ctes}, thr(i, variant, tsg, tkey) AS (VALUES {", ".join(rows)}),
b AS (
  SELECT qv.i, qv.variant, qv.uk, qv.value, tsg, tkey,
         {bucket_key_sql("qv.value")} AS bkey
  FROM qv JOIN thr ON qv.i = thr.i AND qv.variant = thr.variant
), pu AS (
  SELECT i, variant, uk, count(*)::DOUBLE AS n_u,
         count(CASE WHEN {AT_OR_BELOW} THEN 1 END)::DOUBLE AS s_u
  FROM b GROUP BY i, variant, uk
)
SELECT i, variant, count(*) AS units, sum(n_u) AS n_s, sum(n_u * n_u) AS n_ss,
       sum(s_u) AS s_s, sum(s_u * s_u) AS s_ss, sum(s_u * n_u) AS sn_s
FROM pu GROUP BY i, variant"""
    return sql, used_params(sql, params)


def quantile_sums(
    experiment: Experiment, sums: ExperimentSums, cutoff_ms: int, run: Runner
) -> ExperimentSums:
    """Run both queries through `run` (DuckDB) and attach the results to `sums`."""
    if not quantile_metrics(experiment):
        return sums
    columns, rows = run(*sketch_sql(experiment, cutoff_ms))
    found = read_sketch_rows(columns, rows)
    buckets = thresholds(experiment, found)
    if buckets:
        columns, rows = run(*clustered_sql(experiment, cutoff_ms, buckets))
        read_clustered_rows(columns, rows, found, buckets)
    return attach(experiment, sums, found)
