"""What a look shows of its retention and time-to-event metrics: the ``curves`` block.

A pure function of a recorded look (its definition, its sums and its results), so a past look
renders to the same bytes every time and nothing is recomputed into the ledger:

* a retention metric: per arm, the units eligible for the metric's days (the metric's ``n``)
  out of the arm's units, those still in their window, the retained units and the rate; and the
  arm's day-by-day retention curve (days, eligible, retained, rate);
* a time-to-event metric: per arm, the units, events and censorings, the restricted mean
  survival time (RMST) up to the horizon with its standard error, whether no unit was
  followed up to the horizon yet (``followUpShort``: the RMST then extrapolates), the
  Kaplan-Meier curve as step points (hours, share still without the event); per variant, the
  RMST difference against control and its interval exactly as the look's comparison recorded
  it (hours).

The API's look documents carry it as ``curves`` (only when the experiment has such a metric),
the CLI prints :func:`curve_lines`, and the dashboard draws the curves from it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from splitlab.config import Experiment, Metric, MetricType
from splitlab.stats.results import num
from splitlab.stats.sums import ArmSums, ExperimentSums, count
from splitlab.stats.survival import follow_up_short, km_curve, rmst
from splitlab.stats.survival_table import RetentionCurve, SurvivalTable

__all__ = ["curve_lines", "curves_block", "retention_sentence", "window_name"]

_KINDS = (MetricType.RETENTION, MetricType.TIME_TO_EVENT)


def window_name(metric: Metric) -> str:
    """``day-7`` for one day, ``days 7-13`` for several (as the sentences name the window)."""
    r = metric.retention
    if r is None:
        return "retention"
    return f"day-{r.day}" if r.days == 1 else f"days {r.day}-{r.day + r.days - 1}"


def retention_sentence(eligible: float, units: float, window: str) -> str:
    """``eligible: 812 of 1,000 units (188 still in their day-7 window)``."""
    waiting = max(units - eligible, 0.0)
    return (
        f"eligible: {eligible:,.0f} of {units:,.0f} units "
        f"({waiting:,.0f} still in their {window} window)"
    )


def _rate(retained: float, eligible: float) -> float | None:
    return retained / eligible if eligible > 0 else None


def _retention_curve(curve: RetentionCurve | None) -> dict[str, Any]:
    if curve is None:
        return {"days": [], "eligible": [], "retained": [], "rate": []}
    return {
        **curve.to_dict(),
        "rate": [num(_rate(r, e)) for r, e in zip(curve.retained, curve.eligible, strict=True)],
    }


def _retention(metric: Metric, arms: Mapping[str, ArmSums], units: Mapping[str, float],
               variants: Iterable[str]) -> dict[str, Any]:  # fmt: skip
    window = window_name(metric)
    rows = []
    for v in variants:
        arm = arms.get(v, ArmSums(0.0, 0.0, 0.0))
        total = float(units.get(v, 0.0))
        rows.append(
            {
                "variant": v,
                "units": count(total),
                "eligible": count(arm.n),
                "stillInWindow": count(max(total - arm.n, 0.0)),
                "retained": count(arm.sum),
                "rate": num(_rate(arm.sum, arm.n)),
                "text": retention_sentence(arm.n, total, window),
                "curve": _retention_curve(arm.retention),
            }
        )
    r = metric.retention
    return {
        "type": MetricType.RETENTION.value,
        "day": None if r is None else r.day,
        "days": None if r is None else r.days,
        "window": window,
        "arms": rows,
    }


def _interval(block: Any) -> dict[str, float | None] | None:
    if not isinstance(block, Mapping):
        return None
    return {k: num(block.get(k)) for k in ("estimate", "lower", "upper")}


def _time_to_event(metric: Metric, arms: Mapping[str, ArmSums], variants: Iterable[str],
                   comparisons: Iterable[Mapping[str, Any]]) -> dict[str, Any]:  # fmt: skip
    tau = metric.horizon_hours
    rows = []
    for v in variants:
        arm = arms.get(v, ArmSums(0.0, 0.0, 0.0))
        table = arm.survival or SurvivalTable((), (), ())
        estimate = se = None
        short = True
        points: list[tuple[float, float]] = []
        if tau is not None and table.units > 0:
            found = rmst(table, tau)
            estimate = found.estimate
            se = math.sqrt(found.variance) if found.variance >= 0 else None
            points = km_curve(table, tau)
            short = follow_up_short(table, tau)
        rows.append(
            {
                "variant": v,
                "units": count(arm.n),
                "events": count(sum(table.events)),
                "censored": count(sum(table.censored)),
                "rmstHours": num(estimate),
                "rmstStandardError": num(se),
                "followUpShort": short,
                "curve": {
                    "hours": [num(t) for t, _ in points],
                    "survival": [num(s) for _, s in points],
                },
            }
        )
    differences = [
        {
            "variant": c.get("variant"),
            "control": c.get("control"),
            "estimable": bool(c.get("estimable", False)),
            "reason": c.get("reason"),
            "differenceHours": _interval(c.get("absolute")),
            "significant": bool(c.get("significant", False)),
        }
        for c in comparisons
    ]
    return {
        "type": MetricType.TIME_TO_EVENT.value,
        "horizonHours": num(tau),
        "arms": rows,
        "differences": differences,
    }


def curves_block(
    experiment: Experiment, sums: ExperimentSums, results: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Per retention or time-to-event metric of `experiment`, what a look shows of it (see
    the module's docstring); None when the experiment has neither kind (the look's document
    then keeps its keys)."""
    wanted = [m for _, m in experiment.metrics.all() if m.type in _KINDS]
    if not wanted:
        return None
    recorded = {m.get("name"): m for m in results.get("metrics") or [] if isinstance(m, Mapping)}
    variants = experiment.variant_names
    out: dict[str, Any] = {}
    for metric in wanted:
        arms = sums.metrics.get(metric.name, {})
        if metric.type == MetricType.RETENTION:
            out[metric.name] = _retention(metric, arms, sums.units, variants)
        else:
            comparisons = (recorded.get(metric.name) or {}).get("comparisons") or []
            out[metric.name] = _time_to_event(metric, arms, variants, comparisons)
    return out


