"""Always-valid inference across looks: running minimum of p-values, running intersection.

With ``sequential.method: always_valid`` the statistics engine computes, at each look, the
mSPRT p-value ``min(1, 1/Lambda_n)`` and the always-valid interval from this look's data
alone. Over a sequence of looks the anytime-valid p-value is the running minimum
``p_n = min_{m <= n} 1/Lambda_m`` and, *for a fixed level*, the running intersection of the
looks' always-valid intervals at that level is again a confidence sequence at that level
(Johari, Koomen, Pekelis & Walsh 2017, "Peeking at A/B tests", KDD, section 4; Howard,
Ramdas, McAuliffe & Sekhon 2021, "Time-uniform, nonparametric, nonasymptotic confidence
sequences", Ann. Statist. 49). The engine is stateless, so this is the ledger owner's job.

The level matters. The multiple-comparison correction over the running minima decides at one
level ``l`` (Bonferroni ``alpha/m``, Holm ``alpha/(m - R)``, BH ``R alpha/m``), which can differ
from the level each earlier look was analysed at. :func:`apply_running` therefore re-analyses
every look's stored sums at ``l`` (correction ``none``, ``alpha = l``, the same mixing ``tau``)
and intersects those intervals. Then, for each comparison,
``running p <= l  <=>  some look's interval at l excludes 0  <=>  the intersection excludes 0``,
so "significant", the adjusted p-value and the interval say the same thing (docs/statistics.md,
"One rule"). Intersecting intervals taken at different levels would be valid only at the
largest of them and could contradict the decision.

:func:`carry_forward` reads the planned looks already in the ledger (never peeks: a peek must
not influence a later decision) and keeps what a re-analysis needs: each look's number, the
information-fraction history it used and its overall sums (and, for a look stratified by
weights version, its per-version slices and versions, so that it is re-analysed the same way).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from splitlab.config import Experiment
from splitlab.stats import analyze, corrections
from splitlab.stats.analyze import at_level
from splitlab.stats.relative import Interval, excludes_zero
from splitlab.stats.results import Comparison, DirectionName, Results
from splitlab.stats.sums import ExperimentSums
from splitlab.stats.versions import VERSION_SLICE_PREFIX, WeightsVersion

#: {"looks": [{"look": n, "history": [...] | None, "sums": {...}}, ...]} (oldest first)
Carried = dict[str, Any]

RUNNING_NOTE = (
    "always-valid: p-value is the running minimum over the planned looks, and the intervals "
    "the running intersection of every look's always-valid interval at this decision's level"
)


def carry_forward(documents: list[dict[str, Any]]) -> Carried:
    """The running state after the given planned looks' ledger documents (oldest first)."""
    looks = []
    for doc in documents:
        sums = {k: v for k, v in doc["sums"].items() if k != "segments"}
        item = {"look": doc["analysisLook"], "history": doc["history"], "sums": sums}
        block = doc.get("weightsVersions")
        if block is not None:  # a look stratified by weights version: keep what it used
            segments = doc["sums"].get("segments") or {}
            sums["segments"] = {
                k: v for k, v in segments.items() if k.startswith(VERSION_SLICE_PREFIX)
            }
            item["versions"] = block["versions"]
        looks.append(item)
    return {"looks": looks}


@dataclass(frozen=True)
class _Look:
    sums: ExperimentSums
    look: int
    history: tuple[float, ...] | None
    versions: list[WeightsVersion] | None = None


