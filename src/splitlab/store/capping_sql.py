"""Outlier capping (winsorization) in the summary query, inside DuckDB.

Each capped per-unit column (a metric's value, a ratio's numerator, a CUPED covariate) is
replaced by ``least(value, cap)`` before the sums, so every sum, sum of squares and
cross-product is of capped values. A percentile cap is computed in the same query over the
pooled units of every arm (docs/statistics.md, "Outlier capping"); a fixed cap, or a
percentile cap fixed at an earlier look, comes in as a parameter. Each row also carries the
cap ``c_{col}`` and how many units it touched ``t_{col}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from splitlab.config.models import Experiment, Metric
from splitlab.stats.capping import AppliedCap
from splitlab.store.errors import StoreError


@dataclass(frozen=True)
class CapColumn:
    """A per-unit column to cap: ``y{i}`` (the value, a ratio's numerator) or ``x{i}`` (the
    CUPED covariate), with its rule and, when already known, the cap to apply."""

    column: str
    metric: Metric
    target: str
    #: A fixed cap's value or a percentile cap recorded at an earlier look; None: computed here.
    known: float | None


def cap_columns(
    metrics: Sequence[Metric], known: Mapping[tuple[str, str], float] | None = None
) -> tuple[CapColumn, ...]:
    """The capped columns of `metrics`; `known` maps (metric, target) to a recorded cap."""
    out: list[CapColumn] = []
    for i, metric in enumerate(metrics):
        targets = [(f"y{i}", "value", metric.cap)]
        if metric.cuped:
            targets.append((f"x{i}", "covariate", metric.covariate_rule))
        for column, target, rule in targets:
            if rule is None:
                continue
            value = rule.value if rule.type == "fixed" else None
            if known is not None and (metric.name, target) in known:
                value = known[(metric.name, target)]
            out.append(CapColumn(column, metric, target, value))
    return tuple(out)


def refuse_caps(experiment: Experiment, where: str) -> None:
    """Raise :class:`StoreError` when `experiment` caps a metric and `where` cannot cap."""
    for _, metric in experiment.metrics.all():
        if metric.cap is not None or (metric.cuped and metric.covariate_cap is not None):
            raise StoreError(
                f"metric {metric.name!r} has a cap, which {where} does not apply yet: "
                "remove the cap (capping applies to individual-unit designs)"
            )


def capped(ctes: str, caps: Sequence[CapColumn], params: dict[str, Any]) -> tuple[str, str]:
    """Extend `ctes` (ending in ``vals``) so that it ends in ``vals`` with every column of
    `caps` capped, and give the sums of ``c_{col}`` / ``t_{col}`` to select with the others.

    A percentile cap is ``quantile_disc(col, p)`` over the units analysed (``NOT multi``)
    of every arm pooled: the ``ceil(p * n)``-th order statistic, numpy's ``quantile(...,
    method="inverted_cdf")`` (DuckDB's ``quantile_cont`` interpolates and is not that).
    tests/store/test_capping_sql.py checks the two agree on ties, n = 1 and 2 and p near 0
    and 100; ``list_sort(list(col))[ceil(n * p)]`` gives the same, measured 10x slower.
    """
    if not caps:
        return ctes, ""
    exprs, replace, flags, sums = [], [], [], []
    for cap in caps:
        col = cap.column
        if cap.known is not None:
            params[f"cap_{col}"] = float(cap.known)
            exprs.append(f"$cap_{col}::DOUBLE AS c_{col}")
        else:
            rule = cap.metric.cap if cap.target == "value" else cap.metric.covariate_rule
            assert rule is not None and rule.percentile is not None
            params[f"p_{col}"] = rule.percentile / 100.0
            exprs.append(f"quantile_disc({col}, $p_{col}) AS c_{col}")
        replace.append(f"least(v.{col}, c.c_{col}) AS {col}")
        flags.append(f"(v.{col} > c.c_{col})::INTEGER AS t_{col}, c.c_{col}")
        sums.append(f", max(c_{col}) AS c_{col}, sum(t_{col}) AS t_{col}")
    if all(cap.known is not None for cap in caps):  # one row of constants
        ctes = ctes.replace("), vals AS (", "), raw AS (", 1)
        source = ""
    else:  # ``raw`` is read twice (the caps, then the capped values): materialised once
        ctes = ctes.replace("), vals AS (", "), raw AS MATERIALIZED (", 1)
        source = " FROM raw WHERE NOT multi"
        exprs = [
            e if "quantile_disc" in e else f"any_value({e.replace(' AS ', ') AS ')}" for e in exprs
        ]
    ctes += f""", caps AS (
  SELECT {", ".join(exprs)}{source}
), vals AS (
  SELECT v.* REPLACE ({", ".join(replace)}), {", ".join(flags)}
  FROM raw v CROSS JOIN caps c
)"""
    return ctes, "".join(sums)


def applied_caps(
    caps: Sequence[CapColumn],
    variants: Sequence[str],
    by_variant: Mapping[str, Mapping[str, Any]],
) -> tuple[AppliedCap, ...]:
    """The caps a summary applied, read from its overall rows."""
    out: list[AppliedCap] = []
    for cap in caps:
        rule = cap.metric.cap if cap.target == "value" else cap.metric.covariate_rule
        assert rule is not None
        key = f"c_{cap.column}"
        values = [r[key] for r in by_variant.values() if r[key] is not None]
        value = cap.known if cap.known is not None else (float(values[0]) if values else None)
        touched = {
            v: int(by_variant[v][f"t_{cap.column}"] or 0) if v in by_variant else 0
            for v in variants
        }
        out.append(AppliedCap(cap.metric.name, cap.target, rule, value, touched))
    return tuple(out)
