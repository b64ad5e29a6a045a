"""A canary's data for one judgment, inside DuckDB (see :mod:`splitlab.stats.intervals`).

Rules (docs/canary.md):

* An event counts when it is a metric event of this experiment with a metric's event name,
  at or after ``start`` and before ``end`` (half-open), and at or after its unit's first
  exposure in this experiment (as in the summary).
* It is attributed to the variant of its unit's first exposure before ``end``; a unit exposed
  to more than one variant is left out (as in the summary).
* Step totals, per (event name, variant): the events grouped by unit over the whole step,
  ``units``, ``n`` (events), ``n_sq`` (sum of N_u squared), ``sum`` (sum of Y_u), ``sum_sq``
  (sum of Y_u squared), ``sum_product`` (sum of Y_u N_u) and ``event_sum_sq`` (sum of squared
  event values): the units are the independent observations of a variance.
* Interval ``k = floor((ts - start) / interval)``; per (event name, interval, variant) the
  event sums: ``n`` (events), ``sum`` and ``event_sum_sq``, in an :class:`IntervalArm` with
  every event its own observation (``units = n_sq = n``, ``sum_sq = event_sum_sq``,
  ``sum_product = sum``). Intervals serve the estimates, the request counts and the
  sketches; grouping them by unit as well would cost a group per (unit, interval), about one
  per event, and the variance is taken from the step totals.
* For the event names of the kinds that need a distribution (``mann_whitney``,
  ``quantile``), the values are counted per log bucket with the key of
  :mod:`splitlab.stats.sketch`: ``ceil(ln |x| / LOG_GAMMA)``, with the sign apart and zeros
  counted on their own; the constant is written as ``repr(LOG_GAMMA)``, so SQL and Python
  compute the same key.
* For quantile metrics, the step totals also count per unit the events ``S_u`` at or below
  the arm's step-quantile bucket (the clustered correction of :mod:`splitlab.stats.quantile`),
  with ``N_u`` the unit's events: sums of ``S_u``, ``S_u^2`` and ``S_u N_u``.

Two queries per judgment: (1) the bucket counts of the events that need a sketch, from which
Python finds each quantile metric's threshold bucket per arm; (2) for every event name at once
(the exposure map and the events computed once, a materialised common table expression), the
interval sums and the step totals grouped by unit, with the clustered counts in the same
per-unit pass. Each event name is read once per query whatever the number of metrics on it;
only sums and bucket counts leave the database.
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
from splitlab.stats.sketch import Sketch
from splitlab.store.errors import StoreError
from splitlab.store.quantile_sql import bucket_key_sql
from splitlab.store.summary_sql import cutoff_millis, used_params

#: Metric kinds whose intervals carry the values' sketch.
SKETCH_KINDS = frozenset({"mann_whitney", "quantile"})

#: The bucket key of a non-zero value ``value`` (SQL shared by both dialects).

#: Row parts of the DuckDB query: interval moments, step totals.
MOMENTS, STEP = 0, 1

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


def _ev(plan: CanaryPlan, names: Sequence[str], bkey: bool) -> str:
    """The counted events ``(e, k, variant, unit_key, value[, bkey])`` (DuckDB)."""
    key = f", {bucket_key_sql('me.value')} AS bkey" if bkey else ""
    return f"""SELECT me.metric AS e, (me.ts - $start) // $interval AS k, f.variant, me.unit_key,
         me.value{key}
  FROM metric_events me JOIN first f ON me.unit_key = f.unit_key
  WHERE {_events_where(plan, names)}"""


def duckdb_buckets_sql(plan: CanaryPlan) -> str:
    """Query 1 (when an event needs a sketch): rows ``(event, k, variant, sign, key, count)``."""
    return f"""WITH {_FIRST}, ev AS ({_ev(plan, plan.sketch_events, False)})
SELECT e, k, variant, sign(value)::INTEGER AS sg,
       {bucket_key_sql()} AS b, count(*) AS c
