"""The canary panel: the ramp, the latest judgment's metric table and the latency curves.

Everything is read from the canary document of ``GET /v1/experiments/{id}/canary`` (the ramp
with each step's start, end and outcome; the judgments, newest last; the sketches of the
current step's distribution metrics) and turned into plain values for ``_canary.html``.
Nothing is re-judged here: a verdict is shown exactly as the monitor recorded it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from splitlab.config import Experiment
from splitlab.config.adaptive import CanaryDesign
from splitlab.server.dashboard import adaptive_charts
from splitlab.stats.sketch import Sketch

#: How a ramp step's outcome is worded (the CSS class is ``outcome-<outcome>``).
OUTCOMES = {
    "passed": "passed",
    "failed": "failed: rolled back",
    "current": "running now",
    "pending": "not reached",
    "promoted": "promoted to everyone",
}
#: A metric's verdict in words; the colour is ``verdict-<verdict>`` and never the only cue.
VERDICTS = {
    "pass": "pass: within tolerance",
    "marginal": "marginal: not yet shown either way",
    "fail": "fail: beyond tolerance",
}
ACTIONS = {
    "wait": "wait for more data",
    "advance": "advance to the next step",
    "promote": "promote the canary to everyone",
    "rollback": "roll back to the baseline",
}
#: Judgments listed on the page (newest first); the API has them all.
HISTORY_ROWS = 30


def label(experiment: Experiment) -> str:
    """The canary in a few words for the experiments list: ``canary: step 3 of 4 (25 %)``."""
    design = experiment.design
    assert isinstance(design, CanaryDesign)
    steps = design.canary_steps
    index = min(design.step, len(steps) - 1)
    return f"canary: step {index + 1} of {len(steps)} ({steps[index].percent:g} %)"


def summary(experiment: Experiment, document: Mapping[str, Any] | None) -> dict[str, str]:
    """The headline, reason, progress line and tone (a ``decision-*`` class) of the list and
    the page's top card: the step and the latest judgment, or how the canary ended."""
    design = experiment.design
    assert isinstance(design, CanaryDesign)
    steps = design.canary_steps
    index = min(design.step, len(steps) - 1)
    judgments = [j for j in (document or {}).get("judgments") or [] if isinstance(j, Mapping)]
    reason = _text(judgments[-1].get("reason")) if judgments else "No judgment yet."
    status = experiment.status.value
    percent = f"{steps[index].percent:g} %"
    count = len(judgments)
    progress = f"step {index + 1} of {len(steps)} · {count} judgment{'s' if count != 1 else ''}"
    out = {"why": reason, "progress": progress, "tone": "continue"}
    if status == "rolled_back":
        return {**out, "headline": f"Rolled back at the {percent} step", "tone": "rollback"}
    if status == "shipped":
        return {**out, "headline": "Promoted to everyone", "tone": "ship"}
    if status != "running":
        return {**out, "headline": f"{status.replace('_', ' ').capitalize()} at the {percent} "
                "step", "tone": "stop"}  # fmt: skip
    verdict = _text(judgments[-1].get("verdict")) if judgments else ""
    state = VERDICTS.get(verdict, "waiting for the first judgment").split(":")[0]
    return {**out, "headline": f"Step {index + 1} of {len(steps)} ({percent}): {state}"}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _time(value: Any) -> str:
    """An ISO timestamp as ``2026-03-19 14:05`` (empty for none)."""
    text = _text(value)
    return text[:16].replace("T", " ") if text else ""


def fmt_value(value: Any, kind: str) -> str:
    """A metric value: a proportion in percent, anything else with 4 significant digits."""
    number = _number(value)
    if number is None:
        return "–"
    if kind == "proportion":
        return f"{number * 100:.3g} %"
    return f"{number:.4g}"


def fmt_effect(value: Any, scale: str, kind: str) -> str:
    """A difference on its scale: relative in percent, a proportion's absolute in points."""
    number = _number(value)
    if number is None:
        return "–"
    if scale == "relative":
        return f"{number * 100:+.3g} %"
    if kind == "proportion":
        return f"{number * 100:+.3g} pt"
    return f"{number:+.4g}"


def _tolerance(diff: Mapping[str, Any]) -> str:
    tolerance = _number(diff.get("tolerance"))
    if tolerance is None:
        return "–"
    kind = _text(diff.get("kind"))
    worse = "rise" if diff.get("badDirection", "increase") == "increase" else "fall"
    if diff.get("toleranceType", "relative") == "relative":
        size = f"{tolerance * 100:.3g} %"
    elif kind == "proportion":
        size = f"{tolerance * 100:.3g} pt"
    else:
        size = f"{tolerance:.4g}"
    return f"a {worse} of at most {size}"


