"""The retention and time-to-event panels of a look: the look's ``curves`` block
(:mod:`splitlab.evaluation.survival_view`) as charts and sentences for ``_curves.html``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splitlab.server.dashboard.survival_charts import km_chart, retention_chart


def _hours(value: Any) -> str:
    return f"{value:,.1f} h" if isinstance(value, int | float) else "not estimable"


def _retention(name: str, block: Mapping[str, Any], control: str) -> dict[str, Any]:
    arms = []
    for arm in block["arms"]:
        curve = arm["curve"]
        points = [(float(d), float(r)) for d, r in zip(curve["days"], curve["rate"], strict=True)
                  if r is not None]  # fmt: skip
        arms.append((arm["variant"], points))
    rows = [
        {
            "variant": arm["variant"],
            "text": arm["text"],
            "retained": arm["retained"],
            "rate": arm["rate"],
            "eligible": arm["eligible"],
            "units": arm["units"],
        }
        for arm in block["arms"]
    ]
    return {
        "name": name,
        "type": "retention",
        "window": block["window"],
        "rows": rows,
        "svg": retention_chart(arms, f"{name}: share of eligible units retained, by day", control),
    }


def _time_to_event(name: str, block: Mapping[str, Any], control: str) -> dict[str, Any]:
    tau = float(block.get("horizonHours") or 0.0)
    arms = [
        (arm["variant"], list(zip(arm["curve"]["hours"], arm["curve"]["survival"], strict=True)))
        for arm in block["arms"]
    ]
    rows = [
        {
            "variant": arm["variant"],
            "rmst": _hours(arm.get("rmstHours")),
            "events": arm.get("events"),
            "censored": arm.get("censored"),
            "units": arm.get("units"),
            "short": arm.get("followUpShort", False),
        }
        for arm in block["arms"]
    ]
    differences = []
    for d in block.get("differences") or []:
        diff = d.get("differenceHours") or {}
        numbers = [diff.get(k) for k in ("estimate", "lower", "upper")]
        if not d.get("estimable") or not all(isinstance(x, int | float) for x in numbers):
            text = f"{d['variant']} against {d['control']}: not estimable ({d.get('reason')})"
        else:
            text = (
                f"{d['variant']} against {d['control']}: RMST difference "
                f"{diff['estimate']:+,.1f} h, interval {diff['lower']:+,.1f} h to "
                f"{diff['upper']:+,.1f} h"
            )
        differences.append({"variant": d["variant"], "text": text})
    return {
        "name": name,
        "type": "time_to_event",
        "horizon": f"{tau:g}",
        "rows": rows,
        "differences": differences,
        "svg": km_chart(
            arms, tau, f"{name}: share still without the event (Kaplan-Meier)", control
        ),
    }


def panels(curves: Mapping[str, Any] | None, control: str) -> list[dict[str, Any]]:
    """One panel per retention or time-to-event metric of the look (none for other looks)."""
    out = []
    for name, block in (curves or {}).items():
        if block.get("type") == "retention":
            out.append(_retention(name, block, control))
        elif block.get("type") == "time_to_event":
            out.append(_time_to_event(name, block, control))
    return out
