"""Holdouts on the dashboard: the holdout's panel and the line on every covered experiment.

The holdout's page shows its scope (the tags it selects, or every experiment on its
``hashKey``), the experiments it covers now with their statuses (the same rows as ``GET
/v1/holdouts``) and its latest look's comparison named for what it is: everyone else
(its second variant) vs held out (its first, the control). A covered experiment's page says
which running holdout holds units out of it, and that those units are not in its results.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splitlab.config import Experiment, Status
from splitlab.config.layers import HoldoutDesign
from splitlab.evaluation.holdout_view import covering_holdouts, holdout_row
from splitlab.server.context import ServerContext

__all__ = ["COMPARED", "held_out_lines", "label", "panel", "result_rows"]

#: How the holdout's comparison is named on its page.
COMPARED = "everyone else vs held out"


def label(experiment: Experiment) -> str:
    """The experiments list's design cell: ``holdout: 5% held out``."""
    design = experiment.design
    assert isinstance(design, HoldoutDesign)
    return f"holdout: {design.percent:g}% held out"


def result_rows(document: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Each metric of the look: held-out and everyone-else means, the lift, its interval."""
    rows: list[dict[str, Any]] = []
    results = (document or {}).get("results") or {}
    for metric in results.get("metrics") or []:
        for c in metric.get("comparisons") or []:
            relative = c.get("relative") or {}
            rows.append(
                {
                    "metric": metric.get("name"),
                    "role": metric.get("role"),
                    "held_out": c.get("controlMean"),
                    "everyone_else": c.get("variantMean"),
                    "lift": relative.get("estimate"),
                    "lower": relative.get("lower"),
                    "upper": relative.get("upper"),
                    "estimable": bool(c.get("estimable")) and relative.get("estimate") is not None,
                    "reason": c.get("reason") or "no estimate yet",
                    "significant": bool(c.get("significant")),
                    "direction": c.get("direction") or "none",
                }
            )
    return rows


def panel(
    ctx: ServerContext, experiment: Experiment, document: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """What the holdout panel shows; None when the experiment is not a holdout."""
    if not experiment.is_holdout:
        return None
    every = ctx.registry.experiments()
    names = {e.id: e.name or e.id for e in every}
    row = holdout_row(experiment, every)
    return {
        "percent": f"{row.percent:g}",
        "scope": row.scope,
        "hash_key": row.hash_key,
        "running": experiment.status is Status.RUNNING,
        "covered": [
            {"id": eid, "name": names.get(eid, eid), "status": status}
            for eid, status in row.covered
        ],
        "compared": COMPARED,
        "held_out": experiment.variant_names[0],
        "everyone_else": experiment.variant_names[1],
        "looked": document is not None,
        "rows": result_rows(document),
    }


def held_out_lines(ctx: ServerContext, experiment: Experiment) -> list[str]:
    """One line per holdout covering ``experiment``: running ones hold units out now; a
    draft or paused one will when it runs; finished ones hold nobody out any more."""
    lines = []
    for holdout in covering_holdouts(experiment, ctx.registry.experiments()):
        design = holdout.design
        assert isinstance(design, HoldoutDesign)
        share = f"{design.percent:g}% of units by {holdout.id}"
        if holdout.status is Status.RUNNING:
            lines.append(
                f"Held out: {share} (they get control and are not in this experiment's results)"
            )
        elif holdout.status in (Status.DRAFT, Status.PAUSED):
            lines.append(
                f"Covered by a {holdout.status.value} holdout: {share} will be held out while "
                "it runs (nobody is held out now)"
            )
    return lines
