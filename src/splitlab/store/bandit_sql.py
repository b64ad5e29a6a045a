"""A bandit's data per update batch, in DuckDB: reward sums and newly exposed units.

Rules (both engines; :mod:`splitlab.store.clickhouse.bandit_sql` is the same in ClickHouse):

* a unit's variant and time ``t0`` are those of its first exposure at or before the cut-off;
  a unit exposed to more than one variant is left out (as in the summary);
* its batch is the number of update times at or before ``t0`` (batch 0: before the first
  update; the last batch: since the latest update);
* its reward is the reward metric's per-unit value over ``[t0, t0 + windowHours)`` (conversion:
  1 if any event, else 0; continuous: the metric's aggregation, 0 without events);
* the reward sums ``n, sum, sum_sq`` count only units whose window has closed by the cut-off
  (``t0 + window <= cutoff``): a unit still in its window would count with a reward not yet
  complete, and the arms favoured lately (most units still open) would look worse;
* ``units`` counts every newly exposed unit of the batch (window closed or not), for the SRM
  check of the period against the weights in force then.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from splitlab.config.adaptive import BanditDesign, reward_metric_name
from splitlab.config.models import Experiment, Metric, MetricType
from splitlab.stats.bandit import ArmBatch
from splitlab.store.errors import StoreError

__all__ = ["BanditData", "BanditPlan", "bandit_data_from_rows", "plan_bandit", "reward_metric"]


@dataclass(frozen=True)
class BanditData:
    """Per batch (oldest first), per arm: reward sums of closed windows, and new units."""

    rewards: list[dict[str, ArmBatch]]
    exposed: list[dict[str, int]]
    boundaries: list[int]
    cutoff_ms: int


@dataclass(frozen=True)
class BanditPlan:
    sql: str
    params: dict[str, Any]
    batches: int


def reward_metric(experiment: Experiment) -> Metric:
    """The bandit's reward metric (the config checks that it exists and has a window)."""
    design = experiment.design
    if not isinstance(design, BanditDesign):
        raise StoreError(f"experiment {experiment.experiment_id!r} is not a bandit")
    name = reward_metric_name(experiment.metrics.primary.name, design)
    for _, metric in experiment.metrics.all():
        if metric.name == name:
            if metric.window_hours is None:
                raise StoreError(f"reward metric {name!r} has no windowHours")
            return metric
    raise StoreError(f"reward metric {name!r} is not one of the experiment's metrics")


def batch_expression(column: str, boundaries: Sequence[int], cast: str) -> str:
    """The batch number of `column`: how many of `boundaries` (epoch ms) are at or before it."""
    if not boundaries:
        return "0"
    return "(" + " + ".join(cast.format(f"{column} >= {int(b)}") for b in boundaries) + ")"


def _aggregate(metric: Metric, condition: str) -> str:
    if metric.type is MetricType.CONVERSION:
        return f"max(CASE WHEN {condition} THEN 1 END)"
    if metric.aggregation == "count":
        return f"count(CASE WHEN {condition} THEN 1 END)"
    if metric.aggregation == "max":
        return f"max(CASE WHEN {condition} THEN value END)"
    return f"sum(CASE WHEN {condition} THEN value END)"


def params_for(experiment: Experiment, metric: Metric, cutoff_ms: int) -> dict[str, Any]:
    assert metric.window_hours is not None
    return {
        "exp": experiment.experiment_id,
        "cutoff": cutoff_ms,
        "w": int(metric.window_hours * 3_600_000),
        "e": metric.event_name,
    }


def plan_bandit(experiment: Experiment, boundaries: Sequence[int], cutoff_ms: int) -> BanditPlan:
    """The DuckDB query of :class:`BanditData` (columns batch, variant, units, n, s, ss)."""
    metric = reward_metric(experiment)
    first = (
        "(SELECT unit_key, min(ts) AS t0, arg_min(variant, ts) AS variant FROM exposures "
        "WHERE experiment_id = $exp AND ts <= $cutoff GROUP BY unit_key "
        "HAVING count(DISTINCT variant) = 1)"
    )
    batch = batch_expression("x.t0", boundaries, "CAST({} AS INTEGER)")
    agg = _aggregate(metric, "e.ts >= f.t0 AND e.ts < f.t0 + $w")
    sql = f"""
SELECT batch, variant, count(*) AS units,
       count(CASE WHEN closed THEN 1 END) AS n,
       coalesce(sum(CASE WHEN closed THEN y END), 0) AS s,
       coalesce(sum(CASE WHEN closed THEN y * y END), 0) AS ss
FROM (
  SELECT x.variant, {batch} AS batch, x.t0 + $w <= $cutoff AS closed,
         CAST(coalesce(m.y, 0) AS DOUBLE) AS y
  FROM {first} x
  LEFT JOIN (
    SELECT f.unit_key, {agg} AS y
    FROM metric_events e JOIN {first} f ON e.unit_key = f.unit_key
    WHERE e.experiment_id = $exp AND e.metric = $e AND e.ts <= $cutoff
    GROUP BY f.unit_key
  ) m ON m.unit_key = x.unit_key
)
GROUP BY batch, variant
ORDER BY batch, variant"""
    return BanditPlan(sql, params_for(experiment, metric, cutoff_ms), len(boundaries) + 1)


def bandit_data_from_rows(
    experiment: Experiment,
    plan: BanditPlan,
    rows: Iterable[Sequence[Any]],
    boundaries: Sequence[int],
    cutoff_ms: int,
) -> BanditData:
    """Rows (batch, variant, units, n, s, ss) as :class:`BanditData` (zeros where absent)."""
    arms = experiment.variant_names
    rewards = [dict.fromkeys(arms, ArmBatch(0, 0.0, 0.0)) for _ in range(plan.batches)]
    exposed = [dict.fromkeys(arms, 0) for _ in range(plan.batches)]
    for batch, variant, units, n, s, ss in rows:
        if variant not in arms:
            continue  # an exposure claiming a variant the experiment does not have
        b = int(batch)
        rewards[b][variant] = ArmBatch(int(n), float(s), float(ss))
        exposed[b][variant] = int(units)
    return BanditData(rewards, exposed, list(boundaries), cutoff_ms)
