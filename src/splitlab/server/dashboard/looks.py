"""One recorded look as the dashboard shows it: the latest on the experiment page, any past
one on its own page (``/experiments/{id}/looks/{seq}``).

Everything comes from the look's ledger document, exactly as the engine wrote it: the
decision, the comparisons (their ``significant`` flags, intervals and p-values), the
data-quality counts and the power warning. Nothing is re-decided here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from scipy.stats import norm

from splitlab.config import Experiment, load_experiment
from splitlab.evaluation.look_view import look_curves
from splitlab.server.dashboard import charts, survival, words
from splitlab.stats.capping import AppliedCap
from splitlab.stats.versions import split_text
from splitlab.store.registry import LookRecord, format_time

_QUALITY = (
    ("multiExposedUnits", "units saw more than one variant",
     "left out of the results; assignment is not stable for them"),
    ("unexposedMetricEvents", "metric events came from units never exposed",
     "they cannot be attributed; exposures are being lost"),
    ("variantMismatchEvents", "metric events named another variant than the unit's first "
     "exposure", "counted under the first exposure's variant"),
    ("preExposureMetricEvents", "metric events happened before the unit's exposure",
     "not counted; normal in small numbers"),
)  # fmt: skip

#: The lines of cluster and switchback looks (a switchback has no units exposed twice and no
#: exposure to precede its metric events: its counts are about cells).
_QUALITY_BY_DESIGN = {
    "cluster": (
        *_QUALITY,
        ("multiVariantClusters", "clusters were served more than one variant",
         "left out of the results with all their units; assignment is not stable for them"),
        ("missingClusterExposures", "exposures carried no clusterId",
         "left out of the results; their cluster is unknown"),
    ),
    "switchback": (
        ("unexposedMetricEvents", "metric events carried no clusterId (the switchback unit's "
         "value)", "they cannot be placed in a cell and are left out"),
        ("variantMismatchEvents", "metric events named another variant than their cell's",
         "counted under the cell's variant"),
    ),
}  # fmt: skip

#: The total each count is measured against, when the look recorded it: (key, noun).
_TOTAL_OF = {
    "multiExposedUnits": ("analysisUnits", "analysis units"),
    "unexposedMetricEvents": ("metricEvents", "metric events"),
    "multiVariantClusters": ("clusters", "clusters"),
    "missingClusterExposures": ("exposures", "exposures"),
}

_SEQUENTIAL_LABEL = {
    "alpha_spending": "sequential interval",
    "always_valid": "always-valid interval",
    "none": "interval",
}


def ago(at: datetime, now: datetime) -> str:
    """How long ago `at` was, in whole days ("today" under a day)."""
    days = int((now - at).total_seconds() // 86400)
    if days <= 0:
        return "today"
    return f"{days} day{'s' if days != 1 else ''} ago"


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def _z(comparison: Mapping[str, Any]) -> float | None:
    """The test statistic: the normal quantile of the two-sided p, signed like the effect."""
    p = comparison.get("pValue")
    estimate = (comparison.get("absolute") or {}).get("estimate")
    if not isinstance(p, int | float) or not isinstance(estimate, int | float):
        return None
    p = min(max(float(p), 1e-300), 1.0)
    z = float(norm.isf(p / 2.0))
    return math.copysign(z, estimate) if math.isfinite(z) else None


def point_state(comparison: Mapping[str, Any], decision: Mapping[str, Any]) -> str:
    """How a look's own decision treated one comparison (see :class:`charts.LookPoint`)."""
    if not comparison.get("significant"):
        return "inside"
    action = decision.get("action")
    if action in {"continue", "peek", "halt"}:
        return "held"
    if action == "ship" and decision.get("variant") != comparison.get("variant"):
        return "held"
    return "decided"


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
        decision = document.get("decision") or {}
        note = f"{words.headline(decision)}: {words.why(decision)}"
        for metric in document.get("results", {}).get("metrics", []):
            if metric.get("name") != primary:
                continue
            for c in metric.get("comparisons", []):
                rel = c.get("relative") or {}
                boundary = (c.get("sequential") or {}).get("boundary")
                out.setdefault(c["variant"], []).append(
                    charts.LookPoint(
                        record.number,
                        _num(rel.get("estimate")) * 100,
                        _num(rel.get("lower")) * 100,
                        _num(rel.get("upper")) * 100,
                        _z(c),
                        float(boundary) if isinstance(boundary, int | float) else None,
                        point_state(c, decision),
                        note,
                    )
                )
    return out


