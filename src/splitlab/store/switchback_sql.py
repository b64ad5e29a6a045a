"""The cell table of a switchback experiment, computed in the store (DuckDB's dialect).

Rules (docs/switchback.md, "The analysis window" and "Cell outcomes"):

* An event belongs to cell (unit, k): the unit is its ``cluster_id`` (any value for a global
  switchback, which has one unit), ``k = floor((ts - origin) / period)`` by the event's own
  timestamp, never by a unit's first exposure.
* Burn-in: events in the first ``burnInSeconds`` of every period are left out
  (``ts - start(k) < burnIn``), whether or not the variant changed.
* Window: from the period of the experiment's first event (exposure or metric event, at or
  before the cut-off) to the last period that is complete at the cut-off (its last
  millisecond at or before it). Events outside it are not counted.
* Units: every ``cluster_id`` seen in the experiment's exposures or metric events up to the
  cut-off (a global switchback: the one unit). Every unit has a cell in every period of the
  window; a cell without events has outcome 0.
* Cell outcome per metric: conversion = distinct units (``unitId``) with an event of the
  metric in the cell; continuous = sum (or count, or max) of the values; ratio = cell totals
  of the numerator and of the denominator.
* The variant of a cell is the assignment function's, ``switchback_variant(experiment, unit,
  k)``, not what events claim; events claiming another variant are counted for data quality.

Only one row per cell with events leaves DuckDB (with, for the data-quality count, its
events per claimed variant).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from splitlab.assignment.switchback import switchback_variant
from splitlab.config.designs import SwitchbackDesign, parse_origin
from splitlab.config.models import Experiment, Metric, MetricType
from splitlab.stats.switchback_cells import SwitchbackCells
from splitlab.store.base import DataQuality
from splitlab.store.summary_sql import aggregate, event_names, summary_metrics


def design_of(experiment: Experiment) -> SwitchbackDesign:
    design = experiment.design
    if not isinstance(design, SwitchbackDesign):
        raise ValueError(f"experiment {experiment.id!r} is not a switchback")
    return design


@dataclass(frozen=True)
class CellPlan:
    """The cell queries and what :func:`cells_from_rows` needs to read their rows back."""

    bounds_sql: str
    cells_sql: str
    missing_sql: str
    params: dict[str, Any]
    metrics: list[Metric]
    origin: int
    period_ms: int


def _aggregate(metric: Metric, event: int) -> str:
    """The cell aggregate of `metric` (event name number `event`): a conversion counts the
    distinct units with the event in the cell; the others aggregate as a unit's values do."""
    if metric.type is MetricType.CONVERSION:
        return f"count(DISTINCT CASE WHEN k = {event} THEN unit_key END)"
    return aggregate(metric, event, "TRUE")


def plan_cells(experiment: Experiment, cutoff_ms: int) -> CellPlan:
    """The queries: window bounds and units, cell aggregates, events without a unit."""
    design = design_of(experiment)
    origin = parse_origin(design.origin)
    if origin is None:  # a definition built without validation
        raise ValueError(f"design.origin {design.origin!r} is not a valid origin")
    period_ms = design.period_seconds * 1000
    metrics = summary_metrics(experiment)
    names = event_names(metrics)
    number = {name: k for k, name in enumerate(names)}
    params: dict[str, Any] = {
        "exp": experiment.experiment_id,
        "cutoff": cutoff_ms,
        "origin": origin,
        "period": period_ms,
        "burn": design.burn_in_seconds * 1000,
    }
    for name, k in number.items():
        params[f"n{k}"] = name
    unit = "''" if design.unit is None else "cluster_id"
    has_unit = "TRUE" if design.unit is None else "cluster_id IS NOT NULL"
    columns: list[str] = []
    for i, metric in enumerate(metrics):
        if metric.type is MetricType.RATIO:
            num = number[metric.numerator or metric.event_name]
            den = number[metric.denominator or metric.event_name]
            columns.append(f"sum(CASE WHEN k = {num} THEN value END) AS y{i}")
            columns.append(f"sum(CASE WHEN k = {den} THEN value END) AS d{i}")
        else:
            columns.append(f"{_aggregate(metric, number[metric.event_name])} AS y{i}")
    # Events per claimed variant, counted in the same pass: those claiming another variant
    # than their cell's are data-quality findings.
    for j, variant in enumerate(experiment.variant_names):
        params[f"v{j}"] = variant
        columns.append(f"count(CASE WHEN variant = $v{j} THEN 1 END) AS q{j}")
    columns.append("count(*) AS q_all")
    case = " ".join(f"WHEN $n{k} THEN {k}" for k in range(len(names))) or "WHEN NULL THEN 0"
    # floor division on integers: exact for every BIGINT, negative periods included.
    period_of = "((ts - $origin) // $period - CASE WHEN (ts - $origin) % $period < 0 " \
        "THEN 1 ELSE 0 END)"  # fmt: skip
    kept = f"""
  SELECT {unit} AS u, {period_of} AS p, ts, unit_key, value, variant,
         CASE metric {case} END AS k
  FROM metric_events
  WHERE experiment_id = $exp AND ts <= $cutoff AND {has_unit}
"""
    window = "p >= $first AND p <= $last AND ts - ($origin + p * $period) >= $burn"  # burn-in
    bounds_sql = f"""
WITH seen AS (
  SELECT {unit} AS u, ts FROM exposures WHERE experiment_id = $exp AND ts <= $cutoff
    AND {has_unit}
  UNION ALL
  SELECT {unit} AS u, ts FROM metric_events WHERE experiment_id = $exp AND ts <= $cutoff
    AND {has_unit}
)
SELECT u, min(ts) AS first_ts FROM seen GROUP BY u ORDER BY u
"""
    cells_sql = f"""
SELECT u, p, {", ".join(columns)}
FROM ({kept}) WHERE {window}
GROUP BY u, p
"""
    missing_sql = f"""
SELECT count(CASE WHEN NOT ({has_unit}) THEN 1 END), count(*) FROM metric_events
WHERE experiment_id = $exp AND ts <= $cutoff
"""
    return CellPlan(bounds_sql, cells_sql, missing_sql, params, metrics, origin, period_ms)


