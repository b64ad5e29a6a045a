"""The summary of a cluster-randomised experiment, inside DuckDB: sums over clusters.

Per unit, everything is as in :mod:`splitlab.store.summary_sql` (first exposure, windows,
CUPED covariate, :func:`~splitlab.store.summary_sql.unit_values`), counting only exposures
that carry a ``cluster_id``. Then per cluster (docs/storage.md, "Cluster designs"):

* a unit's cluster is the ``cluster_id`` of its first such exposure; a cluster's variant is
  its units' variant. A cluster whose units were seen in more than one variant (a unit
  exposed to two, or two units in different ones) is left out of every sum with all its
  units, and counted in the data quality (``multiVariantClusters``);
* ``m_c`` = the cluster's analysis units; ``Y_c``, ``X_c`` = the cluster totals of the
  per-unit metric value and CUPED covariate; ``D_c`` = ``m_c`` for conversion and continuous
  metrics, the cluster total of the denominator for ratio metrics;
* a cluster's segment is the attribute of its first exposure (the earliest of its units').

Then per variant (and segment) the sums over clusters: ``n`` = clusters, the cluster sizes
(``m_s`` = sum of m_c, ``m_ss`` = sum of m_c squared) and every metric's sums with a
denominator, read back by :func:`~splitlab.store.summary_sql.sums_from_rows`.
"""

from __future__ import annotations

from collections.abc import Sequence

from splitlab.config.models import Experiment, MetricType
from splitlab.store.quality_sql import MISSING_CLUSTER_SQL
from splitlab.store.summary_sql import (
    SummaryPlan,
    grouping_sets,
    sum_columns,
    unit_values,
    used_params,
)


def plan_cluster_summary(
    experiment: Experiment, cutoff_ms: int, segments: Sequence[str] = ()
) -> SummaryPlan:
    """The query and parameters of the sums over clusters (see the module docstring)."""
    unit = unit_values(experiment, cutoff_ms, segments, clustered=True)
    per_cluster: list[str] = [f"arg_min(s{k}, t0) AS s{k}" for k in range(len(segments))]
    for i, metric in enumerate(unit.metrics):
        per_cluster.append(f"sum(y{i}) AS y{i}")
        if metric.type is MetricType.RATIO:
            per_cluster.append(f"sum(d{i}) AS d{i}")
        else:
            per_cluster.append(f"count(*)::DOUBLE AS d{i}")
        if metric.cuped:
            per_cluster.append(f"sum(x{i}) AS x{i}")
    sets, seg_select = grouping_sets(segments)
    sums = ", ".join(sum_columns(unit.metrics, clustered=True) or ["0 AS nothing"])
    sql = f"""{unit.ctes}, cl AS (
  SELECT cluster, bool_or(multi) OR min(variant) <> max(variant) AS multi,
    min(variant) AS variant, count(*)::DOUBLE AS m,
    {"".join(c + ", " for c in per_cluster)}count(CASE WHEN multi THEN 1 END) AS q_multi_units,
    sum(q_own) AS q_own, sum(q_mismatch) AS q_mismatch, sum(q_pre) AS q_pre
  FROM vals GROUP BY cluster
)
SELECT multi, variant{seg_select}, count(*)::DOUBLE AS n,
  sum(m) AS m_s, sum(m * m) AS m_ss, {sums},
  sum(q_own) AS q_own, sum(q_mismatch) AS q_mismatch, sum(q_pre) AS q_pre,
  sum(q_multi_units) AS q_multi_units, ({MISSING_CLUSTER_SQL}) AS q_no_cluster,
  (SELECT count(*) FROM metric_events WHERE experiment_id = $exp AND ts <= $cutoff) AS q_all
FROM cl GROUP BY GROUPING SETS ({sets})
"""
    return SummaryPlan(
        sql, used_params(sql, unit.params), unit.metrics, list(segments), clustered=True
    )
