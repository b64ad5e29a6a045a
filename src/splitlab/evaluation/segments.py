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
from splitlab.stats import analyze, msprt
from splitlab.stats.sums import ExperimentSums


def segment_level_experiment(experiment: Experiment, slices: int) -> Experiment:
    """The definition with family level ``alpha / slices`` (and the plan's mSPRT ``tau``).

    ``tau``'s default depends on alpha, so it is pinned to the experiment's own value: the
    slices are tested with the same mixture as the whole experiment.
    """
    ev = experiment.evaluation
    seq = ev.sequential
    tau = (
        seq.tau
        if seq.tau is not None
        else msprt.default_tau(ev.alpha, ev.power, ev.min_sample_size)
    )
    return experiment.model_copy(
        update={
            "evaluation": ev.model_copy(
                update={
                    "alpha": ev.alpha / slices,
                    "sequential": seq.model_copy(update={"tau": tau}),
                }
            )
        }
    )


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
    corrected = segment_level_experiment(experiment, m)
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
