"""What the dashboard's pages show, assembled from the registry, the ledger and the store.

Everything here turns recorded data (look documents, audit records, exposure counts) into
plain values and inline SVG for the templates; nothing is computed that a look did not
already decide, so the page shows exactly what the ledger holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scipy.stats import norm

from splitlab.config import Experiment, Status
from splitlab.evaluation.lifecycle import TRANSITIONS
from splitlab.server.context import ServerContext
from splitlab.server.dashboard import charts, words
from splitlab.store.registry import LookRecord, format_time

#: A unit's first exposure per day and variant (the store's ``exposures`` table keeps every
#: exposure; a unit counts once, on the day of its first one, in that exposure's variant).
EXPOSURES_BY_DAY = """
SELECT day, variant, count(*) AS units FROM (
    SELECT arg_min(variant, ts) AS variant, min(ts) // 86400000 AS day
    FROM exposures WHERE experiment_id = ? GROUP BY unit_key)
GROUP BY day, variant ORDER BY day, variant
"""

_ACTION_LABELS = {
    Status.RUNNING: "Start",
    Status.PAUSED: "Pause",
    Status.STOPPED: "Stop",
    Status.ROLLED_BACK: "Roll back",
    Status.SHIPPED: "Ship",
}


@dataclass(frozen=True, slots=True)
class ListRow:
    experiment_id: str
    name: str
    status: str
    traffic: str
    days_running: str
    units: str
    headline: str
    why: str
    alerts: list[str]


def _latest(looks: list[LookRecord]) -> dict[str, Any] | None:
    planned = [r for r in looks if not r.peek]
    return planned[-1].to_dict() if planned else None


_FINAL = {Status.STOPPED.value, Status.ROLLED_BACK.value, Status.SHIPPED.value}


def _running_span(
    ctx: ServerContext, experiment_id: str
) -> tuple[datetime | None, datetime | None]:
    """When the experiment first started running, and when it finished (None: not yet)."""
    started = ended = None
    for change in ctx.registry.changes(experiment_id):
        if change.kind != "status":
            continue
        if change.to_value == Status.RUNNING.value and started is None:
            started = change.at
        if change.to_value in _FINAL:
            ended = change.at
    return started, ended


def _alerts(document: Mapping[str, Any] | None, experiment: Experiment) -> list[str]:
    alerts = []
    if experiment.forced_variant:
        alerts.append(f"toggled: everyone gets {experiment.forced_variant}")
    if document is None:
        return alerts
    results = document.get("results", {})
    if (results.get("srm") or {}).get("detected"):
        alerts.append("sample ratio mismatch")
    for metric in results.get("metrics", []):
        for c in metric.get("comparisons", []):
            verdict = (c.get("guardrail") or {}).get("verdict")
            if verdict == "breached":
                alerts.append(f"guardrail {metric['name']} breached ({c['variant']})")
    return alerts


def experiments_list(ctx: ServerContext, now: datetime | None = None) -> list[ListRow]:
    """One row per experiment for the list page."""
    now = now or datetime.now(UTC)
    rows = []
    for e in ctx.registry.experiments():
        looks = ctx.registry.looks(e.id)
        document = _latest(looks)
        started, ended = _running_span(ctx, e.id)
        days = f"{((ended or now) - started).days}" if started else "-"
        units = (document or {}).get("results", {}).get("units") or {}
        total = sum(v for v in units.values() if isinstance(v, int | float))
        decision = (document or {}).get("decision")
        rows.append(
            ListRow(
                e.id, e.name or e.id, e.status.value, f"{e.traffic_allocation * 100:g}%", days,
                f"{total:,.0f}" if document else "-", words.headline(decision, e.status.value),
                words.why(decision), _alerts(document, e),
            )
        )  # fmt: skip
    return rows


def exposure_chart(ctx: ServerContext, experiment: Experiment) -> str:
    """Cumulative units exposed per variant, by day (first exposure)."""
    ctx.store.flush()
    with ctx.store.lock:
        rows = ctx.store.connection.execute(EXPOSURES_BY_DAY, [experiment.id]).fetchall()
    days = sorted({int(r[0]) for r in rows})
    counts: dict[str, dict[int, int]] = {v: {} for v in experiment.variant_names}
    for day, variant, units in rows:
        counts.setdefault(str(variant), {})[int(day)] = int(units)
    series = []
    for variant, by_day in counts.items():
        total, points = 0, []
        for day in days:
            total += by_day.get(day, 0)
            points.append((float(day), float(total)))
        series.append(charts.Series(variant, points))
    labels = {float(d): datetime.fromtimestamp(d * 86400, UTC).strftime("%b %d") for d in days}
    return charts.line_chart(series, labels, "Units exposed per variant (cumulative)")


def _z(comparison: Mapping[str, Any]) -> float | None:
    p = comparison.get("pValue")
    estimate = (comparison.get("absolute") or {}).get("estimate")
    if not isinstance(p, int | float) or not isinstance(estimate, int | float):
        return None
    p = min(max(float(p), 1e-300), 1.0)
    z = float(norm.isf(p / 2.0))
    return math.copysign(z, estimate) if math.isfinite(z) else None


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def primary_points(
    looks: list[LookRecord], experiment: Experiment
) -> dict[str, list[charts.LookPoint]]:
    """Per variant: the primary metric's relative effect and z at each planned look."""
    out: dict[str, list[charts.LookPoint]] = {}
    primary = experiment.metrics.primary.name
    for record in looks:
        if record.peek:
            continue
        document = record.to_dict()
        for metric in document.get("results", {}).get("metrics", []):
            if metric.get("name") != primary:
                continue
            for c in metric.get("comparisons", []):
                rel = c.get("relative") or {}
                seq = c.get("sequential") or {}
                boundary = seq.get("boundary")
                out.setdefault(c["variant"], []).append(
                    charts.LookPoint(
                        record.number,
                        _num(rel.get("estimate")) * 100,
                        _num(rel.get("lower")) * 100,
                        _num(rel.get("upper")) * 100,
                        _z(c),
                        float(boundary) if isinstance(boundary, int | float) else None,
                    )
                )
    return out