def metric_rows(document: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """A look's comparisons as table rows (every metric, every variant)."""
    rows = []
    capping: dict[str, list[str]] = {}
    for entry in (document or {}).get("capping", []):
        capping.setdefault(entry["metric"], []).append(AppliedCap.from_dict(entry).short())
    for metric in (document or {}).get("results", {}).get("metrics", []):
        for c in metric.get("comparisons", []):
            rows.append(
                {
                    "metric": metric["name"],
                    "capping": capping.get(metric["name"], []),
                    # what a retention or time-to-event row's numbers are (a rate, hours)
                    "measures": metric.get("timeToEvent") or metric.get("retention"),
                    "role": metric.get("role", ""),
                    "variant": c["variant"],
                    "estimable": c.get("estimable", True),
                    "reason": c.get("reason"),
                    "control_mean": c.get("controlMean"),
                    "variant_mean": c.get("variantMean"),
                    "absolute": c.get("absolute") or {},
                    "relative": c.get("relative") or {},
                    "p": c.get("pValue"),
                    "sequential_p": c.get("sequentialPValue"),
                    "adjusted_p": c.get("adjustedPValue"),
                    "direction": c.get("direction", "none"),
                    "significant": c.get("significant", False),
                    "guardrail": c.get("guardrail"),
                    "bayesian": c.get("bayesian"),
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


def quality(report: Mapping[str, Any] | None) -> dict[str, Any]:
    """The look's data-quality counts as plain sentences, and its halting findings."""
    report = report or {}
    exposed = report.get("exposedUnits")
    design = report.get("design")
    lines = []
    for key, what, consequence in _QUALITY_BY_DESIGN.get(str(design), _QUALITY):
        count = report.get(key)
        if isinstance(count, int | float):
            text = f"{what} ({consequence})"
            total_key = _TOTAL_OF.get(key)
            total = report.get(total_key[0]) if total_key else None
            if total_key and isinstance(total, int | float):
                text += f"; of {total:,.0f} {total_key[1]}"
            lines.append({"key": key, "count": int(count), "text": text})
    tolerance = report.get("tolerance")
    basis = None
    if design is not None:
        # Cluster and switchback looks measure each count against a total of its own kind.
        exposed = None
        if isinstance(tolerance, int | float):
            basis = (
                f"a finding that can halt does so above {tolerance:.0%} of its own total "
                "(shown beside it)"
            )
    return {
        "exposed": exposed,
        "basis": basis,
        "lines": lines,
        "clean": all(line["count"] == 0 for line in lines),
        "tolerance": f"{tolerance:.0%}" if isinstance(tolerance, int | float) else None,
        "halting": list(report.get("halting") or []),
        "warnings": list(report.get("warnings") or []),
    }


def labels(experiment: Experiment) -> dict[str, str]:
    """Which interval and which p-value the metrics table shows, named for this plan."""
    ev = experiment.evaluation
    seq = ev.sequential.method
    interval = _SEQUENTIAL_LABEL.get(seq, "interval")
    looks = {
        "alpha_spending": "widened for the looks taken (alpha spending)",
        "always_valid": "valid at any look (mSPRT)",
        "none": "not adjusted for repeated looks",
    }.get(seq, "")
    corrected = "" if ev.correction == "none" else f", corrected ({ev.correction})"
    return {
        "interval": interval.capitalize(),
        "p": f"{'Sequential p' if seq != 'none' else 'p'}{', corrected' if corrected else ''}",
        "interval_note": (
            f"The {interval} of the relative effect, {looks}{corrected}: at the level the "
            "decision is taken at, so it excludes 0 exactly when the p-value beside it is "
            f"below {ev.alpha:g}."
        ),
        "p_note": (
            f"The p-value {looks}{corrected}; the same test as the interval. The raw "
            "single-look p-value is in each row's tooltip and in the look's JSON."
        ),
    }


def power_warnings(results: dict[str, Any]) -> list[str]:
    """The results' warnings shown under "Low power": all but the design's own warnings
    (those also in ``results.design.warnings``), which the design panel shows."""
    design = results.get("design") or {}
    own = set(design.get("warnings") or []) if isinstance(design, dict) else set()
    return [str(w) for w in results.get("warnings") or [] if w not in own]


def view(record: LookRecord, now: datetime | None = None) -> dict[str, Any]:
    """Everything a page shows about one recorded look."""
    now = now or datetime.now(UTC)
    document = record.to_dict()
    decision = document.get("decision") or {}
    results = document.get("results") or {}
    experiment = load_experiment(document["definition"])
    rows = metric_rows(document)
    return {
        "record": record,
        "document": document,
        "experiment_then": experiment,
        "seq": record.seq,
        "number": record.number,
        "peek": record.peek,
        "at": format_time(record.at)[:16].replace("T", " "),
        "age": ago(record.at, now),
        "cutoff": format_time(record.cutoff)[:16].replace("T", " "),
        "cutoff_age": ago(record.cutoff, now),
        "triggered_by": record.triggered_by,
        "decision": decision,
        "headline": words.headline(decision, document.get("status")),
        "why": words.why(decision),
        "reasons": decision.get("reasons", []),
        "srm": results.get("srm"),
        "units": results.get("units") or {},
        "fraction": results.get("informationFraction"),
        "rows": rows,
        "bayesian": experiment.evaluation.method == "bayesian",
        "labels": labels(experiment),
        "guardrails": [r for r in rows if r["role"] == "guardrail"],
        "forest": forest(rows),
        "quality": quality(document.get("dataQuality")),
        "power": power_warnings(results),
        "versions": weights_versions(document),
        "curves": survival.panels(look_curves(document), experiment.control),
    }


def weights_versions(document: Mapping[str, Any]) -> dict[str, Any] | None:
    """The weights versions of a sticky experiment whose weights changed (the document's
    ``weightsVersions``): per version its split, start and units, and the SRM per version;
    None for every other look."""
    block = document.get("weightsVersions")
    if not isinstance(block, Mapping):
        return None
    rows = []
    for v in block.get("versions") or []:
        weights = v.get("weights") or {}
        units = v.get("units") or {}
        rows.append(
            {
                "label": f"v{v.get('version')}",
                "split": split_text(weights),
                "start": str(v.get("start", ""))[:16].replace("T", " "),
                "units": ", ".join(f"{k} {int(n):,}" for k, n in units.items()),
                "p": v.get("srmPValue"),
            }
        )
    return {"rows": rows, "p": block.get("srmPValue")}
