"""Outlier capping in the ClickHouse summary (the rules of :mod:`splitlab.store.capping_sql`).

ClickHouse 18.16 has neither common table expressions over subqueries nor window functions,
so the per-unit subquery is written twice: once to compute the percentile caps (the
``ceil(p n)``-th element of ``arraySort(groupArray(value))`` over every unit pooled, numpy's
inverted-CDF quantile) and once for the values, which are then capped (``least``) against
the one-row caps subquery by a ``CROSS JOIN``. Fixed caps and caps recorded at an earlier
look come in as parameters and the per-unit subquery is then read only once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from splitlab.config.models import Metric, MetricType
from splitlab.store.capping_sql import CapColumn


def capped_source(
    unit_sql: str,
    metrics: Sequence[Metric],
    segments: Sequence[str],
    caps: Sequence[CapColumn],
    params: dict[str, Any],
) -> tuple[str, list[str]]:
    """The per-unit subquery with its columns capped, from `unit_sql` (built with column
    prefix ``r``), and the extra sums ``c_{col}`` (the cap) and ``t_{col}`` (units touched)."""
    by_column = {cap.column: cap for cap in caps}
    columns = ["rvariant AS variant", *(f"rs{k} AS s{k}" for k in range(len(segments)))]
    exprs: list[str] = []
    sums: list[str] = []
    for i, metric in enumerate(metrics):
        names = [f"y{i}"]
        if metric.cuped:
            names.append(f"x{i}")
        if metric.type is MetricType.RATIO:
            names.append(f"d{i}")
        if metric.type is MetricType.RETENTION:  # its eligible units (never capped)
            names.append(f"el{i}")
        for name in names:
            cap = by_column.get(name)
            if cap is None:
                columns.append(f"r{name} AS {name}")
                continue
            columns += [
                f"least(r{name}, cc_{name}) AS {name}",
                f"toUInt64(r{name} > cc_{name}) AS tt_{name}",
                f"cc_{name}",
            ]
            sums += [f"max(cc_{name}) AS c_{name}", f"sum(tt_{name}) AS t_{name}"]
            if cap.known is not None:
                params[f"cap_{name}"] = float(cap.known)
                exprs.append(f"toFloat64($cap_{name}) AS cc_{name}")
            else:
                rule = cap.metric.cap if cap.target == "value" else cap.metric.covariate_rule
                assert rule is not None and rule.percentile is not None
                params[f"p_{name}"] = rule.percentile / 100.0
                exprs.append(
                    f"arrayElement(arraySort(groupArray(r{name})), "
                    f"toUInt64(greatest(ceil(count() * $p_{name}), 1))) AS cc_{name}"
                )
    source = "" if all(c.known is not None for c in caps) else f" FROM {unit_sql}"
    sql = f"""(
  SELECT {", ".join(columns)}
  FROM {unit_sql}
  CROSS JOIN (SELECT {", ".join(exprs)}{source})
)"""
    return sql, sums
