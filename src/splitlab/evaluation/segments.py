"""Exploratory results per pre-registered segment (the article's pitfall 6).

Each value of each attribute named in ``segments`` (``region=US``, ``platform=ios``, ...) is
analysed on its own slice of the sums. Looking at many slices invites data dredging, so these
results are marked exploratory, never decide anything, and are corrected once more for the
number m of slices: Bonferroni over the slices (Bonferroni 1936; Dunn 1961), on top of the
experiment's own correction over variants and metrics.

The correction is applied by analysing each slice at family level ``alpha / m``: the
experiment's correction, sequential method and intervals then all work at that level, so
``segmentAdjustedPValue = min(1, m * p_adjusted) <= alpha`` exactly when the slice's interval
(at the within-slice level derived from ``alpha / m``) excludes 0, the engine's one rule
(docs/statistics.md). Multiplying the p-values alone would leave the intervals at ``alpha``
and let an interval exclude 0 beside ``significant: false``.
"""

from __future__ import annotations

from typing import Any

from splitlab.config import Experiment
from splitlab.stats import analyze
from splitlab.stats.analyze import at_level
from splitlab.stats.sums import ExperimentSums


def segment_results(
    experiment: Experiment,
    sums: ExperimentSums,
    look: int,
    history: tuple[float, ...] | None,
) -> dict[str, Any] | None:
    """Corrected exploratory results for the slices of the experiment's ``segments`` attributes.

    Returns None when the experiment names no segments or the sums hold none of their slices.
    """
    prefixes = tuple(f"{attribute}=" for attribute in experiment.segments)
    names = sorted(k for k in sums.segments if prefixes and k.startswith(prefixes))
    if not names:
        return None
    m = len(names)
    level = experiment.evaluation.alpha / m
    corrected = at_level(experiment, level)
    slices: dict[str, Any] = {}
    for name in names:
        data = analyze(corrected, sums, look, history=history, segment=name).to_dict()
        data.pop("decision", None)
        data["exploratory"] = True
        data["alpha"] = experiment.evaluation.alpha
        data["segmentAlpha"] = level
        for metric in data["metrics"]:
            if metric["role"] == "guardrail":
                continue
            for c in metric["comparisons"]:
                adjusted = c.get("adjustedPValue")
                c["segmentAdjustedPValue"] = None if adjusted is None else min(1.0, m * adjusted)
        slices[name] = data
    return {
        "exploratory": True,
        "correction": "bonferroni",
        "slices": m,
        "level": level,
        "note": (
            f"Exploratory: {m} segment slice(s), each analysed at alpha/{m} = {level:g} "
            f"(Bonferroni over slices, on top of the experiment's correction): p-values are "
            f"multiplied by {m} and intervals are at that level; segments never decide."
        ),
        "results": slices,
    }
