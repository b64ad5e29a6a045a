"""Plain-language text for people who are not statisticians: definitions and decisions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from splitlab.config import Experiment, MetricType
from splitlab.server.dashboard.progress import sample_noun

_METHODS = {
    "frequentist_t_test": "a Welch t-test",
    "frequentist_z_test": "a z-test",
    "bayesian": "a Bayesian model",
}
_CORRECTIONS = {
    "bonferroni": "Bonferroni correction across comparisons",
    "holm": "Holm correction across comparisons",
    "benjamini_hochberg": "Benjamini-Hochberg false-discovery control across comparisons",
    "none": "no correction across comparisons",
}
_SEQUENTIAL = {
    "alpha_spending": "alpha spending ({spending}) so that looking early does not inflate "
    "false positives",
    "always_valid": "always-valid (mSPRT) intervals, safe to check at any time",
    "none": "no adjustment for repeated looks",
}
_HEADLINES = {
    "continue": "Keep running",
    "ship": "Ship {variant}",
    "stop": "Stop: no meaningful difference",
    "rollback": "Roll back",
    "halt": "Halted: the data cannot be trusted yet",
    "peek": "Read-only peek",
}


def _percent(value: float) -> str:
    return f"{value * 100:.4g}%"


def _list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _rule(entry: str) -> str:
    attribute, _, value = entry.partition(":")
    return f"{attribute} = {value}"


def _metric_kind(metric_type: MetricType, switchback: bool = False) -> str:
    if switchback:  # a switchback's outcomes are per (unit, period) cell
        return {
            MetricType.CONVERSION: "users who do it at least once, per cell",
            MetricType.CONTINUOUS: "average per cell",
            MetricType.RATIO: "ratio of two per-cell totals",
            MetricType.QUANTILE: "a quantile of the values (not analysed per cell)",
            MetricType.RETENTION: "share of units back in the retention window",
            MetricType.TIME_TO_EVENT: "mean hours without the event up to the horizon",
        }[metric_type]
    return {
        MetricType.CONVERSION: "share of units who do it at least once",
        MetricType.CONTINUOUS: "average per unit",
        MetricType.RATIO: "ratio of two per-unit totals",
        MetricType.QUANTILE: "a quantile of the values (e.g. p95)",
        MetricType.RETENTION: "share of eligible units with an event in their retention window",
        MetricType.TIME_TO_EVENT: "restricted mean hours without the event, up to the horizon",
    }[metric_type]


def _method(e: Experiment) -> str:
    """The test the design is analysed with, in a few words."""
    d = e.design
    if d is None:
        return _METHODS[e.evaluation.method]
    if d.type == "cluster":
        return (
            "a cluster-robust (CR1) t-test on cluster totals, with G − 1 degrees of freedom "
            "(G = clusters)"
        )
    if d.type == "canary":
        return (
            "per interval: Mann–Whitney U, quantile and mean differences against tolerances "
            "(non-inferiority), judged with always-valid intervals"
        )
    if d.type == "bandit":
        return "Thompson sampling; the readout uses batched studentised estimates"
    if d.type == "holdout":
        return "the classic analysis of the held-out group against everyone else"
    if d.estimator == "regression":
        return (
            "a regression of the cell outcome on the variant with period fixed effects and "
            "unit-clustered (CR1) standard errors, t-test with G − 1 degrees of freedom "
            "(G = switchback units)"
        )
    return "a Horvitz–Thompson estimate over the cells with a z-test"


def describe(experiment: Experiment) -> list[str]:
    """The definition as a few plain sentences."""
    e = experiment
    others = [v for v in e.variant_names if v != e.control]
    weights = dict(zip(e.variant_names, e.weights, strict=True))
    split = ", ".join(f"{name} {_percent(w)}" for name, w in weights.items())
    lines = [
        f"Compares {_list(others)} against the control “{e.control}”, splitting units "
        f"{split}, for {_percent(e.traffic_allocation)} of eligible units "
        f"(the unit is the “{e.assignment.hash_key}” attribute).",
    ]
    design = _design(e)
    if design:
        lines.append(design)
    t = e.targeting
    if t.include or t.exclude or t.condition:
        parts = []
        if t.include:
            parts.append("only units with " + _list([_rule(r) for r in t.include]))
        if t.exclude:
            parts.append("never units with " + " or ".join(_rule(r) for r in t.exclude))
        if t.condition:
            parts.append("a targeting condition applies")
        lines.append("Eligible: " + "; ".join(parts) + ".")
    primary = e.metrics.primary
    lines.append(
        f"Success means “{primary.name}” ({_metric_kind(primary.type, e.is_switchback)}) should "
        f"{primary.direction.value}."
    )
    if e.metrics.secondary:
        names = _list([f"“{m.name}”" for m in e.metrics.secondary])
        lines.append(f"Also watched, as context only: {names}.")
    for g in e.metrics.guardrails:
        size = _percent(g.threshold) if g.threshold_type == "relative" else f"{g.threshold:g}"
        worse = "rise" if g.direction.value == "decrease" else "fall"
        act = "roll back" if g.action == "rollback" else "raise an alert"
        lines.append(
            f"Guardrail: if “{g.name}” is shown to {worse} by more than {size}"
            f"{' (relative)' if g.threshold_type == 'relative' else ''} in any variant, {act}."
        )
    adaptive = _adaptive_analysis(e)
    if e.is_bandit:  # no planned looks: the classic look refuses a bandit
        return lines + adaptive
    lines += adaptive
    ev = e.evaluation
    sequential = _SEQUENTIAL[ev.sequential.method].format(
        spending=ev.sequential.spending.replace("obrien_fleming", "O'Brien-Fleming")
    )
    analysed = (  # a canary's planned looks are the classic analysis beside the monitor
        f"Its planned looks are analysed with {_METHODS[ev.method]}"
        if e.is_canary
        else f"Analysed with {_method(e)}"
    )
    lines.append(
        f"{analysed} at a {_percent(ev.alpha)} false-positive rate, "
        f"{_CORRECTIONS[ev.correction]}, in at most {ev.max_peeks} looks "
        f"(schedule {ev.schedule}) with {sequential}; planned sample "
        f"{ev.min_sample_size:,} {sample_noun(e)} per variant."
    )
    rb = e.rollback
    if rb.enabled and rb.conditions:
        why = _list([c.replace("_", " ") for c in rb.conditions])
        lines.append(f"Rolls back automatically on {why}.")
    if e.is_holdout:  # nothing to ship: its looks report, and a person stops it
        lines.append("Its looks only report; a person stops it at its planned end.")
    elif not e.is_canary:  # the canary monitor promotes a canary itself
        lines.append(
            "A winner is shipped automatically."
            if rb.auto_deploy
            else "A winner is proposed; a person confirms before it ships."
        )
    return lines


_CANARY_KINDS = {
    "proportion": "rates",
    "mean": "means",
    "mann_whitney": "whole distributions (Mann–Whitney U)",
    "quantile": "quantiles",
}


def _adaptive_analysis(e: Experiment) -> list[str]:
    """How a canary or a bandit is judged and acted on (empty for the other designs).

    A bandit takes no planned looks at all and a canary is promoted by its monitor, not by a
    person confirming a winner, so the classic sentences about those would mislead here.
    """
    d = e.design
    if d is None:
        return []
    if d.type == "canary":
        steps, metrics = len(d.canary_steps), len(d.metrics)
        kinds = _list(list(dict.fromkeys(_CANARY_KINDS[m.kind] for m in d.metrics)))
        return [
            f"Judged after every interval on {kinds} against each metric's tolerance "
            f"(non-inferiority), with always-valid intervals at a "
            f"{_percent(e.evaluation.alpha)} false-positive rate over the whole ramp, split "
            f"over its {steps} judged step{'s' if steps != 1 else ''} and {metrics} "
            f"metric{'s' if metrics != 1 else ''} (Bonferroni).",
            "The canary monitor advances the ramp, promotes the canary (everyone gets it) "
            "and rolls it back on its own; no person needs to confirm.",
        ]
    if d.type == "bandit":
        reward = d.reward or e.metrics.primary.name
        return [
            f"Every {_minutes(d.update_interval_minutes)} Thompson sampling moves new units "
            f"towards the arm with the best “{reward}”, keeping an exploration floor of "
            f"{_percent(d.exploration.minimum)} shared by the arms.",
            "Its readout (each arm against the control, batched OLS) is an estimate for "
            "information: no look, ship or rollback decision is taken from a bandit's data.",
        ]
    return []


def _minutes(minutes: int) -> str:
    return _seconds(minutes * 60)


def _design(e: Experiment) -> str:
    """The design in one sentence (empty for the classic design)."""
    d = e.design
    if d is None:
        return ""
    if d.type == "cluster":
        return (
            f"Cluster design: whole “{e.assignment.hash_key}” clusters are randomised and "
            f"the metrics are measured per “{d.analysis_unit}”, analysed on cluster totals."
        )
    if d.type == "canary":
        return (
            f"Canary release: the ramp {' → '.join(f'{s.percent:g} %' for s in d.ramp)} "
            f"is judged every {d.interval_minutes} minutes."
        )
    if d.type == "bandit":
        return (
            "Multi-armed bandit: the weights follow Thompson sampling (weights version "
            f"{d.weights_version}); it optimises reward rather than testing a hypothesis."
        )
    if d.type == "holdout":
        scope = ", ".join(d.scope.tags) if d.scope is not None else "every experiment"
        return (
            f"Holdout: {d.percent:g} % of the units get control in every covered experiment "
            f"(scope: {scope}); its results compare them with everyone else."
        )
    unit = f"each “{d.unit}” value" if d.unit else "all traffic (one global unit)"
    return (
        f"Switchback design: {unit} switches variant every {_seconds(d.period_seconds)}; "
        f"the first {_seconds(d.burn_in_seconds)} of every period are left out."
    )


def _seconds(seconds: int) -> str:
    for size, name in ((86_400, "day"), (3_600, "hour"), (60, "minute")):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {name}{'s' if count != 1 else ''}" if count != 1 else name
    return f"{seconds} seconds"


def headline(decision: Mapping[str, Any] | None, status: str | None = None) -> str:
    """A few words naming the decision (``Ship variant-a``, ``Keep running``, ...).

    A ship or stop that the policy only proposed (the experiment is still running) says so.
    """
    if not decision:
        return "No look yet"
    action = str(decision.get("action", ""))
    text = _HEADLINES.get(action, action).format(variant=decision.get("variant") or "")
    if action in {"ship", "stop"} and status in {"running", "paused"}:
        text += " (proposed: a person confirms)"
    return text


def why(decision: Mapping[str, Any] | None) -> str:
    """The decision's main reason: one plain sentence."""
    if not decision:
        return "No look has been taken yet; the first runs on the experiment's schedule."
    reasons = decision.get("reasons") or []
    return str(reasons[0]) if reasons else "No reason was recorded."
