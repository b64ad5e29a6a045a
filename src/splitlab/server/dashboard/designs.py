"""The experiment's design on the dashboard: the list's label and the page's design panel.

The panel reads the definition (randomisation unit, analysis unit; switchback unit, period,
burn-in) and the latest look's ``results.design`` exactly as the engine recorded it
(clusters and analysis units per arm, the small-sample correction, cells per arm, the
estimator and their warnings). The switchback chart shows which variant each (unit, period)
cell had, from the store's cell table (``switchback_cells``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from splitlab.config import Experiment
from splitlab.config.adaptive import BanditDesign, CanaryDesign
from splitlab.config.designs import ClusterDesign, SwitchbackDesign, parse_origin
from splitlab.config.layers import HoldoutDesign
from splitlab.server.context import ServerContext
from splitlab.server.dashboard import bandit, canary, charts, holdouts

_CORRECTIONS = {
    "CR0": "CR0: the cluster-robust (sandwich) variance without a small-sample factor",
    "CR1": "CR1: the cluster-robust (sandwich) variance times G/(G-1) · (N-1)/(N-K), as "
    "Stata's vce(cluster) defines it, which offsets its downward bias with few clusters; "
    "tested against a t distribution with G-1 degrees of freedom",
}
_ESTIMATORS = {
    "horvitz_thompson": "Horvitz-Thompson: each cell weighted by the known chance of its "
    "variant under the switchback assignment (design-based, no model of the outcome)",
    "regression": "regression on cell means with unit and period effects",
}


def duration(seconds: int) -> str:
    """A period or burn-in in words: ``1 h``, ``10 min``, ``1 day``, ``1 h 30 min``."""
    parts = []
    for size, name in ((86_400, "day"), (3_600, "h"), (60, "min"), (1, "s")):
        count, seconds = divmod(seconds, size)
        if count:
            plural = "s" if name == "day" and count != 1 else ""
            parts.append(f"{count} {name}{plural}")
    return " ".join(parts) or "0 s"


def label(experiment: Experiment) -> str:
    """The design in a few words, for the experiments list."""
    design = experiment.design
    if isinstance(design, ClusterDesign):
        return f"cluster: {experiment.assignment.hash_key} → {design.analysis_unit}"
    if isinstance(design, SwitchbackDesign):
        return f"switchback: {design.unit or 'global'}, {duration(design.period_seconds)}"
    if isinstance(design, CanaryDesign):
        return canary.label(experiment)
    if isinstance(design, BanditDesign):
        return bandit.label(experiment)
    if isinstance(design, HoldoutDesign):
        return holdouts.label(experiment)
    return "classic"


def _recorded(document: Mapping[str, Any] | None) -> Mapping[str, Any]:
    design = ((document or {}).get("results") or {}).get("design")
    return design if isinstance(design, Mapping) else {}


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def panel(
    ctx: ServerContext,
    experiment: Experiment,
    document: Mapping[str, Any] | None,
    cutoff: datetime | None = None,
) -> dict[str, Any] | None:
    """What the design panel shows; None for a classic experiment (no panel).

    `cutoff` is the latest look's data cut-off: the switchback chart shows the cells of that
    look's window (so they add up to its cells per arm); None: up to now.
    """
    design = experiment.design
    recorded = _recorded(document)
    warnings = [str(w) for w in recorded.get("warnings") or []]
    what = "clusters" if isinstance(design, ClusterDesign) else "cells"
    pending = (
        f"No look yet: the {what} per arm appear with the first look."
        if document is None
        else f"The latest look recorded no design block, so it has no {what} per arm."
    )
    if isinstance(design, ClusterDesign):
        clusters = recorded.get("clusters") or {}
        units = recorded.get("analysisUnits") or {}
        rows = []
        for v in experiment.variant_names:
            g, n = _count(clusters.get(v)), _count(units.get(v))
            mean = f"{n / g:.2f}" if g and n is not None else None
            rows.append({"variant": v, "clusters": g, "units": n, "mean": mean})
        correction = recorded.get("smallSampleCorrection")
        return {
            "kind": "cluster",
            "cluster_key": experiment.assignment.hash_key,
            "analysis_unit": design.analysis_unit,
            "looked": bool(recorded),
            "pending": pending,
            "rows": rows,
            "correction": correction,
            "correction_text": _CORRECTIONS.get(str(correction), str(correction or "")),
            "warnings": warnings,
        }
    if isinstance(design, SwitchbackDesign):
        cells = recorded.get("cells") or {}
        estimator = recorded.get("estimator")
        return {
            "kind": "switchback",
            "unit": design.unit,
            "period": duration(design.period_seconds),
            "burn_in": duration(design.burn_in_seconds),
            "origin": design.origin,
            "looked": bool(recorded),
            "pending": pending,
            "rows": [
                {"variant": v, "cells": _count(cells.get(v))} for v in experiment.variant_names
            ],
            "units": _count(recorded.get("units")),
            "periods": _count(recorded.get("periods")),
            "estimator": estimator,
            "estimator_text": _ESTIMATORS.get(str(estimator), str(estimator or "")),
            "warnings": warnings,
            "chart": cell_chart(ctx, experiment, design, cutoff),
            "cutoff": None if cutoff is None else cutoff.strftime("%Y-%m-%d %H:%M"),
        }
    return None


def period_labeller(design: SwitchbackDesign) -> Any:
    """A function naming period ``k`` by its start (UTC): ``Mar 19 14:00`` or ``Mar 19``."""
    origin = parse_origin(design.origin) or 0
    step = design.period_seconds * 1000
    pattern = "%b %d" if design.period_seconds % 86_400 == 0 else "%b %d %H:%M"

    def name(k: int) -> str:
        return datetime.fromtimestamp((origin + k * step) / 1000, UTC).strftime(pattern)

    return name


def cell_chart(
    ctx: ServerContext,
    experiment: Experiment,
    design: SwitchbackDesign,
    cutoff: datetime | None,
) -> str:
    """The cells-over-time chart of a switchback experiment, up to `cutoff`."""
    cells = switchback_cells(ctx, experiment, cutoff)
    return charts.cell_chart(
        cells, experiment.variant_names, period_labeller(design),
        f"Variant of each {design.unit or 'global'} cell per {duration(design.period_seconds)} "
        "period", control=experiment.control,
    )  # fmt: skip


def switchback_cells(
    ctx: ServerContext, experiment: Experiment, cutoff: datetime | None
) -> list[charts.Cell]:
    """The experiment's cells from the store's cell table (the analysis window up to `cutoff`:
    every unit in every period, its variant from the assignment function); a cell where every
    metric's outcome is 0 had no counted events and is drawn as empty."""
    table = ctx.events.switchback_cells(experiment, cutoff)
    columns = [table.outcome(name) for name in table.values]
    active = [any(float(c[i]) != 0.0 for c in columns) for i in range(table.size)]
    return [
        charts.Cell(table.unit_names[int(u)], int(k), variant, empty=not active[i])
        for i, (u, k, variant) in enumerate(
            zip(table.unit_index(), table.period_index(), table.variants, strict=True)
        )
    ]
