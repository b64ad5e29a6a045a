"""Cluster and switchback designs over a sharded ClickHouse: partial totals combined in Python.

Rows are sharded by unit (:mod:`.sharded`), so a cluster's units, or a switchback cell's
events, may sit on several shards. Both designs are still computed exactly:

* **Cluster designs.** Each shard groups its units by cluster
  (:func:`shard_clusters_sql`): the partial totals ``m``, ``y{i}``, ``d{i}``, ``x{i}`` of
  :func:`.cluster_sql.cluster_columns`, the smallest and largest variant and whether a unit
  saw two variants, and the earliest first exposure with its segment labels.
  :func:`combine_clusters` adds them per cluster, drops the clusters served more than one
  variant, and takes each cluster's labels from its earliest unit on any shard. The cluster
  totals then go back to one server as array literals, and the single-server query
  (:func:`.cluster_sql.cluster_sums_sql`) makes the sums over clusters, squares included,
  from the complete totals. One row per cluster and shard travels, so the cost grows with
  the clusters (tenants, accounts), not with the units.
* **Switchback designs.** A cell's outcome is a count, a sum, or a count of distinct units
  (a unit is on one shard), so the shards' cell rows add; a ``max`` metric keeps the largest
  value among the shards where the cell has events of it (:func:`switchback_runner`). The
  window bounds are the earliest event per unit over the shards. Then the single-server
  reader (:func:`~splitlab.store.switchback_sql.read_cells`) builds the cell table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from splitlab.config.models import Experiment, Metric
from splitlab.stats.sums import ExperimentSums
from splitlab.store.clickhouse.cluster_sql import STRATUM, cluster_columns, cluster_sums_sql
from splitlab.store.clickhouse.sharded_merge import Answer, Fanout, Runner, added
from splitlab.store.clickhouse.sql import Dedup, _first_exposures, as_grouping_rows, unit_values
from splitlab.store.clickhouse.switchback_sql import has_presence
from splitlab.store.cluster_sql import allocation_strata, strata_params
from splitlab.store.summary_sql import SummaryPlan, summary_metrics, sums_from_rows
from splitlab.store.switchback_sql import CellPlan

#: The leading columns of a shard's per-cluster rows, before the totals.
_HEAD = ["cluster", "vmin", "vmax", "mu", "m", "first_t"]


def shard_clusters_sql(
    db: str, experiment: Experiment, cutoff_ms: int, segments: Sequence[str], dedup: Dedup
) -> tuple[str, dict[str, Any]]:
    """One shard's per-cluster partial totals (columns :data:`_HEAD`, then those of
    :func:`.cluster_sql.cluster_columns`)."""
    unit = unit_values(db, experiment, cutoff_ms, segments, dedup, clustered=True, prefix="u")
    totals = cluster_columns(unit.metrics, segments)
    sql = f"""SELECT cluster, min(uvariant) AS vmin, max(uvariant) AS vmax, max(multi) AS mu,
  toFloat64(count()) AS m, min(t0) AS first_t{"".join(", " + c for c in totals)}
FROM {unit.sql}
GROUP BY cluster"""
    return sql, unit.params


@dataclass
class Cluster:
    """One cluster's totals over the shards."""

    vmin: str
    vmax: str
    multi: bool
    first_t: int
    #: ``m``, then the segment labels and the metric totals, in the shard query's order.
    values: list[Any]


def combine_clusters(answers: Sequence[Answer]) -> tuple[list[str], dict[str, Cluster]]:
    """The shards' per-cluster rows added per cluster: the names of the value columns
    (``m`` first) and the clusters. A segment label ``s{k}`` is taken from the shard whose
    earliest first exposure is earliest (the cluster's first exposure)."""
    names = ["m", *answers[0][0][len(_HEAD) :]]
    labels = {j for j, name in enumerate(names) if name.startswith("s")}
    out: dict[str, Cluster] = {}
    for _, rows in answers:
        for row in rows:
            cluster, vmin, vmax, multi, first_t = str(row[0]), row[1], row[2], row[3], row[5]
            values = [row[4], *row[6:]]
            old = out.get(cluster)
            if old is None:
                out[cluster] = Cluster(vmin, vmax, bool(multi), int(first_t), values)
                continue
            earlier = int(first_t) < old.first_t
            old.values = [
                (new if earlier else was) if j in labels else float(was) + float(new)
                for j, (was, new) in enumerate(zip(old.values, values, strict=True))
            ]
            old.vmin, old.vmax = min(old.vmin, vmin), max(old.vmax, vmax)
            old.multi = old.multi or bool(multi)
            old.first_t = min(old.first_t, int(first_t))
    return names, out


def multi_variant(cluster: Cluster) -> bool:
    """Whether the cluster's units were seen in more than one variant (left out)."""
    return cluster.multi or cluster.vmin != cluster.vmax


