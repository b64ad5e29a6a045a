"""Per weights version sums (:mod:`splitlab.store.versions_sql`), in ClickHouse's dialect.

Same rules, same numbers: the per-unit values of :func:`.sql.unit_values` (units in more than
one variant are left out inside it) with their first-exposure time, grouped by variant and
version; read back by :func:`~splitlab.store.versions_sql.versions_from_rows`.
"""

from __future__ import annotations

from collections.abc import Sequence

from splitlab.config.models import Experiment
from splitlab.store.bandit_sql import batch_expression
from splitlab.store.clickhouse.sql import Dedup, unit_values
from splitlab.store.summary_sql import SummaryPlan, sum_columns

__all__ = ["plan_clickhouse_versions"]


def plan_clickhouse_versions(
    db: str,
    experiment: Experiment,
    cutoff_ms: int,
    boundaries: Sequence[int],
    dedup: Dedup = "final",
) -> SummaryPlan:
    """The same query in ClickHouse's dialect (units in two variants are left out inside)."""
    unit = unit_values(db, experiment, cutoff_ms, (), dedup, with_t0=True)
    version = batch_expression("t0", boundaries, "toInt32({})")
    sums = ", ".join(["toFloat64(count()) AS n", *sum_columns(unit.metrics)])
    sql = f"SELECT variant, {version} AS ver, {sums}\nFROM {unit.sql}\nGROUP BY variant, ver"
    return SummaryPlan(sql, unit.params, unit.metrics, [])
