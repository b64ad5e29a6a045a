"""A canary's data for one judgment, inside DuckDB (see :mod:`splitlab.stats.intervals`).

Rules (docs/canary.md):

* An event counts when it is a metric event of this experiment with a metric's event name,
  at or after ``start`` and before ``end`` (half-open), and at or after its unit's first
  exposure in this experiment (as in the summary).
* It is attributed to the variant of its unit's first exposure before ``end``; a unit exposed
  to more than one variant is left out (as in the summary).
* Interval ``k = floor((ts - start) / interval)``; per (event name, interval, variant) the
  events are grouped by unit: ``units``, ``n`` (events), ``n_sq`` (sum of N_u squared),
  ``sum`` (sum of Y_u), ``sum_sq`` (sum of Y_u squared), ``sum_product`` (sum of Y_u N_u) and
  ``event_sum_sq`` (sum of squared event values). The same sums per (event name, variant)
  with the events grouped by unit over the whole step are the step totals.
* For the event names of the kinds that need a distribution (``mann_whitney``,
  ``quantile``), the values are counted per log bucket with the key of
  :mod:`splitlab.stats.sketch`: ``ceil(ln |x| / LOG_GAMMA)``, with the sign apart and zeros
  counted on their own; the constant is written as ``repr(LOG_GAMMA)``, so SQL and Python
  compute the same key.
* For quantile metrics, a second query counts per unit over the step its events ``N_u`` and
  those at or below the arm's step-quantile bucket ``S_u`` (the clustered correction of
  :mod:`splitlab.stats.quantile`).

Every event name is read once per judgment, whatever the number of metrics on it: DuckDB
computes the exposure map and the events once (materialised common table expressions) and
returns the three aggregations in one result. Only sums and bucket counts leave the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from splitlab.config.adaptive import CanaryMetric
from splitlab.config.models import Experiment
from splitlab.stats.intervals import CanaryData, IntervalArm
from splitlab.stats.quantile import ClusteredSums, quantile_bucket
from splitlab.stats.sketch import LOG_GAMMA, Sketch
from splitlab.store.errors import StoreError
from splitlab.store.summary_sql import cutoff_millis, used_params

#: Metric kinds whose intervals carry the values' sketch.
SKETCH_KINDS = frozenset({"mann_whitney", "quantile"})

#: The bucket key of a non-zero value ``value`` (SQL shared by both dialects).
BUCKET_KEY = f"CEIL(LN(abs(value)) / {LOG_GAMMA!r})"

#: Whether a value (with its bucket ``bkey``) is at or below the threshold ``(tsg, tkey)``.
AT_OR_BELOW = (
    "CASE WHEN tsg = 1 THEN (value <= 0 OR bkey <= tkey) WHEN tsg = 0 THEN value <= 0 "
    "ELSE (value < 0 AND bkey >= tkey) END"
)

#: Row parts of the DuckDB query: interval moments, step totals, bucket counts.
MOMENTS, STEP, BUCKETS = 0, 1, 2

#: ``(metric index, event name, variant, sign, key)``: a quantile metric's arm threshold.
Threshold = tuple[int, str, str, int, int]


@dataclass(frozen=True)
class CanaryPlan:
    """The events read for one judgment: their names (``$e0``, ``$e1``, ...), those that need
    a sketch, and the shared parameters."""

    events: list[str]
    sketch_events: list[str]
    params: dict[str, Any]

    def names_in(self, names: Sequence[str]) -> str:
        """``($e0, $e2)``: a SQL list of the parameters of ``names``."""
        return "(" + ", ".join(f"$e{self.events.index(n)}" for n in names) + ")"


def plan_canary(
    experiment: Experiment,
    metrics: Sequence[CanaryMetric],
    start: datetime,
    end: datetime,
    interval_seconds: int,
) -> CanaryPlan:
    """The parameters shared by both dialects; a bad window is a :class:`StoreError`."""
    if interval_seconds <= 0:
        raise StoreError(f"interval_seconds: expected a positive number (got {interval_seconds})")
    start_ms, end_ms = cutoff_millis(start), cutoff_millis(end)
    if end_ms < start_ms:
        raise StoreError(f"end {end.isoformat()}: expected at or after start {start.isoformat()}")
    events = sorted({m.event_name for m in metrics})
    sketch_events = sorted({m.event_name for m in metrics if m.kind in SKETCH_KINDS})
    params: dict[str, Any] = {
        "exp": experiment.experiment_id,
        "start": start_ms,
        "end": end_ms,
        "interval": int(interval_seconds) * 1000,
    }
    params.update({f"e{i}": name for i, name in enumerate(events)})
    return CanaryPlan(events, sketch_events, params)


_FIRST = """first AS (
  SELECT unit_key, min(ts) AS t0, arg_min(variant, ts) AS variant,
         min(variant) <> max(variant) AS multi
  FROM exposures WHERE experiment_id = $exp AND ts < $end GROUP BY unit_key
)"""


def _events_where(plan: CanaryPlan, names: Sequence[str]) -> str:
    return (
        f"me.experiment_id = $exp AND me.metric IN {plan.names_in(names)} AND me.ts >= $start "
        "AND me.ts < $end AND me.ts >= f.t0 AND NOT f.multi"
    )


def duckdb_sql(plan: CanaryPlan) -> str:
    """One query: rows ``(part, event, k, variant, sg, b, units, n, n_sq, s, ss, sp, ess)``
    with ``part`` MOMENTS (per interval), STEP (``k`` NULL) or BUCKETS (``units`` = count)."""
    buckets = ""
    if plan.sketch_events:
        buckets = f"""
