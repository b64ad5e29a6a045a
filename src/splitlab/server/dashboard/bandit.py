"""The bandit panel: weights over time, each arm's posterior, regret, SRM and the readout.

Everything is read from the bandit document of ``GET /v1/experiments/{id}/bandit`` (the
updates, oldest first, each with every arm's units, reward mean, posterior, probability of
being best and new weight, and that update's sample ratio check; the readout) and turned into
plain values for ``_bandit.html``. Nothing is recomputed but the posterior's 95 % credible
interval when the update recorded only the posterior's parameters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from scipy import stats

from splitlab.config import Experiment
from splitlab.config.adaptive import BanditDesign
from splitlab.server.dashboard import adaptive_charts

#: Said on the panel, in the list's tooltip and the docs, in these words.
NOT_A_TEST = (
    "A bandit optimises reward while it runs rather than testing a hypothesis: it moves "
    "traffic towards the arm that looks best, so its comparisons are estimates for "
    "information, not a controlled test with a false-positive rate; confirm a decision "
    "that matters with a classic A/B test."
)


def label(experiment: Experiment) -> str:
    """The bandit in a few words for the list: ``bandit: 4 arms, weights v5``."""
    design = experiment.design
    assert isinstance(design, BanditDesign)
    return f"bandit: {len(experiment.variant_names)} arms, weights v{design.weights_version}"


def summary(experiment: Experiment, document: Mapping[str, Any] | None) -> dict[str, str]:
    """The headline, reason, progress line and tone of the list and the page's top card:
    where the latest weights send new units."""
    design = experiment.design
    assert isinstance(design, BanditDesign)
    reward = design.reward or experiment.metrics.primary.name
    why = f"Optimises {reward}; a bandit does not test a hypothesis."
    updates = [u for u in (document or {}).get("updates") or [] if isinstance(u, Mapping)]
    arms = (updates[-1].get("arms") or {}) if updates else {}
    weights = {a: w for a, d in arms.items()
               if isinstance(d, Mapping) and (w := _number(d.get("weight"))) is not None}  # fmt: skip
    units = sum(_number(d.get("units")) or 0 for d in arms.values() if isinstance(d, Mapping))
    progress = f"{len(updates)} update{'s' if len(updates) != 1 else ''} · {units:,.0f} units"
    out = {"why": why, "progress": progress, "tone": "continue"}
    if not weights:
        return {**out, "headline": "No weight update yet"}
    top = max(weights, key=lambda a: weights[a])
    version = (document or {}).get("weightsVersion", design.weights_version)
    return {**out, "headline": f"Weights v{version}: {top} gets {weights[top] * 100:.0f}%"}


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _time(value: Any) -> str:
    text = "" if value is None else str(value)
    return text[:16].replace("T", " ")


def posterior_interval(posterior: Mapping[str, Any]) -> tuple[float, float, float] | None:
    """The posterior's mean and equal-tailed 95 % credible interval.

    Read as recorded when the update gives ``mean``, ``lower`` and ``upper``; otherwise from
    a Beta(``alpha``, ``beta``) (a conversion reward) or a normal(``mean``, ``sd``) posterior
    (a continuous reward), with scipy's quantile functions.
    """
    mean = _number(posterior.get("mean"))
    lower, upper = _number(posterior.get("lower")), _number(posterior.get("upper"))
    if mean is not None and lower is not None and upper is not None:
        return mean, lower, upper
    a, b = _number(posterior.get("alpha")), _number(posterior.get("beta"))
    if a is not None and b is not None and a > 0 and b > 0:
        low, high = stats.beta.ppf([0.025, 0.975], a, b)
        return a / (a + b), float(low), float(high)
    sd = _number(posterior.get("sd"))
    if mean is not None and sd is not None and sd >= 0:
        half = float(stats.norm.ppf(0.975)) * sd
        return mean, mean - half, mean + half
    return None


def _percent(value: Any, digits: int = 3) -> str:
    number = _number(value)
    return "–" if number is None else f"{number * 100:.{digits}g}%"


def arm_rows(update: Mapping[str, Any], arms: Sequence[str]) -> list[dict[str, Any]]:
    """The latest update's arms: units, reward mean, posterior, P(best) and weight."""
    recorded = update.get("arms") or {}
    names = list(arms) + [a for a in recorded if a not in arms]
    best = max(names, key=lambda a: _number((recorded.get(a) or {}).get("pBest")) or -1.0)
    rows = []
    for arm in names:
        data = recorded.get(arm)
        if not isinstance(data, Mapping):
            continue
        interval = posterior_interval(data.get("posterior") or {})
        units = _number(data.get("units"))
        rows.append(
            {
                "arm": arm,
                "units": None if units is None else int(units),
                "reward": _number(data.get("rewardMean")),
                "posterior": interval,
                "p_best": _number(data.get("pBest")),
                "p_best_text": _percent(data.get("pBest")),
                "weight": _number(data.get("weight")),
                "weight_text": _percent(data.get("weight")),
                "best": arm == best and _number(data.get("pBest")) is not None,
            }
        )
    return rows