def window(plan: CellPlan, first_ts: int | None, cutoff_ms: int) -> tuple[int, int]:
    """First and last period of the analysis window (last < first: an empty window)."""
    last = (cutoff_ms + 1 - plan.origin) // plan.period_ms - 1
    if first_ts is None:
        return last + 1, last
    return (first_ts - plan.origin) // plan.period_ms, last


@dataclass(frozen=True)
class CellResult:
    """The cell table and the data-quality counts found on the way."""

    cells: SwitchbackCells
    quality: DataQuality


def cells_from_rows(
    experiment: Experiment,
    plan: CellPlan,
    bounds: Sequence[Sequence[Any]],
    first: int,
    last: int,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    missing_unit: int,
    metric_events: int | None = None,
) -> CellResult:
    """The full grid (units x periods of the window), variants from the assignment function."""
    design = design_of(experiment)
    global_unit = design.unit is None
    labels: list[str | None] = [None] if global_unit else [str(row[0]) for row in bounds]
    if global_unit and not bounds:
        labels = []
    periods = max(last - first + 1, 0)
    where = {u: i for i, u in enumerate(["" if global_unit else lab for lab in labels])}
    size = len(labels) * periods
    variants = [
        switchback_variant(experiment, label, first + t) for label in labels for t in range(periods)
    ]
    values = {m.name: np.zeros(size) for m in plan.metrics}
    dens = {m.name: np.zeros(size) for m in plan.metrics if m.type is MetricType.RATIO}
    index = {name: j for j, name in enumerate(columns)}
    position = {v: j for j, v in enumerate(experiment.variant_names)}
    mismatch = 0
    for row in rows:
        cell = where[row[0]] * periods + (int(row[1]) - first)
        for i, metric in enumerate(plan.metrics):
            values[metric.name][cell] = float(row[index[f"y{i}"]] or 0.0)
            if metric.name in dens:
                dens[metric.name][cell] = float(row[index[f"d{i}"]] or 0.0)
        own = row[index[f"q{position[variants[cell]]}"]]
        mismatch += int(row[index["q_all"]]) - int(own)
    cells = SwitchbackCells(
        tuple(labels),
        first,
        periods,
        tuple(variants),
        {k: tuple(v.tolist()) for k, v in values.items()},
        {k: tuple(v.tolist()) for k, v in dens.items()},
    )
    quality = DataQuality(
        experiment.experiment_id, 0, missing_unit, mismatch, 0, metric_events=metric_events
    )
    return CellResult(cells, quality)


#: Runs one query of a plan: ``(sql, params) -> (column names, rows)``.
Runner = Callable[[str, dict[str, Any]], tuple[list[str], Sequence[Sequence[Any]]]]


def read_cells(experiment: Experiment, plan: CellPlan, cutoff_ms: int, run: Runner) -> CellResult:
    """Run a plan's queries through `run` (any store's dialect) and build the cell table."""
    _, bounds = run(plan.bounds_sql, _used(plan.bounds_sql, plan.params))
    first_ts = min((int(r[1]) for r in bounds), default=None)
    first, last = window(plan, first_ts, cutoff_ms)
    params = {**plan.params, "first": first, "last": last}
    columns, rows = run(plan.cells_sql, _used(plan.cells_sql, params))
    _, missing = run(plan.missing_sql, _used(plan.missing_sql, params))
    return cells_from_rows(
        experiment,
        plan,
        bounds,
        first,
        last,
        columns,
        rows,
        int(missing[0][0]),
        int(missing[0][1]),
    )


def _used(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters `sql` names (DuckDB refuses unused named parameters)."""
    names = set(re.findall(r"\$(\w+)", sql))
    return {k: v for k, v in params.items() if k in names}