FROM ev GROUP BY e, k, variant, sg, b"""


def below(sign: int, key: int) -> str:
    """SQL: the value (with its bucket ``bkey``) is at or below bucket ``(sign, key)``, the
    rule of :func:`splitlab.stats.quantile.at_or_below` (both dialects)."""
    if sign > 0:
        return f"(value <= 0 OR bkey <= {int(key)})"
    if sign == 0:
        return "value <= 0"
    return f"(value < 0 AND bkey >= {int(key)})"


def clustered_columns(plan: CanaryPlan, found: Sequence[Threshold], params: dict[str, Any]) -> str:
    """Per-unit columns ``, s{j}``: per quantile metric ``j`` the unit's events of the metric's
    event at or below the threshold of the unit's arm (both dialects; the variants are added
    to ``params`` as ``$tv...``)."""
    columns = []
    for j in sorted({t[0] for t in found}):
        arms = []
        for i, (jj, event, variant, sign, key) in enumerate(found):
            if jj == j:
                params[f"tv{i}"] = variant
                e = plan.events.index(event)
                arms.append(f"WHEN e = $e{e} AND variant = $tv{i} AND {below(sign, key)} THEN 1")
        columns.append(f", sum(CASE {' '.join(arms)} ELSE 0 END) AS s{j}")
    return "".join(columns)


def clustered_sums(found: Sequence[Threshold], cast: str) -> str:
    """The step totals' columns ``, sum(s{j}), sum(s{j}^2), sum(s{j} n)`` per quantile metric."""
    return "".join(
        f", {cast}(sum(s{j})), {cast}(sum(s{j} * s{j})), {cast}(sum(s{j} * n))"
        for j in sorted({t[0] for t in found})
    )


def duckdb_sql(plan: CanaryPlan, found: Sequence[Threshold]) -> tuple[str, dict[str, Any]]:
    """Query 2: rows ``(part, event, k, variant, units, n, n_sq, s, ss, sp, ess, then per
    quantile metric s, s_sq, s_n)`` with ``part`` MOMENTS (per interval, event sums) or STEP
    (``k`` NULL, grouped by unit, with the clustered sums at the thresholds ``found``)."""
    params = dict(plan.params)
    columns = clustered_columns(plan, found, params)
    sums = clustered_sums(found, "")
    nulls = ", NULL, NULL, NULL" * len({t[0] for t in found})
    sql = f"""WITH {_FIRST}, ev AS MATERIALIZED ({_ev(plan, plan.events, bool(found))})
SELECT {MOMENTS} AS part, e, k, variant, count(*) AS units, count(*) AS n,
       count(*)::DOUBLE AS n_sq, sum(value) AS s, sum(value * value) AS ss, sum(value) AS sp,
       sum(value * value) AS ess{nulls}
FROM ev GROUP BY e, k, variant
UNION ALL
SELECT {STEP}, e, NULL, variant, count(*), sum(n)::BIGINT, sum(n * n)::DOUBLE,
       sum(y), sum(y * y), sum(y * n), sum(yy){sums}
FROM (
  SELECT e, any_value(variant) AS variant, count(*) AS n, sum(value) AS y,
         sum(value * value) AS yy{columns}
  FROM ev GROUP BY e, unit_key
) GROUP BY e, variant"""
    return sql, used_params(sql, params)


def split_parts(rows: Iterable[Sequence[Any]]) -> tuple[list[Sequence[Any]], list[Sequence[Any]]]:
    """The DuckDB rows as (moments, step) rows in the shapes of :func:`canary_data`."""
    moments: list[Sequence[Any]] = []
    step: list[Sequence[Any]] = []
    for row in rows:
        if row[0] == MOMENTS:
            moments.append((row[1], row[2], row[3], *row[4:11]))
        else:
            step.append((row[1], row[3], *row[4:]))
    return moments, step


Sketches = dict[tuple[str, int, str], Sketch]