def _srm(update: Mapping[str, Any]) -> dict[str, Any]:
    srm = update.get("srm") or {}
    counts = srm.get("counts") or {}
    expected = srm.get("expected") or {}
    return {
        "version": update.get("version"),
        "at": _time(update.get("at")),
        "p_value": _number(srm.get("pValue")),
        "detected": bool(srm.get("detected")),
        "counts": ", ".join(
            f"{arm} {int(c):,}" + (f" (expected {float(expected[arm]):,.0f})"
                                   if _number(expected.get(arm)) is not None else "")
            for arm, c in counts.items() if _number(c) is not None
        ),
    }  # fmt: skip


def _regret(value: Any) -> list[tuple[str, str]]:
    """The readout's regret as (label, value) pairs: a number, or an object of numbers."""
    number = _number(value)
    if number is not None:
        return [("", f"{number:,.4g}")]
    if isinstance(value, Mapping):
        return [
            (str(k), f"{v:.4g}" if _number(v) is not None else str(v))
            for k, v in value.items()
            if v is not None
        ]
    return []


def panel(experiment: Experiment, document: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the bandit panel shows, from the bandit document (None: nothing recorded yet)."""
    design = experiment.design
    assert isinstance(design, BanditDesign)
    doc = document or {}
    updates = [u for u in doc.get("updates") or [] if isinstance(u, Mapping)]
    arms = experiment.variant_names
    series = []
    for arm in arms:
        points = [
            adaptive_charts.WeightPoint(int(u.get("version") or 0), _time(u.get("at"))[5:],
                                        float(u["arms"][arm]["weight"]))
            for u in updates
            if isinstance((u.get("arms") or {}).get(arm), Mapping)
            and _number(u["arms"][arm].get("weight")) is not None
        ]  # fmt: skip
        series.append((arm, points))
    latest = updates[-1] if updates else None
    rows = arm_rows(latest, arms) if latest else []
    posteriors = []
    for r in rows:
        if r["posterior"] is not None:
            mean, lower, upper = r["posterior"]
            posteriors.append(adaptive_charts.Posterior(r["arm"], mean, lower, upper, r["best"]))
    readout = doc.get("readout") or {}
    comparisons = [
        {
            "arm": str(c.get("arm", "")),
            "control": str(c.get("control", "")),
            "estimate": _number(c.get("estimate")),
            "lower": _number(c.get("lower")),
            "upper": _number(c.get("upper")),
        }
        for c in readout.get("comparisons") or []
        if isinstance(c, Mapping)
    ]
    reward = design.reward or experiment.metrics.primary.name
    return {
        "reward": reward,
        "interval": design.update_interval_minutes,
        "burn_in": design.burn_in_updates,
        "weights_version": doc.get("weightsVersion", design.weights_version),
        "updates": len(updates),
        "latest": {
            "version": latest.get("version"),
            "at": _time(latest.get("at")),
            "cutoff": _time(latest.get("cutoff")),
            "epsilon": _number(latest.get("epsilon")),
            "burn_in": bool(latest.get("burnIn")),
            "seed": latest.get("seed"),
        }
        if latest
        else None,
        "arms": rows,
        "weights_chart": adaptive_charts.weights_chart(
            series,
            "Weight of each arm at every update (share of new units)",
            control=experiment.control,
        ),
        "posterior_chart": adaptive_charts.posterior_chart(
            posteriors, f"Posterior mean of {reward} and 95 % credible interval"
        ),
        "srm": [_srm(u) for u in reversed(updates)],
        "readout": {
            "method": str(readout.get("method") or ""),
            "comparisons": comparisons,
            "regret": _regret(readout.get("regret")),
            "note": str(readout.get("note") or ""),
        },
        "not_a_test": NOT_A_TEST,
        "looked": document is not None,
    }
