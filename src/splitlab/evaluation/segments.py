"""Exploratory results per pre-registered segment (the article's pitfall 6).

Each value of each attribute named in ``segments`` (``region=US``, ``platform=ios``, ...) is
analysed on its own slice of the sums. Looking at many slices invites data dredging, so these
results are marked exploratory, never decide anything, and their p-values are corrected once
more for the number of slices: Bonferroni over the m slices,
``p_segment = min(1, m * p_adjusted)`` (Bonferroni 1936; Dunn 1961), on top of the
experiment's own correction over variants and metrics. A segment difference is significant
only when ``p_segment <= alpha``.
"""

from __future__ import annotations

from typing import Any

from splitlab.config import Experiment
from splitlab.stats import analyze
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
    alpha = experiment.evaluation.alpha
    m = len(names)
    slices: dict[str, Any] = {}
    for name in names:
        data = analyze(experiment, sums, look, history=history, segment=name).to_dict()
        data.pop("decision", None)
        data["exploratory"] = True
        for metric in data["metrics"]:
            if metric["role"] == "guardrail":
                continue
            for c in metric["comparisons"]:
                adjusted = c.get("adjustedPValue")
                corrected = None if adjusted is None else min(1.0, m * adjusted)
                c["segmentAdjustedPValue"] = corrected
                c["significant"] = corrected is not None and corrected <= alpha
                if not c["significant"]:
                    c["direction"] = "none"
        slices[name] = data
    return {
        "exploratory": True,
        "correction": "bonferroni",
        "slices": m,
        "note": (
            f"Exploratory: {m} segment slice(s), p-values multiplied by {m} (Bonferroni) on "
            "top of the experiment's correction; segments never decide."
        ),
        "results": slices,
    }