UNION ALL
SELECT {BUCKETS}, e, k, variant, sign(value)::INTEGER AS sg,
       CASE WHEN value = 0 THEN 0 ELSE {BUCKET_KEY}::BIGINT END AS b, count(*),
       NULL, NULL, NULL, NULL, NULL, NULL
FROM ev WHERE e IN {plan.names_in(plan.sketch_events)} GROUP BY e, k, variant, sg, b"""
    return f"""WITH {_FIRST}, ev AS MATERIALIZED (
  SELECT me.metric AS e, (me.ts - $start) // $interval AS k, f.variant, me.unit_key, me.value
  FROM metric_events me JOIN first f ON me.unit_key = f.unit_key
  WHERE {_events_where(plan, plan.events)}
), pu AS MATERIALIZED (
  SELECT e, k, variant, unit_key, count(*) AS n, sum(value) AS y, sum(value * value) AS yy
  FROM ev GROUP BY e, k, variant, unit_key
)
SELECT {MOMENTS} AS part, e, k, variant, NULL::INTEGER AS sg, NULL::BIGINT AS b,
       count(*) AS units, sum(n)::BIGINT AS n, sum(n * n)::DOUBLE AS n_sq, sum(y) AS s,
       sum(y * y) AS ss, sum(y * n) AS sp, sum(yy) AS ess
FROM pu GROUP BY e, k, variant
UNION ALL
SELECT {STEP}, e, NULL, variant, NULL, NULL, count(*), sum(n)::BIGINT, sum(n * n)::DOUBLE,
       sum(y), sum(y * y), sum(y * n), sum(yy)
FROM (
  SELECT e, variant, unit_key, sum(n) AS n, sum(y) AS y, sum(yy) AS yy
  FROM pu GROUP BY e, variant, unit_key
) GROUP BY e, variant{buckets}"""


def split_parts(
    rows: Iterable[Sequence[Any]],
) -> tuple[list[Sequence[Any]], list[Sequence[Any]], list[Sequence[Any]]]:
    """The DuckDB rows as (moments, step, buckets) rows in the shape of :func:`canary_data`."""
    moments: list[Sequence[Any]] = []
    step: list[Sequence[Any]] = []
    buckets: list[Sequence[Any]] = []
    for row in rows:
        if row[0] == MOMENTS:
            moments.append((row[1], row[2], row[3], *row[6:13]))
        elif row[0] == STEP:
            step.append((row[1], row[3], *row[6:13]))
        else:
            buckets.append((row[1], row[2], row[3], row[4], row[5], row[6]))
    return moments, step, buckets


def thresholds(
    metrics: Sequence[CanaryMetric], data: CanaryData, variants: Sequence[str]
) -> list[Threshold]:
    """Per quantile metric and arm, the bucket of the arm's step quantile (merged sketch)."""
    out: list[Threshold] = []
    for j, m in enumerate(metrics):
        if m.kind != "quantile":
            continue
        for variant in variants:
            merged = Sketch()
            for arms in data.intervals.get(m.name, {}).values():
                sketch = arms[variant].sketch if variant in arms else None
                if sketch is not None:
                    merged = merged + sketch
            if merged.count:
                p = m.quantile if m.quantile is not None else 0.5
                sign, key = quantile_bucket(merged, p)
                out.append((j, m.event_name, variant, sign, key))
    return out