def plan_cluster_sums(
    experiment: Experiment,
    metrics: Sequence[Metric],
    segments: Sequence[str],
    names: Sequence[str],
    clusters: dict[str, Cluster],
) -> SummaryPlan:
    """The sums over the kept `clusters`, run on one server: their totals as array literals
    (one per column), ``ARRAY JOIN`` into one row per cluster, then the single-server sums."""
    kept = sorted(c for c, cluster in clusters.items() if not multi_variant(cluster))
    params: dict[str, Any] = {"a_cluster": kept, "a_variant": [clusters[c].vmin for c in kept]}
    arrays = ["$a_cluster AS cluster", "$a_variant AS variant"]
    for j, name in enumerate(names):
        column = [clusters[c].values[j] for c in kept]
        params[f"a_{name}"] = column if name.startswith("s") else [float(v) for v in column]
        arrays.append(f"$a_{name} AS {name}")
    strata = allocation_strata(experiment)
    stratum = ""
    if strata is not None:
        params.update(strata_params(strata))
        stratum = ", " + STRATUM
    source = f"""(
  SELECT cluster, variant, {", ".join(names)}{stratum}
  FROM system.one ARRAY JOIN {", ".join(arrays)}
)"""
    sql = cluster_sums_sql(source, metrics, segments, stratified=strata is not None)
    return SummaryPlan(
        sql, params, list(metrics), list(segments), clustered=True, stratified=strata is not None
    )


def cluster_summary(
    fan: Fanout,
    entry: Runner,
    db: str,
    experiment: Experiment,
    cutoff_ms: int,
    segments: Sequence[str],
    dedup: Dedup,
) -> ExperimentSums:
    """The sums over clusters of a cluster design (see the module's notes)."""
    sql, params = shard_clusters_sql(db, experiment, cutoff_ms, segments, dedup)
    names, clusters = combine_clusters(fan.each(sql, params))
    metrics = summary_metrics(experiment)  # unit_values' order
    plan = plan_cluster_sums(experiment, metrics, segments, names, clusters)
    columns: list[str] = []
    rows: list[list[Any]] = []
    if plan.params["a_cluster"]:  # no cluster: no row (every arm zero)
        columns, rows = entry(plan.sql, plan.params)
    shaped_columns, shaped = as_grouping_rows(plan, columns, rows)
    return sums_from_rows(experiment, plan, shaped_columns, shaped)


def cluster_counts(fan: Fanout, db: str, experiment: Experiment, cutoff_ms: int) -> tuple[int, int]:
    """Clusters served more than one variant, and all clusters, over every shard."""
    first = _first_exposures(db, (), clustered=True)
    sql = f"""SELECT cluster, min(unit_variant) AS vmin, max(unit_variant) AS vmax,
  max(multi) AS mu, toFloat64(count()) AS m, min(t0) AS first_t
FROM {first} GROUP BY cluster"""
    params = {"exp": experiment.experiment_id, "cutoff": cutoff_ms}
    _, clusters = combine_clusters(fan.each(sql, params))
    return sum(multi_variant(c) for c in clusters.values()), len(clusters)


def switchback_runner(fan: Fanout, plan: CellPlan) -> Runner:
    """A runner for :func:`~splitlab.store.switchback_sql.read_cells` over every shard: the
    bounds query's earliest event per unit, the cell rows added per (unit, period) (a ``max``
    metric: the largest among the shards with events of it in the cell), the counts of
    events without a unit added."""
    maxima = [i for i, m in enumerate(plan.metrics) if has_presence(m)]

    def run(sql: str, params: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
        if sql == plan.bounds_sql:
            answers = fan.each(sql, params)
            first: dict[Any, int] = {}
            for _, rows in answers:
                for u, ts in rows:
                    first[u] = min(first.get(u, int(ts)), int(ts))
            return answers[0][0], [[u, first[u]] for u in sorted(first)]
        if sql == plan.cells_sql:
            return _cells(fan.each(sql, params), maxima)
        return fan.adding()(sql, params)

    return run


def _cells(answers: Sequence[Answer], maxima: Sequence[int]) -> tuple[list[str], list[list[Any]]]:
    """Cell rows added per (unit, period); each ``max`` metric's ``y{i}`` from the shards
    where its presence count ``c{i}`` is positive (0 where none)."""
    columns = answers[0][0]
    at = {name: j for j, name in enumerate(columns)}
    parts = []
    for _, rows in answers:
        fixed = []
        for row in rows:
            row = list(row)
            for i in maxima:  # absent here: no value, so that max() ignores it
                if int(row[at[f"c{i}"]]) == 0:
                    row[at[f"y{i}"]] = None
            fixed.append(row)
        parts.append(fixed)
    slots = {at[f"y{i}"] - 2 for i in maxima}
    return columns, added(parts, 2, slots)
