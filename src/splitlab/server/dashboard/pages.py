"""What the dashboard's pages show, assembled from the registry, the ledger and the store.

Everything here turns recorded data (look documents, audit records, exposure counts) into
plain values and inline SVG for the templates; nothing is computed that a look did not
already decide, so the page shows exactly what the ledger holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from splitlab.config import Experiment, Status
from splitlab.evaluation.lifecycle import TRANSITIONS
from splitlab.server.context import ServerContext
from splitlab.server.dashboard import (
    adaptive,
    browser,
    charts,
    designs,
    holdouts,
    looks,
    progress,
    words,
)
from splitlab.store.exposure_progress import exposure_reads
from splitlab.store.registry import LookRecord, format_time

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
    design: str
    status: str
    traffic: str
    days_running: str
    units: str
    headline: str
    why: str
    alerts: list[str]
    serving: str
    progress: str


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
    served = progress.serving(experiment)
    if served.toggled:
        alerts.append(served.text)
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
        records = ctx.registry.looks(e.id)
        document = _latest(records)
        planned = sum(1 for r in records if not r.peek)
        state = progress.progress(ctx, e, planned, len(records) - planned)
        started, ended = _running_span(ctx, e.id)
        days = f"{((ended or now) - started).days}" if started else "-"
        units = (document or {}).get("results", {}).get("units") or {}
        total = sum(v for v in units.values() if isinstance(v, int | float))
        decision = (document or {}).get("decision")
        headline, why = words.headline(decision, e.status.value), words.why(decision)
        compact = state.compact()
        adaptive_words = adaptive.summary(ctx, e)
        if adaptive_words is not None:
            headline, why = adaptive_words["headline"], adaptive_words["why"]
            compact = adaptive_words["progress"]
        rows.append(
            ListRow(
                e.id, e.name or e.id, designs.label(e), e.status.value,
                f"{e.traffic_allocation * 100:g}%", days,
                _counted(total, state.noun) if document else "-",
                headline, why, _alerts(document, e), progress.serving(e).text, compact,
            )
        )  # fmt: skip
    return rows


def _counted(total: float, noun: str) -> str:
    """The last look's sample for the list: a number, naming clusters or cells (a design's
    ``results.units`` counts those, not units)."""
    return f"{total:,.0f}" if noun == "units" else f"{total:,.0f} {noun}"


def exposure_chart(
    ctx: ServerContext, experiment: Experiment, latest: LookRecord | None = None
) -> str:
    """Cumulative units exposed per variant, by day (first exposure), control on top, with
    the latest look's data cut-off marked (the chart may run on past it)."""
    rows = exposure_reads(ctx.events).exposures_by_day(experiment.id)
    days = sorted({r[0] for r in rows})
    counts: dict[str, dict[int, int]] = {v: {} for v in experiment.variant_names}
    for day, variant, units in rows:
        counts.setdefault(variant, {})[day] = units
    series = []
    for variant, by_day in counts.items():
        total, points = 0, []
        for day in days:
            total += by_day.get(day, 0)
            points.append((float(day), float(total)))
        series.append(charts.Series(variant, points))
    labels = {float(d): datetime.fromtimestamp(d * 86400, UTC).strftime("%b %d") for d in days}
    markers = []
    if latest is not None:
        markers.append((latest.cutoff.timestamp() / 86400, f"look {latest.number} data cut-off"))
    return charts.line_chart(
        series, labels, "Units exposed per variant (cumulative)",
        highlight=experiment.control, markers=markers,
    )  # fmt: skip


def actions(experiment: Experiment) -> list[dict[str, str]]:
    """The status changes an admin may make now (buttons), plus the toggle.

    A holdout is never rolled back or shipped (the lifecycle refuses both): no such buttons.
    """
    out = []
    for target in sorted(TRANSITIONS[experiment.status], key=list(Status).index):
        if experiment.is_holdout and target in (Status.ROLLED_BACK, Status.SHIPPED):
            continue
        if target is Status.SHIPPED:
            for variant in experiment.variant_names:
                if variant != experiment.control:
                    out.append({"status": target.value, "variant": variant,
                                "label": f"Ship {variant}"})  # fmt: skip
        else:
            out.append({"status": target.value, "variant": "", "label": _ACTION_LABELS[target]})
    return out


def experiment_page(
    ctx: ServerContext, experiment_id: str, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the experiment page shows."""
    now = now or datetime.now(UTC)
    e = ctx.registry.get(experiment_id)
    records = ctx.registry.looks(e.id)
    planned = [r for r in records if not r.peek]
    latest = looks.view(planned[-1], now) if planned else None
    if latest is not None:
        latest["headline"] = words.headline(latest["decision"], e.status.value)
    by_variant = looks.primary_points(records, e)
    max_looks = e.evaluation.max_peeks
    sequential = {
        v: charts.sequential_chart(points, max_looks, f"{v}: test statistic against the boundary")
        for v, points in by_variant.items()
    }
    effects = {
        v: charts.effect_chart(points, max_looks, f"{v}: cumulative relative effect")
        for v, points in by_variant.items()
    }
    document = latest["document"] if latest else None
    headline = latest["headline"] if latest else words.headline(None)
    why = words.why(latest["decision"] if latest else None)
    tone = latest["decision"]["action"] if latest else "none"
    adaptive_words = adaptive.summary(ctx, e)
    if adaptive_words is not None:  # a canary or bandit: its own state, not a look's
        headline, why, tone = (adaptive_words[k] for k in ("headline", "why", "tone"))
    return {
        "experiment": e,
        "description": words.describe(e),
        "serving": progress.serving(e),
        "progress": progress.progress(ctx, e, len(planned), len(records) - len(planned)),
        "rate_window": progress.RATE_WINDOW_DAYS,
        "latest": latest,
        "headline": headline,
        "why": why,
        "tone": tone,
        "exposures": exposure_chart(ctx, e, planned[-1] if planned else None),
        "browser": browser.panel(ctx, e),
        "design": designs.panel(ctx, e, document, planned[-1].cutoff if planned else None),
        "canary": adaptive.canary_panel(ctx, e),
        "bandit": adaptive.bandit_panel(ctx, e),
        "holdout": holdouts.panel(ctx, e, document),
        "held_out": holdouts.held_out_lines(ctx, e),
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
            for r in records
        ],
        "changes": [c.to_dict() for c in ctx.registry.changes(e.id)],
        "actions": actions(e),
        "alerts": _alerts(document, e),
    }


def look_page(
    ctx: ServerContext, experiment_id: str, seq: int, now: datetime | None = None
) -> dict[str, Any] | None:
    """One past look (by its ledger sequence number), or None when there is no such look."""
    e = ctx.registry.get(experiment_id)
    records = ctx.registry.looks(e.id)
    found = next((r for r in records if r.seq == seq), None)
    if found is None:
        return None
    seqs = [r.seq for r in records]
    i = seqs.index(seq)
    view = looks.view(found, now)
    return {
        "experiment": e,
        "look": view,
        "design": designs.panel(ctx, view["experiment_then"], view["document"], found.cutoff),
        "previous": seqs[i - 1] if i > 0 else None,
        "next": seqs[i + 1] if i + 1 < len(seqs) else None,
        "count": len(records),
    }
