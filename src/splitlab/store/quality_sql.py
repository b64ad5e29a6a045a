"""The data-quality counts of the embedded store: read off the summary query's rows, or
computed alone in one pass (:func:`data_quality_sql`).

Classic experiments: units exposed to more than one variant, and metric events of the
experiment from units never exposed, claiming another variant than the unit's first exposure,
or dated before it. Cluster designs count the same over the units whose exposures carry a
``cluster_id``, and add the clusters seen in more than one variant and the exposures without
a ``cluster_id`` (docs/storage.md, "Cluster designs").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from splitlab.config.models import Experiment
from splitlab.store.base import DataQuality
from splitlab.store.summary_sql import SummaryPlan

#: All exposures of the experiment at or before the cut-off.
EXPOSURES_SQL = "SELECT count(*) FROM exposures WHERE experiment_id = $exp AND ts <= $cutoff"

#: Exposures of the experiment without a cluster id, at or before the cut-off.
MISSING_CLUSTER_SQL = (
    "SELECT count(*) FROM exposures "
    "WHERE experiment_id = $exp AND ts <= $cutoff AND cluster_id IS NULL"
)


def quality_from_rows(
    experiment: Experiment,
    plan: SummaryPlan,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> DataQuality | None:
    """The data-quality counts the summary query computed on the way (None without units).

    The overall rows (one per variant, for single- and multi-exposed units) carry per-variant
    counts of the experiment's own metric events of exposed units (``q_own``), of those whose
    claimed variant differs from the first exposure's (``q_mismatch``) and of those before
    it (``q_pre``); ``q_all`` counts all its metric events, exposed or not. Rows over
    clusters (``plan.clustered``) also carry the multi-exposed units of each cluster
    (``q_multi_units``), the exposures without a cluster id (``q_no_cluster``) and all the
    experiment's exposures (``q_exposures``); their ``multi`` rows are clusters. A cluster
    design's report carries each count's own denominator: analysis units (``m_s``), clusters
    (``n``), exposures and metric events.
    """
    multi = own = mismatch = pre = clusters = units = all_clusters = 0
    total = missing = exposures = None
    for row in rows:
        record = dict(zip(columns, row, strict=True))
        if any(record[f"g{k}"] == 0 for k in range(len(plan.segments))) or (
            plan.stratified and record["gst"] == 0
        ):
            continue  # a segment or stratum row: the overall rows already count these
        if plan.clustered:
            multi += int(record["q_multi_units"])
            missing = int(record["q_no_cluster"])
            exposures = int(record["q_exposures"])
            units += int(record["m_s"])
            all_clusters += int(record["n"])
            if record["multi"]:
                clusters += int(record["n"])
        elif record["multi"]:
            multi += int(record["n"])
        own += int(record["q_own"])
        mismatch += int(record["q_mismatch"])
        pre += int(record["q_pre"])
        total = int(record["q_all"])
    if total is None:
        return None
    if not plan.clustered:
        return DataQuality(experiment.experiment_id, multi, total - own, mismatch, pre)
    return DataQuality(
        experiment.experiment_id,
        multi,
        total - own,
        mismatch,
        pre,
        clusters,
        missing or 0,
        analysis_units=units,
        exposures=exposures,
        clusters=all_clusters,
        metric_events=total,
    )


def data_quality_sql(clustered: bool) -> str:
    """The data-quality counts alone, in one pass over the experiment's metric events (used
    when the summary query did not just compute them): one row of the counts in
    :class:`DataQuality`'s order (the cluster counts and the denominators only when
    `clustered`)."""
    cluster = ", arg_min(cluster_id, ts) AS cluster" if clustered else ""
    with_cluster = " AND cluster_id IS NOT NULL" if clustered else ""
    extra = ""
    if clustered:
        extra = f""",
  (SELECT count(*) FROM (SELECT cluster FROM first GROUP BY cluster
     HAVING bool_or(multi) OR min(variant) <> max(variant))),
  ({MISSING_CLUSTER_SQL}),
  (SELECT count(*) FROM first),
  ({EXPOSURES_SQL}),
  (SELECT count(DISTINCT cluster) FROM first),
  count(*)"""
    return f"""
WITH first AS (
  SELECT unit_key, min(ts) AS t0, arg_min(variant, ts) AS variant,
         min(variant) <> max(variant) AS multi{cluster}
  FROM exposures WHERE experiment_id = $exp AND ts <= $cutoff{with_cluster} GROUP BY unit_key
)
SELECT
  (SELECT count(*) FROM first WHERE multi),
  count(CASE WHEN f.unit_key IS NULL THEN 1 END),
  count(CASE WHEN ev.variant <> f.variant THEN 1 END),
  count(CASE WHEN ev.ts < f.t0 THEN 1 END){extra}
FROM metric_events ev LEFT JOIN first f ON ev.unit_key = f.unit_key
WHERE ev.experiment_id = $exp AND ev.ts <= $cutoff
"""