def duckdb_clustered_sql(
    plan: CanaryPlan, found: Sequence[Threshold]
) -> tuple[str, dict[str, Any]]:
    """Rows ``(j, variant, units, n, n_sq, s, s_sq, s_n)``: per quantile metric ``j`` and arm,
    the sums over units (whole step) of ``N_u`` and ``S_u`` at the arm's threshold."""
    params = dict(plan.params)
    rows = []
    for i, (j, event, variant, sign, key) in enumerate(found):
        params[f"tv{i}"] = variant
        rows.append(f"({j}, $e{plan.events.index(event)}, $tv{i}, {int(sign)}, {int(key)})")
    names = sorted({t[1] for t in found})
    sql = f"""WITH {_FIRST}, thr(j, e, variant, tsg, tkey) AS (VALUES {", ".join(rows)}),
b AS (
  SELECT thr.j, f.variant, me.unit_key, me.value, tsg, tkey,
         CASE WHEN me.value = 0 THEN 0 ELSE {BUCKET_KEY.replace("value", "me.value")}::BIGINT
         END AS bkey
  FROM metric_events me JOIN first f ON me.unit_key = f.unit_key
  JOIN thr ON thr.e = me.metric AND thr.variant = f.variant
  WHERE {_events_where(plan, names)}
), pu AS (
  SELECT j, variant, unit_key, count(*)::DOUBLE AS n_u,
         count(CASE WHEN {AT_OR_BELOW} THEN 1 END)::DOUBLE AS s_u
  FROM b GROUP BY j, variant, unit_key
)
SELECT j, variant, count(*) AS units, sum(n_u) AS n_s, sum(n_u * n_u) AS n_ss,
       sum(s_u) AS s_s, sum(s_u * s_u) AS s_ss, sum(s_u * n_u) AS sn_s
FROM pu GROUP BY j, variant"""
    return sql, used_params(sql, params)


def _arm(values: Sequence[Any], sketch: Sketch | None) -> IntervalArm:
    units, n, n_sq, s, ss, sp, ess = values
    return IntervalArm(
        int(units), int(n), float(n_sq), float(s), float(ss), float(sp), float(ess), sketch
    )


def canary_data(
    experiment: Experiment,
    metrics: Sequence[CanaryMetric],
    moments: Iterable[Sequence[Any]],
    step: Iterable[Sequence[Any]],
    buckets: Iterable[Sequence[Any]],
) -> CanaryData:
    """The metrics' data (without clustered sums) from rows of either dialect: ``moments``
    ``(event, k, variant, units, n, n_sq, s, ss, sp, ess)``, ``step`` ``(event, variant,
    ...)`` and ``buckets`` ``(event, k, variant, sign, key, count)``.

    Variants not in the definition are left out; an interval appears only when it has events.
    """
    known = set(experiment.variant_names)
    sketches: dict[tuple[str, int, str], tuple[int, dict[int, int], dict[int, int]]] = {}
    for event, k, variant, sign, key, count in buckets:
        if variant not in known:
            continue
        at = (event, int(k), variant)
        zeros, positive, negative = sketches.get(at, (0, {}, {}))
        if int(sign) == 0:
            zeros += int(count)
        else:
            side = positive if int(sign) > 0 else negative
            side[int(key)] = side.get(int(key), 0) + int(count)
        sketches[at] = (zeros, positive, negative)
    per_event: dict[str, dict[int, dict[str, tuple[Sequence[Any], Sketch]]]] = {}
    for row in moments:
        event, k, variant = row[0], int(row[1]), row[2]
        if variant in known:
            zeros, positive, negative = sketches.get((event, k, variant), (0, {}, {}))
            sketch = Sketch(zeros, positive, negative)
            per_event.setdefault(event, {}).setdefault(k, {})[variant] = (row[3:10], sketch)
    step_arms: dict[str, dict[str, IntervalArm]] = {}
    for row in step:
        if row[1] in known:
            step_arms.setdefault(row[0], {})[row[1]] = _arm(row[2:9], None)
    intervals: dict[str, dict[int, dict[str, IntervalArm]]] = {}
    steps: dict[str, dict[str, IntervalArm]] = {}
    for m in metrics:
        with_sketch = m.kind in SKETCH_KINDS
        found = per_event.get(m.event_name, {})
        intervals[m.name] = {
            k: {
                v: _arm(values, sketch if with_sketch else None)
                for v, (values, sketch) in found[k].items()
            }
            for k in sorted(found)
        }
        steps[m.name] = dict(step_arms.get(m.event_name, {}))
    return CanaryData(intervals, steps, {})


def with_clustered(
    data: CanaryData,
    metrics: Sequence[CanaryMetric],
    found: Sequence[Threshold],
    rows: Iterable[Sequence[Any]],
) -> CanaryData:
    """``data`` with the clustered sums of the rows of a clustered query."""
    bucket = {(t[0], t[2]): (t[3], t[4]) for t in found}
    clustered: dict[str, dict[str, ClusteredSums]] = {}
    for j, variant, units, n, n_sq, s, s_sq, s_n in rows:
        at = (int(j), variant)
        if at not in bucket:
            continue
        clustered.setdefault(metrics[int(j)].name, {})[variant] = ClusteredSums(
            int(units), float(n), float(n_sq), float(s), float(s_sq), float(s_n), bucket[at]
        )
    return CanaryData(data.intervals, data.steps, clustered)
