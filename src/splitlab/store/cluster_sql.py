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
* a cluster's segment is the attribute of its first exposure (the earliest of its units');
* with an allocation table's ``strata`` (``design.allocation.strata``), a cluster's stratum
  is its entry there, passed as two list parameters (ids, labels) and joined; a cluster
  outside the table is in no stratum.

Then per variant (and segment) the sums over clusters: ``n`` = clusters, the cluster sizes
(``m_s`` = sum of m_c, ``m_ss`` = sum of m_c squared) and every metric's sums with a
denominator, read back by :func:`~splitlab.store.summary_sql.sums_from_rows`; with strata,
one more grouping set per stratum, read back as the slices ``"@stratum=<label>"``. Without
a table with strata the query text is the same as before strata existed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from splitlab.config.designs import ClusterDesign
from splitlab.config.models import Experiment, MetricType
from splitlab.store.quality_sql import EXPOSURES_SQL, MISSING_CLUSTER_SQL
from splitlab.store.summary_sql import (
    SummaryPlan,
    grouping_sets,
    sum_columns,
    unit_values,
    used_params,
)


def allocation_strata(experiment: Experiment) -> dict[str, str] | None:
    """Cluster id -> stratum (or matched set) of the experiment's allocation table, or None
    (no table, a ``complete`` table, or an empty map)."""
    design = experiment.design
    if not isinstance(design, ClusterDesign) or design.allocation is None:
        return None
    return design.allocation.strata or None


def strata_params(strata: dict[str, str]) -> dict[str, Any]:
    """The strata as two parallel lists, in a fixed order (by cluster id)."""
    ids = sorted(strata)
    return {"strata_ids": ids, "strata_labels": [strata[c] for c in ids]}


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
    strata = allocation_strata(experiment)
    params = dict(unit.params)
    strata_cte = source = ""
    if strata is not None:
        params.update(strata_params(strata))
        strata_cte = """, strata AS (
  SELECT unnest($strata_ids) AS cluster, unnest($strata_labels) AS stratum
)"""
        source = " LEFT JOIN strata USING (cluster)"
        sets += ", (multi, variant, stratum)"
        seg_select += ", stratum AS st, grouping(stratum) AS gst"
    sql = f"""{unit.ctes}, cl AS (
  SELECT cluster, bool_or(multi) OR min(variant) <> max(variant) AS multi,
    min(variant) AS variant, count(*)::DOUBLE AS m,
    {"".join(c + ", " for c in per_cluster)}count(CASE WHEN multi THEN 1 END) AS q_multi_units,
    sum(q_own) AS q_own, sum(q_mismatch) AS q_mismatch, sum(q_pre) AS q_pre
  FROM vals GROUP BY cluster
){strata_cte}
SELECT multi, variant{seg_select}, count(*)::DOUBLE AS n,
  sum(m) AS m_s, sum(m * m) AS m_ss, {sums},
  sum(q_own) AS q_own, sum(q_mismatch) AS q_mismatch, sum(q_pre) AS q_pre,
  sum(q_multi_units) AS q_multi_units, ({MISSING_CLUSTER_SQL}) AS q_no_cluster,
  ({EXPOSURES_SQL}) AS q_exposures,
  (SELECT count(*) FROM metric_events WHERE experiment_id = $exp AND ts <= $cutoff) AS q_all
FROM cl{source} GROUP BY GROUPING SETS ({sets})
"""
    return SummaryPlan(
        sql,
        used_params(sql, params),
        unit.metrics,
        list(segments),
        clustered=True,
        stratified=strata is not None,
    )
