"""Per weights version sums of a sticky experiment, in DuckDB (:mod:`splitlab.store.clickhouse.versions_sql`: the same in ClickHouse).

Rules: those of :mod:`splitlab.store.summary_sql` (a unit's variant and time ``t0`` are its
first exposure's at or before the cut-off; a unit in more than one variant is left out), and
a unit's version is the number of version starts (``boundaries``, epoch ms, the versions after
the first) at or before its ``t0``: version 0 before the first weights change, the last one
since the latest. Per (version, variant): the units and the sums the classic analysis uses
(:func:`~splitlab.store.summary_sql.sum_columns`), read back as one
:class:`~splitlab.stats.sums.SliceSums` per version.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from splitlab.config.models import Experiment
from splitlab.stats.sums import SliceSums
from splitlab.store.bandit_sql import batch_expression
from splitlab.store.summary_sql import (
    SummaryPlan,
    slice_sums,
    sum_columns,
    unit_values,
    used_params,
)

__all__ = ["plan_versions", "versions_from_rows"]


def plan_versions(experiment: Experiment, cutoff_ms: int, boundaries: Sequence[int]) -> SummaryPlan:
    """The DuckDB query: columns ``multi, variant, ver, n`` and the sum columns."""
    unit = unit_values(experiment, cutoff_ms, (), with_t0=True)
    version = batch_expression("t0", boundaries, "CAST({} AS INTEGER)")
    sums = ", ".join(sum_columns(unit.metrics) or ["0 AS nothing"])
    sql = f"""{unit.ctes}
SELECT multi, variant, {version} AS ver, count(*)::DOUBLE AS n, {sums}
FROM vals GROUP BY multi, variant, ver
"""
    return SummaryPlan(sql, used_params(sql, unit.params), unit.metrics, [])


def versions_from_rows(
    experiment: Experiment,
    plan: SummaryPlan,
    boundaries: Sequence[int],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> list[SliceSums]:
    """One :class:`SliceSums` per version (oldest first; zeros for a version without units).

    Exposures claiming a variant the experiment does not define are left out, as units in
    more than one variant are.
    """
    variants = experiment.variant_names
    records: list[dict[str, dict[str, Any]]] = [{} for _ in range(len(boundaries) + 1)]
    for row in rows:
        record = dict(zip(columns, row, strict=True))
        if record.get("multi") or record["variant"] not in variants:
            continue
        records[int(record["ver"])][record["variant"]] = record
    return [slice_sums(plan, variants, recs) for recs in records]