def apply_running(
    results: Results,
    experiment: Experiment,
    carried: Carried,
    sums: ExperimentSums,
    history: tuple[float, ...] | None,
    versions: list[WeightsVersion] | None = None,
) -> Results:
    """Results with running minima, and intersections at the decision's level.

    ``results`` is the engine's analysis of ``sums`` at ``results.look`` with ``history``;
    unchanged unless the method is always-valid (and not Bayesian) and earlier looks exist.
    """
    ev = experiment.evaluation
    earlier = carried.get("looks", [])
    if ev.sequential.method != "always_valid" or not earlier or ev.method == "bayesian":
        return results
    looks = [
        _Look(
            ExperimentSums.from_dict(item["sums"]),
            item["look"],
            None if item["history"] is None else tuple(item["history"]),
            [WeightsVersion.from_dict(v) for v in item["versions"]] if "versions" in item else None,
        )
        for item in earlier
    ]
    looks.append(_Look(sums, results.look, history, versions))
    past = [_analyse_at(experiment, look, ev.alpha) for look in looks[:-1]]

    family: list[tuple[str, str]] = []
    running: list[float] = []
    for metric in results.metrics:
        if metric.role == "guardrail":
            continue
        for c in metric.comparisons:
            ps = [c.sequential_p_value] + [
                r.comparison(metric.name, c.variant).sequential_p_value for r in past
            ]
            known = [p for p in ps if p is not None]
            if c.estimable and known:
                family.append((metric.name, c.variant))
                running.append(min(known))
    adjusted = corrections.adjust(running, ev.correction)
    rejected = sum(1 for a in adjusted if a <= ev.alpha)
    level = corrections.interval_level(ev.correction, ev.alpha, len(family), rejected)
    if level != ev.alpha:
        past = [_analyse_at(experiment, look, level) for look in looks[:-1]]
    at_level = [*past, _analyse_at(experiment, looks[-1], level)]

    found = dict(zip(family, zip(running, adjusted, strict=True), strict=True))
    metrics = []
    for metric in results.metrics:
        comparisons = []
        for c in metric.comparisons:
            key = (metric.name, c.variant)
            if key not in found:
                comparisons.append(c)
                continue
            p, adj = found[key]
            views = [r.comparison(*key) for r in at_level]
            comparisons.append(_rebuild(views, p, adj, ev.alpha, metric.direction == "increase"))
        metrics.append(replace(metric, comparisons=tuple(comparisons)))
    return replace(results, metrics=tuple(metrics))


def _analyse_at(experiment: Experiment, look: _Look, level: float) -> Results:
    """One look's analysis with its intervals at two-sided ``level`` and the plan's ``tau``.

    With correction ``none`` and ``alpha = level`` every interval is at ``level``; ``tau`` is
    pinned (:func:`~splitlab.stats.analyze.at_level`), so the mSPRT p-value does not change.
    """
    return analyze(
        at_level(experiment, level, "none"),
        look.sums,
        look.look,
        history=look.history,
        versions=look.versions,
    )


def _rebuild(
    views: list[Comparison], p: float, adjusted: float, alpha: float, increase: bool
) -> Comparison:
    """The current look's comparison (last view) with the running values at one level."""
    current = views[-1]
    absolute = _intersect([v.absolute for v in views if v.estimable])
    relative = _intersect([v.relative for v in views if v.estimable])
    notes = tuple(n for n in current.notes if "different pivots" not in n)
    notes = (*notes, RUNNING_NOTE)
    if absolute is None:
        notes = (
            *notes,
            "the looks' always-valid intervals at this level have no value in common (an event "
            "of probability at most the level if the model holds): no interval is reported and "
            "nothing is called significant; check the data for drift",
        )
    significant = adjusted <= alpha and excludes_zero(absolute)
    direction: DirectionName = "none"
    if significant and absolute is not None:
        direction = "better" if (absolute.lower > 0) == increase else "worse"
    if relative is not None and excludes_zero(relative) != significant:
        notes = (
            *notes,
            f"the running relative interval {'excludes' if not significant else 'includes'} 0 "
            "although the comparison is "
            f"{'not ' if not significant else ''}significant: the relative intervals use "
            "different pivots near the boundary; the absolute interval is the test's own",
        )
    return replace(
        current,
        sequential_p_value=p,
        adjusted_p_value=adjusted,
        significant=significant,
        direction=direction,
        absolute=absolute,
        relative=None if absolute is None else relative,
        notes=notes,
    )


def _intersect(intervals: list[Interval | None]) -> Interval | None:
    """The running intersection; the estimate is the current (last) look's.

    None when the current look has no interval, or when the intersection is empty.
    """
    if not intervals or intervals[-1] is None:
        return None
    known = [i for i in intervals if i is not None]
    lower = max(i.lower for i in known)
    upper = min(i.upper for i in known)
    if lower > upper:
        return None
    return Interval(intervals[-1].estimate, lower, upper)
