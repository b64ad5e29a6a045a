"""Always-valid inference across looks: running minimum of p-values, running intersection.

With ``sequential.method: always_valid`` the statistics engine computes, at each look, the
mSPRT p-value ``min(1, 1/Lambda_n)`` and the always-valid interval from this look's data
alone. Over a sequence of looks the anytime-valid p-value is the running minimum
``p_n = min_{m <= n} 1/Lambda_m`` and the anytime-valid confidence sequence is the running
intersection of the intervals (Johari, Koomen, Pekelis & Walsh 2017, "Peeking at A/B tests",
KDD, section 4; Howard, Ramdas, McAuliffe & Sekhon 2021, "Time-uniform, nonparametric,
nonasymptotic confidence sequences", Ann. Statist., for intersections of confidence
sequences). Both stay valid at any stopping time and are never less informative than the
current look alone, so the engine (stateless) leaves this to the ledger's owner.

:func:`carry_forward` reads the planned looks already in the ledger (never peeks: a peek must
not influence a later decision), and :func:`apply_running` rebuilds the comparisons: the
sequential p-value becomes the running minimum, the multiple-comparison correction is applied
again over the family, significance and direction follow the adjusted p-value, and the
absolute and relative intervals become the running intersections.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from splitlab.config import Experiment
from splitlab.stats import corrections
from splitlab.stats.relative import Interval
from splitlab.stats.results import Comparison, Results

#: metric -> variant -> {"p": running minimum, "absolute": [lo, hi], "relative": [lo, hi]}
Carried = dict[str, dict[str, dict[str, Any]]]


def carry_forward(documents: list[dict[str, Any]]) -> Carried:
    """The running state after the given planned looks' results (oldest first)."""
    state: Carried = {}
    for doc in documents:
        for metric in doc["results"]["metrics"]:
            for c in metric["comparisons"]:
                _merge(state.setdefault(metric["name"], {}).setdefault(c["variant"], {}), c)
    return state


def _merge(slot: dict[str, Any], c: dict[str, Any]) -> None:
    p = c.get("sequentialPValue")
    if p is not None:
        slot["p"] = min(p, slot.get("p", p))
    for key in ("absolute", "relative"):
        interval = c.get(key)
        if interval is None or interval["lower"] is None or interval["upper"] is None:
            continue
        lo, hi = interval["lower"], interval["upper"]
        if key in slot:
            lo, hi = max(lo, slot[key][0]), min(hi, slot[key][1])
        if lo <= hi:
            slot[key] = [lo, hi]


def apply_running(results: Results, experiment: Experiment, carried: Carried) -> Results:
    """Results with running minima and intersections (unchanged unless always-valid)."""
    ev = experiment.evaluation
    if ev.sequential.method != "always_valid" or not carried or ev.method == "bayesian":
        return results
    slots: dict[tuple[str, str], dict[str, Any]] = {}
    family: list[tuple[str, str, float]] = []
    for metric in results.metrics:
        for c in metric.comparisons:
            slot = dict(carried.get(metric.name, {}).get(c.variant, {}))
            if c.sequential_p_value is not None:
                slot["p"] = min(c.sequential_p_value, slot.get("p", c.sequential_p_value))
            slots[(metric.name, c.variant)] = slot
            if metric.role != "guardrail" and c.estimable and "p" in slot:
                family.append((metric.name, c.variant, slot["p"]))
    adjusted = dict(
        zip(
            ((m, v) for m, v, _ in family),
            corrections.adjust([p for _, _, p in family], ev.correction),
            strict=True,
        )
    )
    metrics = []
    for metric in results.metrics:
        comparisons = []
        for c in metric.comparisons:
            key = (metric.name, c.variant)
            if metric.role == "guardrail" or key not in adjusted:
                comparisons.append(c)
                continue
            comparisons.append(
                _rebuild(c, slots[key], adjusted[key], ev.alpha, metric.direction == "increase")
            )
        metrics.append(replace(metric, comparisons=tuple(comparisons)))
    return replace(results, metrics=tuple(metrics))


def _rebuild(
    c: Comparison, slot: dict[str, Any], adjusted: float, alpha: float, increase: bool
) -> Comparison:
    significant = adjusted <= alpha
    estimate = c.absolute.estimate if c.absolute is not None else 0.0
    good = (estimate > 0) == increase and estimate != 0
    notes = c.notes
    absolute, relative = c.absolute, c.relative
    if absolute is not None and "absolute" in slot:
        absolute = _intersect(absolute, slot["absolute"])
    if relative is not None and "relative" in slot:
        relative = _intersect(relative, slot["relative"])
    if (absolute, relative, slot.get("p")) != (c.absolute, c.relative, c.sequential_p_value):
        notes = (
            *notes,
            "always-valid: p-value is the running minimum and intervals the running "
            "intersection over the planned looks",
        )
    return replace(
        c,
        sequential_p_value=slot.get("p"),
        adjusted_p_value=adjusted,
        significant=significant,
        direction=("better" if good else "worse") if significant else "none",
        absolute=absolute,
        relative=relative,
        notes=notes,
    )


def _intersect(current: Interval, previous: list[float]) -> Interval:
    lower, upper = max(current.lower, previous[0]), min(current.upper, previous[1])
    if lower > upper:
        return current
    return Interval(current.estimate, lower, upper)