def sketches_from_rows(experiment: Experiment, rows: Iterable[Sequence[Any]]) -> Sketches:
    """``{(event, k, variant): Sketch}`` from bucket rows ``(event, k, variant, sign, key,
    count)``; variants not in the definition are left out."""
    known = set(experiment.variant_names)
    parts: dict[tuple[str, int, str], tuple[int, dict[int, int], dict[int, int]]] = {}
    for event, k, variant, sign, key, count in rows:
        if variant not in known:
            continue
        at = (event, int(k), variant)
        zeros, positive, negative = parts.get(at, (0, {}, {}))
        if int(sign) == 0:
            zeros += int(count)
        else:
            side = positive if int(sign) > 0 else negative
            side[int(key)] = side.get(int(key), 0) + int(count)
        parts[at] = (zeros, positive, negative)
    return {at: Sketch(*part) for at, part in parts.items()}


def thresholds(
    metrics: Sequence[CanaryMetric], sketches: Sketches, variants: Sequence[str]
) -> list[Threshold]:
    """Per quantile metric and arm, the bucket of the arm's step quantile (merged sketch)."""
    merged: dict[tuple[str, str], Sketch] = {}
    for (event, _, variant), sketch in sorted(sketches.items()):
        merged[(event, variant)] = merged.get((event, variant), Sketch()) + sketch
    out: list[Threshold] = []
    for j, m in enumerate(metrics):
        for variant in variants if m.kind == "quantile" else ():
            step = merged.get((m.event_name, variant))
            if step is not None and step.count:
                p = m.quantile if m.quantile is not None else 0.5
                sign, key = quantile_bucket(step, p)
                out.append((j, m.event_name, variant, sign, key))
    return out


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
    sketches: Sketches,
    found: Sequence[Threshold],
) -> CanaryData:
    """The metrics' data from rows of either dialect: ``moments`` ``(event, k, variant,
    units, n, n_sq, s, ss, sp, ess)``, ``step`` ``(event, variant, units, n, n_sq, s, ss, sp,
    ess, then s, s_sq, s_n per threshold metric of found)``, and the sketches.

    Variants not in the definition are left out; an interval appears only when it has events.
    """
    known = set(experiment.variant_names)
    order = sorted({t[0] for t in found})
    bucket = {(t[0], t[2]): (t[3], t[4]) for t in found}
    per_event: dict[str, dict[int, dict[str, Sequence[Any]]]] = {}
    for row in moments:
        if row[2] in known:
            per_event.setdefault(row[0], {}).setdefault(int(row[1]), {})[row[2]] = row[3:10]
    step_arms: dict[str, dict[str, IntervalArm]] = {}
    clustered: dict[str, dict[str, ClusteredSums]] = {}
    for row in step:
        event, variant = row[0], row[1]
        if variant not in known:
            continue
        step_arms.setdefault(event, {})[variant] = _arm(row[2:9], None)
        units, n, n_sq = row[2:5]
        for pos, j in enumerate(order):
            if metrics[j].event_name == event and (j, variant) in bucket:
                s, s_sq, s_n = row[9 + 3 * pos : 12 + 3 * pos]
                clustered.setdefault(metrics[j].name, {})[variant] = ClusteredSums(
                    int(units), float(n), float(n_sq), float(s), float(s_sq), float(s_n),
                    bucket[(j, variant)],
                )  # fmt: skip
    intervals: dict[str, dict[int, dict[str, IntervalArm]]] = {}
    steps: dict[str, dict[str, IntervalArm]] = {}
    for m in metrics:
        found_k = per_event.get(m.event_name, {})
        with_sketch = m.kind in SKETCH_KINDS
        intervals[m.name] = {
            k: {
                v: _arm(
                    values, sketches.get((m.event_name, k, v), Sketch()) if with_sketch else None
                )
                for v, values in found_k[k].items()
            }
            for k in sorted(found_k)
        }
        steps[m.name] = dict(step_arms.get(m.event_name, {}))
    return CanaryData(intervals, steps, clustered)