def metric_rows(document: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The latest look's comparisons as table rows (every metric, every variant)."""
    rows = []
    for metric in (document or {}).get("results", {}).get("metrics", []):
        for c in metric.get("comparisons", []):
            rel = c.get("relative") or {}
            absolute = c.get("absolute") or {}
            rows.append(
                {
                    "metric": metric["name"],
                    "role": metric.get("role", ""),
                    "variant": c["variant"],
                    "estimable": c.get("estimable", True),
                    "reason": c.get("reason"),
                    "control_mean": c.get("controlMean"),
                    "variant_mean": c.get("variantMean"),
                    "absolute": absolute,
                    "relative": rel,
                    "p": c.get("pValue"),
                    "adjusted_p": c.get("adjustedPValue"),
                    "direction": c.get("direction", "none"),
                    "significant": c.get("significant", False),
                    "guardrail": c.get("guardrail"),
                }
            )
    return rows


def forest(rows: list[dict[str, Any]]) -> str:
    """Relative effects with their intervals, every metric and variant."""
    intervals = []
    for r in rows:
        rel = r["relative"]
        if not r["estimable"] or not isinstance(rel.get("estimate"), int | float):
            continue
        tone = {"better": "better", "worse": "worse"}.get(r["direction"], "neutral")
        intervals.append(
            charts.Interval(
                f"{r['metric']} · {r['variant']}",
                _num(rel.get("estimate")) * 100,
                _num(rel.get("lower")) * 100,
                _num(rel.get("upper")) * 100,
                tone if r["significant"] else "neutral",
            )
        )
    return charts.forest_plot(intervals, "Relative effect against control, with intervals")


def actions(experiment: Experiment) -> list[dict[str, str]]:
    """The status changes an admin may make now (buttons), plus the toggle."""
    out = []
    for target in sorted(TRANSITIONS[experiment.status], key=list(Status).index):
        if target is Status.SHIPPED:
            for variant in experiment.variant_names:
                if variant != experiment.control:
                    out.append({"status": target.value, "variant": variant,
                                "label": f"Ship {variant}"})  # fmt: skip
        else:
            out.append({"status": target.value, "variant": "", "label": _ACTION_LABELS[target]})
    return out


def experiment_page(ctx: ServerContext, experiment_id: str) -> dict[str, Any]:
    """Everything the experiment page shows."""
    e = ctx.registry.get(experiment_id)
    looks = ctx.registry.looks(e.id)
    document = _latest(looks)
    decision = (document or {}).get("decision")
    rows = metric_rows(document)
    by_variant = primary_points(looks, e)
    max_looks = e.evaluation.max_peeks
    sequential = {
        v: charts.sequential_chart(points, max_looks, f"{v}: test statistic against the boundary")
        for v, points in by_variant.items()
    }
    effects = {
        v: charts.effect_chart(points, max_looks, f"{v}: cumulative relative effect")
        for v, points in by_variant.items()
    }
    results = (document or {}).get("results", {})
    return {
        "experiment": e,
        "description": words.describe(e),
        "headline": words.headline(decision, e.status.value),
        "why": words.why(decision),
        "reasons": (decision or {}).get("reasons", []),
        "document": document,
        "srm": results.get("srm"),
        "units": results.get("units") or {},
        "rows": rows,
        "guardrails": [r for r in rows if r["role"] == "guardrail"],
        "forest": forest(rows),
        "exposures": exposure_chart(ctx, e),
        "sequential": sequential,
        "effects": effects,
        "looks": [
            {
                "seq": r.seq,
                "number": r.number,
                "peek": r.peek,
                "at": format_time(r.at)[:16],
                "cutoff": format_time(r.cutoff)[:16],
                "triggered_by": r.triggered_by,
                "action": r.action,
                "variant": r.variant,
            }
            for r in looks
        ],
        "changes": [c.to_dict() for c in ctx.registry.changes(e.id)],
        "actions": actions(e),
        "alerts": _alerts(document, e),
    }
