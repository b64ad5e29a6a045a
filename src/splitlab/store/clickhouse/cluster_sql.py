"""The sums over clusters of :mod:`splitlab.store.cluster_sql`, in ClickHouse's dialect.

Same rules, same numbers (the tests compare both stores on the same events). The per-unit
values come from :func:`~splitlab.store.clickhouse.sql.unit_values` over the exposures that
carry a ``cluster_id`` (named ``u...`` here: ClickHouse would read ``sum(y0) AS y0`` as a
cyclic alias); one ``GROUP BY cluster`` makes the cluster totals and drops, with ``HAVING``,
the clusters served more than one variant; :func:`~splitlab.store.clickhouse.sql.final_sums`
adds them up per variant and segment. A cluster's segment is ``argMin`` of its units' labels
by first-exposure time. With an allocation table's ``strata``, a cluster's stratum is
``transform(cluster, ids, labels, '')`` (ClickHouse 18.16 has it; '' outside the table, which
no stratum label can be), one more slice per stratum of :func:`~.sql.final_sums`.
"""

from __future__ import annotations

from collections.abc import Sequence

from splitlab.config.models import Experiment, Metric, MetricType
from splitlab.store.clickhouse.sql import Dedup, final_sums, unit_values
from splitlab.store.cluster_sql import allocation_strata, strata_params
from splitlab.store.summary_sql import SummaryPlan, sum_columns

#: A cluster's stratum in the allocation table ('' outside it), with :func:`strata_params`.
STRATUM = "transform(cluster, $strata_ids, $strata_labels, '') AS stratum"


def cluster_columns(metrics: Sequence[Metric], segments: Sequence[str]) -> list[str]:
    """A cluster's totals over the rows of :func:`~.sql.unit_values` (prefix ``u``): its
    segment labels ``s{k}`` (its earliest unit's), ``y{i}``, ``d{i}`` (units, or the ratio's
    denominator) and ``x{i}`` with CUPED, in one ``GROUP BY cluster``."""
    columns = [f"argMin(us{k}, t0) AS s{k}" for k in range(len(segments))]
    for i, metric in enumerate(metrics):
        columns.append(f"sum(uy{i}) AS y{i}")
        if metric.type is MetricType.RATIO:
            columns.append(f"sum(ud{i}) AS d{i}")
        else:
            columns.append(f"toFloat64(count()) AS d{i}")
        if metric.cuped:
            columns.append(f"sum(ux{i}) AS x{i}")
    return columns


def cluster_sums_sql(
    clusters: str, metrics: Sequence[Metric], segments: Sequence[str], *, stratified: bool
) -> str:
    """The sums over the clusters of subquery `clusters` (one row per cluster: ``variant``,
    ``m``, the columns of :func:`cluster_columns`, ``stratum`` when `stratified`)."""
    sums = [
        "toFloat64(count()) AS n",
        "sum(m) AS m_s",
        "sum(m * m) AS m_ss",
        *sum_columns(metrics, clustered=True),
    ]
    return final_sums(clusters, segments, sums, stratified=stratified)


def plan_clickhouse_cluster_summary(
    db: str,
    experiment: Experiment,
    cutoff_ms: int,
    segments: Sequence[str] = (),
    dedup: Dedup = "final",
) -> SummaryPlan:
    """The sums over clusters in database `db`, read back by ``summary_sql.sums_from_rows``."""
    unit = unit_values(db, experiment, cutoff_ms, segments, dedup, clustered=True, prefix="u")
    per_cluster = cluster_columns(unit.metrics, segments)
    strata = allocation_strata(experiment)
    params = dict(unit.params)
    if strata is not None:
        params.update(strata_params(strata))
        per_cluster.append(STRATUM)
    clusters = f"""(
  SELECT cluster, any(uvariant) AS variant, toFloat64(count()) AS m{"".join(", " + c for c in per_cluster)}
  FROM {unit.sql}
  GROUP BY cluster HAVING uniqExact(uvariant) = 1 AND max(multi) = 0
)"""
    sql = cluster_sums_sql(clusters, unit.metrics, segments, stratified=strata is not None)
    return SummaryPlan(
        sql,
        params,
        unit.metrics,
        list(segments),
        clustered=True,
        stratified=strata is not None,
    )