def metric_rows(metrics: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One table row per metric of a judgment (``MetricDiff.to_dict()``)."""
    rows = []
    for m in metrics:
        kind = _text(m.get("kind"))
        scale = _text(m.get("scale")) or _text(m.get("toleranceType")) or "absolute"
        if scale == "shift":  # a Mann-Whitney shift is on its tolerance's scale
            scale = _text(m.get("toleranceType")) or "relative"
        verdict = _text(m.get("verdict")) or "marginal"
        lower, upper = m.get("lower"), m.get("upper")
        rows.append(
            {
                "name": _text(m.get("name")),
                "kind": kind,
                "baseline": fmt_value(m.get("baselineValue"), kind),
                "canary": fmt_value(m.get("canaryValue"), kind),
                "baseline_n": _number(m.get("baselineN")),
                "canary_n": _number(m.get("canaryN")),
                "effect": fmt_effect(m.get("estimate"), scale, kind),
                "interval": f"[{fmt_effect(lower, scale, kind)}, {fmt_effect(upper, scale, kind)}]",
                "scale": scale,
                "tolerance": _tolerance(m),
                "verdict": verdict,
                "verdict_text": VERDICTS.get(verdict, verdict),
                "reason": _text(m.get("reason")),
            }
        )
    return rows


def ramp_rows(ramp: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ramp's steps with their percent, start, end and outcome."""
    rows = []
    for i, step in enumerate(ramp):
        percent = _number(step.get("percent")) or 0.0
        outcome = _text(step.get("outcome")) or "pending"
        rows.append(
            {
                "index": i + 1,
                "percent": f"{percent:g} %",
                "promote": percent >= 100.0,
                "served": f"{min(100.0, 2 * percent):g} %",
                "min_minutes": step.get("minMinutes"),
                "min_requests": step.get("minRequests"),
                "started": _time(step.get("startedAt")),
                "ended": _time(step.get("endedAt")),
                "outcome": outcome,
                "outcome_text": OUTCOMES.get(outcome, outcome),
            }
        )
    return rows


def _judgment(j: Mapping[str, Any]) -> dict[str, Any]:
    verdict, action = _text(j.get("verdict")), _text(j.get("action"))
    percent = _number(j.get("percent"))
    return {
        "at": _time(j.get("at")),
        "step": j.get("step"),
        "percent": "–" if percent is None else f"{percent:g} %",
        "verdict": verdict,
        "verdict_text": VERDICTS.get(verdict, verdict),
        "action": action,
        "action_text": ACTIONS.get(action, action),
        "reason": _text(j.get("reason")),
        "failed": [_text(m.get("name")) for m in j.get("metrics") or []
                   if m.get("verdict") == "fail"],
    }  # fmt: skip


def _distribution(name: str, pair: Mapping[str, Any]) -> dict[str, Any]:
    """One metric's baseline and canary sketches: the chart and a few quantiles each."""
    sketches: dict[str, Sketch] = {}
    problems = []
    for arm in ("baseline", "canary"):
        raw = pair.get(arm)
        try:
            sketches[arm] = Sketch.from_dict(raw if isinstance(raw, Mapping) else {}, arm)
        except ValueError as exc:
            problems.append(str(exc))
    quantiles = []
    for p in (0.5, 0.9, 0.99):
        row: dict[str, Any] = {"p": f"p{p * 100:g}"}
        for arm, sketch in sketches.items():
            row[arm] = f"{sketch.quantile(p):.4g}" if sketch.count else "–"
        quantiles.append(row)
    counts = {arm: s.count for arm, s in sketches.items()}
    chart = adaptive_charts.cdf_chart(
        [(arm, s) for arm, s in sketches.items()],
        f"{name}: share of observations at or below each value (log scales)",
        control="baseline",
    )
    return {"name": name, "chart": chart, "quantiles": quantiles, "counts": counts,
            "problems": problems}  # fmt: skip


def _shared(distributions: Any) -> list[tuple[list[str], Mapping[str, Any]]]:
    """The distributions with metrics of one event (identical sketches) drawn once."""
    groups: list[tuple[list[str], Mapping[str, Any]]] = []
    if not isinstance(distributions, Mapping):
        return groups
    for name, pair in distributions.items():
        if not isinstance(pair, Mapping):
            continue
        same = next((g for g in groups if g[1] == pair), None)
        if same is None:
            groups.append(([str(name)], pair))
        else:
            same[0].append(str(name))
    return groups


def panel(experiment: Experiment, document: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the canary panel shows, from the canary document (None: nothing recorded yet)."""
    design = experiment.design
    assert isinstance(design, CanaryDesign)
    doc = document or {}
    ramp = doc.get("ramp")
    if not isinstance(ramp, list) or not ramp:  # no document yet: the definition's ramp
        ramp = [
            {"percent": s.percent, "minMinutes": s.min_minutes, "minRequests": s.min_requests,
             "outcome": "current" if i == design.step and doc else "pending"}
            for i, s in enumerate(design.ramp)
        ]  # fmt: skip
    judgments = [j for j in doc.get("judgments") or [] if isinstance(j, Mapping)]
    latest = judgments[-1] if judgments else None
    distributions = doc.get("distributions") or {}
    step = doc.get("step") or {}
    return {
        "interval": doc.get("intervalMinutes", design.interval_minutes),
        "step": {
            "index": step.get("index", design.step),
            "percent": step.get("percent"),
            "started": _time(step.get("startedAt")),
            "min_minutes": step.get("minMinutes"),
            "min_requests": step.get("minRequests"),
        },
        "ramp": ramp_rows(ramp),
        "latest": _judgment(latest) if latest else None,
        "metrics": metric_rows(latest.get("metrics") or []) if latest else [],
        "history": [_judgment(j) for j in reversed(judgments[-HISTORY_ROWS:])],
        "judgments": len(judgments),
        "distributions": [
            _distribution(", ".join(names), pair) for names, pair in _shared(distributions)
        ],
        "looked": document is not None,
    }
