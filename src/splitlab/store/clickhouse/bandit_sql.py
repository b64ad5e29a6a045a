"""A bandit's data per update batch (:mod:`splitlab.store.bandit_sql`), in ClickHouse's dialect.

Same rules, same numbers: the first exposures of :func:`.sql._first_exposures`, the reward
over ``[t0, t0 + window)`` from the deduplicated metric events, 0 for a unit without events
(``ANY LEFT JOIN`` fills the default), sums only over windows closed by the cut-off.
"""

from __future__ import annotations

from collections.abc import Sequence

from splitlab.config.models import Experiment
from splitlab.store.bandit_sql import BanditPlan, batch_expression, params_for, reward_metric
from splitlab.store.clickhouse.sql import Dedup, _first_exposures, aggregate, metric_events

__all__ = ["plan_clickhouse_bandit"]


def plan_clickhouse_bandit(
    db: str,
    experiment: Experiment,
    boundaries: Sequence[int],
    cutoff_ms: int,
    dedup: Dedup = "final",
) -> BanditPlan:
    """The ClickHouse query of :class:`~splitlab.store.bandit_sql.BanditData`."""
    metric = reward_metric(experiment)
    first = _first_exposures(db, ())
    events = metric_events(
        db,
        "experiment_id = $exp AND metric = $e AND ts <= $cutoff",
        "unit_id, metric, value, ts",
        dedup,
    )
    agg = aggregate(metric, "e", "ts >= t0 AND ts < t0 + $w")
    batch = batch_expression("t0", boundaries, "toInt32({})")
    sql = f"""
SELECT batch, variant, count() AS units, sum(closed) AS n,
       sum(closed * y) AS s, sum(closed * y * y) AS ss
FROM (
  SELECT unit_variant AS variant, {batch} AS batch, toUInt8(t0 + $w <= $cutoff) AS closed,
         toFloat64(py) AS y
  FROM {first}
  ANY LEFT JOIN (
    SELECT unit_id, {agg} AS py
    FROM {events}
    ALL INNER JOIN (SELECT unit_id, t0 FROM {first}) USING unit_id
    GROUP BY unit_id
  ) USING unit_id
)
GROUP BY batch, variant
ORDER BY batch, variant"""
    return BanditPlan(sql, params_for(experiment, metric, cutoff_ms), len(boundaries) + 1)