def _count(value: Any) -> str:
    return f"{value:,.0f}" if isinstance(value, int | float) else "n/a"


def _hours(value: Any) -> str:
    return f"{value:,.1f} h" if isinstance(value, int | float) else "n/a"


def _signed_hours(value: Any) -> str:
    return f"{value:+,.1f} h" if isinstance(value, int | float) else "n/a"


def curve_lines(curves: Mapping[str, Any] | None) -> list[str]:
    """The ``curves`` block in plain sentences, one per arm and per difference (for the CLI)."""
    lines: list[str] = []
    for name, block in (curves or {}).items():
        if block.get("type") == MetricType.RETENTION.value:
            lines.append(f"{name} (retention, {block.get('window')}):")
            for arm in block["arms"]:
                rate = arm.get("rate")
                shown = "n/a" if rate is None else f"{rate:.1%}"
                lines.append(f"  {arm['variant']}: {arm['text']}; retained {shown}")
            continue
        tau = block.get("horizonHours")
        lines.append(f"{name} (time to event, RMST up to {_hours(tau)}):")
        for arm in block["arms"]:
            lines.append(
                f"  {arm['variant']}: RMST {_hours(arm.get('rmstHours'))} "
                f"({_count(arm.get('events'))} events, {_count(arm.get('censored'))} censored "
                f"of {_count(arm.get('units'))} units)"
            )
        for d in block.get("differences") or []:
            diff = d.get("differenceHours") or {}
            if not d.get("estimable") or diff.get("estimate") is None:
                lines.append(
                    f"  {d['variant']} - {d['control']}: not estimable ({d.get('reason')})"
                )
                continue
            lines.append(
                f"  {d['variant']} - {d['control']}: RMST difference "
                f"{_signed_hours(diff.get('estimate'))} (interval "
                f"{_signed_hours(diff.get('lower'))} to {_signed_hours(diff.get('upper'))})"
            )
    return lines
