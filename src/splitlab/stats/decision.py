"""From results to one decision, in a fixed order that a product manager can follow.

1. Data quality and SRM: any finding halts the analysis (nothing else can be trusted).
2. Guardrails: a breached guardrail whose action is ``rollback`` rolls the experiment back.
3. minSampleSize: below the planned units per variant the answer is ``continue``.
4. The primary metric in its wanted direction (never the smallest p-value regardless of sign,
   the article's defect 12): a significantly better variant whose guardrails all passed is
   shipped; at the last planned look with no such variant the experiment stops (no effect).
   A sentence that calls a difference significant quotes the interval of that same test.
5. Otherwise: continue.
"""

from __future__ import annotations

from collections.abc import Sequence

from splitlab.config import Experiment
from splitlab.stats.results import Comparison, Decision, Results


def _fmt(x: float | None, digits: int = 4) -> str:
    return "n/a" if x is None else f"{x:.{digits}g}"


def _pct(x: float) -> str:
    return f"{x * 100:+.2f}%"


def sentence(text: str) -> str:
    """The text with a full stop at its end, unless it already ends a sentence."""
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _effect(c: Comparison) -> str:
    """The effect as the test saw it: the difference with its own interval, then the lift.

    "Significant" is decided on the difference, and its interval is at the level of that
    decision, so it is the interval quoted; the relative lift follows as a point estimate
    (its delta-method interval uses another pivot and may disagree near the boundary).
    """
    if c.absolute is None:
        return "an effect that could not be estimated"
    text = (
        f"difference {c.absolute.estimate:+.4g} (interval {c.absolute.lower:+.4g} "
        f"to {c.absolute.upper:+.4g})"
    )
    if c.relative is not None:
        text += f", {_pct(c.relative.estimate)} relative to control"
    return text


def decide(results: Results, experiment: Experiment, data_quality: Sequence[str] = ()) -> Decision:
    """The decision for these results; `data_quality` adds findings that halt the experiment."""
    if data_quality:
        return Decision("halt", None, tuple(sentence(f) for f in data_quality))
    srm = results.srm
    if srm.detected:
        counts = ", ".join(f"{k} {v:g}" for k, v in srm.counts.items())
        shares = ", ".join(f"{k} {v:.0%}" for k, v in srm.expected_shares.items())
        return Decision(
            "halt",
            None,
            (
                f"Sample ratio mismatch: units split as {counts} where the weights expect "
                f"{shares} (chi-square p = {_fmt(srm.p_value, 3)}, below {srm.threshold:g}), "
                "so assignment or tracking is broken and no metric can be trusted.",
            ),
        )

    reasons: list[str] = []
    breaches: list[str] = []
    unsafe: dict[str, list[str]] = {}
    for metric in results.metrics:
        if metric.role != "guardrail":
            continue
        for c in metric.comparisons:
            g = c.guardrail
            if g is None:
                continue
            if g.verdict == "breached":
                text = f"Guardrail {metric.name} is breached by {c.variant}: {g.reason}"
                if g.action == "rollback":
                    breaches.append(sentence(text))
                else:
                    reasons.append(sentence(text + " (alert only)"))
            if g.verdict != "passed":
                unsafe.setdefault(c.variant, []).append(metric.name)
    if breaches:
        return Decision("rollback", None, tuple(breaches + reasons))

    planned = experiment.evaluation.min_sample_size
    smallest = min(results.units.values(), default=0.0)
    noun = "clusters" if experiment.is_cluster else "cells" if experiment.is_switchback else "units"
    where = f"look {results.look} of {results.max_peeks}"
    if smallest < planned:
        reasons.append(
            f"The smallest arm has {smallest:g} of the {planned} planned {noun} per variant "
            f"({where}), so it is too early to decide; keep collecting data."
        )
        if results.look >= results.max_peeks:
            reasons.append(
                "This was the last planned look: extend the plan (allowExtraLooks) or stop "
                "without a conclusion."
            )
        return Decision("continue", None, tuple(reasons))

    primary = next(m for m in results.metrics if m.role == "primary")
    better = [c for c in primary.comparisons if c.significant and c.direction == "better"]
    worse = [c for c in primary.comparisons if c.significant and c.direction == "worse"]
    for c in worse:
        reasons.append(
            f"{c.variant} is significantly worse than control on {primary.name}: {_effect(c)}."
        )
    if better:
        sign = 1.0 if primary.direction == "increase" else -1.0
        best = max(better, key=lambda c: sign * (c.absolute.estimate if c.absolute else 0.0))
        blocked = unsafe.get(best.variant, [])
        win = (
            f"{best.variant} is significantly better than control on {primary.name}, "
            f"the primary metric: {_effect(best)}, adjusted p = {_fmt(best.adjusted_p_value, 3)}."
        )
        if not blocked:
            return Decision("ship", best.variant, (win, *reasons))
        names = ", ".join(blocked)
        reasons.insert(
            0,
            f"{win[:-1]}, but guardrail(s) {names} are not yet shown to be safe for it, "
            "so keep collecting data.",
        )
        return Decision("continue", None, tuple(reasons))
    if results.final_look:
        reasons.insert(
            0,
            f"At the final planned look ({where}) no variant is significantly better than "
            f"control on {primary.name}; stop the experiment and keep control.",
        )
        return Decision("stop", None, tuple(reasons))
    reasons.insert(
        0,
        f"No variant is significantly better than control on {primary.name} yet ({where}); "
        "keep collecting data.",
    )
    return Decision("continue", None, tuple(reasons))
