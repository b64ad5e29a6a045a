"""Adaptive designs: canary releases (a ramp judged every interval) and multi-armed bandits.

* ``{"type": "canary", "ramp": [...], "metrics": [...], "intervalMinutes": 5}``: two variants,
  the baseline (the control) and the canary. At ramp step ``p`` percent, ``p`` percent of
  units get the canary and an equal ``p`` percent the baseline (an equal-sized baseline, as in
  Kayenta); the rest are outside the experiment's traffic and are not measured. The served
  ``trafficAllocation`` is therefore ``2p / 100`` with equal weights: raising it never moves
  an exposed unit. Steps take percents in (0, 50]; a final step of 100 means "promote" (ship
  the canary to everyone). ``step`` and ``stepStartedAt`` are the ramp's state, written by the
  canary monitor through an audited definition change.
* ``{"type": "bandit", "exploration": {...}, "updateIntervalMinutes": 60}``: the variants are
  the arms and the reward is a metric measured in a fixed window after each unit's first
  exposure. Each update writes new variant weights (a new ``weightsVersion``); units already
  exposed keep their arm through the sticky store.

docs/canary.md and docs/bandits.md describe both for users.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, TypeGuard

from pydantic import Field

from splitlab.config.errors import Problem
from splitlab.config.models_base import Model, Name, Short

#: The largest canary share of a ramp step below promotion: the baseline gets as many units.
MAX_CANARY_PERCENT = 50.0
#: A final ramp step of this percent means "promote": ship the canary to everyone.
PROMOTE_PERCENT = 100.0
MAX_RAMP_STEPS = 20
MAX_CANARY_METRICS = 50


class RampStep(Model):
    """One step of a canary ramp: the canary's share of units, and when it may advance."""

    #: The canary's share of units in percent: (0, 50], or 100 for the final promotion.
    percent: Annotated[float, Field(gt=0.0, le=100.0)]
    #: The step lasts at least this many minutes (and at least one interval). Required for
    #: every step but a final 100 (promotion).
    min_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] | None = None
    #: The step advances only when each arm has at least this many requests in the step.
    min_requests: Annotated[int, Field(ge=0)] = 0


class CanaryMetric(Model):
    """An operational metric of a canary, with its bad direction and tolerance.

    ``kind``: ``"proportion"`` (the mean of 0/1 event values, e.g. an error flag per request),
    ``"mean"`` (the mean of any numeric event value), ``"mann_whitney"`` (a location shift of
    the whole distribution, e.g. latency) or ``"quantile"`` (the ``quantile``-th quantile,
    e.g. p99 latency). Observations are the metric's events (one per request), attributed to
    the variant of their unit.
    """

    name: Name
    #: The event name in the store; defaults to the metric's name.
    event: Short | None = None
    kind: Literal["proportion", "mean", "mann_whitney", "quantile"]
    #: For ``kind: "quantile"``: the probability, e.g. 0.99 for p99.
    quantile: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    #: The direction in which a change is harm.
    bad_direction: Literal["increase", "decrease"] = "increase"
    #: The largest harm that still passes, in the bad direction (a positive number): an
    #: absolute difference, or relative to the baseline (0.1 = 10 % worse).
    tolerance: float
    tolerance_type: Literal["absolute", "relative"] = "relative"

    @property
    def event_name(self) -> str:
        return self.event or self.name


class CanaryDesign(Model):
    """A canary release: baseline vs canary, ramped step by step, judged every interval."""

    type: Literal["canary"]
    #: Minutes between two judgments (1 to 1440).
    interval_minutes: Annotated[int, Field(ge=1, le=1440)] = 5
    ramp: Annotated[list[RampStep], Field(min_length=1, max_length=MAX_RAMP_STEPS)]
    metrics: Annotated[list[CanaryMetric], Field(min_length=1, max_length=MAX_CANARY_METRICS)]
    #: The ramp's state (written by the canary monitor): the index of the current step.
    step: Annotated[int, Field(ge=0)] = 0
    #: When the current step began (ISO 8601, UTC); None until the canary is running.
    step_started_at: Short | None = None

    @property
    def canary_steps(self) -> list[RampStep]:
        """The judged steps (every step but a final promotion step of 100 %)."""
        return [s for s in self.ramp if s.percent <= MAX_CANARY_PERCENT]

    def allocation(self, step: int | None = None) -> float:
        """The served ``trafficAllocation`` at a step: twice the canary share, at most 1."""
        steps = self.canary_steps
        index = self.step if step is None else step
        if not steps:
            return 1.0
        percent = steps[min(index, len(steps) - 1)].percent
        return min(1.0, 2.0 * percent / 100.0)


class Exploration(Model):
    """The exploration floor: ``eps_t = max(minimum, initial * decay**t)`` at update ``t``."""

    initial: Annotated[float, Field(ge=0.0, le=1.0)] = 0.2
    decay: Annotated[float, Field(gt=0.0, le=1.0)] = 0.9
    #: Never below this (> 0): every arm keeps at least ``minimum / K`` of new units, so the
    #: inverse propensities stay bounded.
    minimum: Annotated[float, Field(gt=0.0, le=1.0)] = 0.02


class BanditDesign(Model):
    """A multi-armed bandit: Thompson sampling over the variants, weights updated on a clock."""

    type: Literal["bandit"]
    algorithm: Literal["thompson"] = "thompson"
    #: The reward metric's name; the primary metric when absent. It needs ``windowHours``.
    reward: Name | None = None
    #: Minutes between two weight updates (5 minutes to 7 days).
    update_interval_minutes: Annotated[int, Field(ge=5, le=7 * 24 * 60)] = 60
    #: The first this-many updates keep equal weights (burn-in).
    burn_in_updates: Annotated[int, Field(ge=0, le=1000)] = 1
    exploration: Exploration = Field(default_factory=Exploration)
    #: Posterior draws per update for P(best).
    draws: Annotated[int, Field(ge=1000, le=1_000_000)] = 10_000
    #: The version of the weights in the variants (0: the initial equal weights); written by
    #: each update through an audited definition change.
    weights_version: Annotated[int, Field(ge=0)] = 0


class IntervalMonitor(Model):
    """Opt-in: judge the guardrails every ``intervalMinutes`` between the planned looks."""

    interval_minutes: Annotated[int, Field(ge=1, le=1440)] = 15


def check_adaptive(
    raw: Mapping[str, Any], design: Mapping[str, Any], problems: list[Problem]
) -> None:
    """Cross-field rules of a canary or bandit design (read from the camelCase mapping)."""
    kind = design.get("type")
    if kind == "canary":
        _check_canary(raw, design, problems)
    elif kind == "bandit":
        _check_bandit(raw, design, problems)


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_instant(text: str) -> bool:
    """Whether `text` is an ISO-8601 date and time (what the canary monitor can read back)."""
    try:
        datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in text or " " in text.strip()


def _check_canary(
    raw: Mapping[str, Any], design: Mapping[str, Any], problems: list[Problem]
) -> None:
    variants = raw.get("variants")
    if isinstance(variants, list) and len(variants) != 2:
        problems.append(
            Problem(
                "$.variants",
                len(variants),
                "exactly 2 variants for a canary: the baseline (the control) and the canary",
            )
        )
    if isinstance(variants, list) and any(
        isinstance(v, Mapping) and v.get("weight") is not None for v in variants
    ):
        problems.append(
            Problem(
                "$.variants",
                "weights given",
                "no weights for a canary: baseline and canary get equal shares and the ramp "
                "sets how many units are in the experiment",
            )
        )
    started = design.get("stepStartedAt")
    if isinstance(started, str) and not _is_instant(started):
        problems.append(
            Problem(
                "$.design.stepStartedAt",
                started,
                "an ISO-8601 date and time such as '2026-03-01T12:00:00Z' (written by the "
                "canary monitor; leave it out for a new canary)",
            )
        )
    ramp = design.get("ramp")
    if isinstance(ramp, list):
        _check_ramp(ramp, problems)
    metrics = design.get("metrics")
    if isinstance(metrics, list):
        seen: set[str] = set()
        for i, metric in enumerate(metrics):
            if isinstance(metric, Mapping):
                _check_canary_metric(f"$.design.metrics[{i}]", metric, seen, problems)
    interval = design.get("intervalMinutes", 5)
    if isinstance(ramp, list) and _is_number(interval):
        for i, step in enumerate(ramp):
            minutes = step.get("minMinutes") if isinstance(step, Mapping) else None
            if _is_number(minutes) and minutes < interval:
                problems.append(
                    Problem(
                        f"$.design.ramp[{i}].minMinutes",
                        minutes,
                        f"at least one interval (intervalMinutes is {interval})",
                    )
                )
    step = design.get("step", 0)
    judged = (
        [
            s
            for s in ramp
            if isinstance(s, Mapping)
            and _is_number(s.get("percent"))
            and s["percent"] <= MAX_CANARY_PERCENT
        ]
        if isinstance(ramp, list)
        else []
    )
    if isinstance(step, int) and not isinstance(step, bool) and judged and step >= len(judged):
        problems.append(
            Problem(
                "$.design.step",
                step,
                f"the index of a judged ramp step, 0 to {len(judged) - 1}",
            )
        )
    allocation = raw.get("trafficAllocation")
    if judged and isinstance(step, int) and step < len(judged) and _is_number(allocation):
        expected = min(1.0, 2.0 * float(judged[step]["percent"]) / 100.0)
        if abs(float(allocation) - expected) > 1e-12:
            problems.append(
                Problem(
                    "$.trafficAllocation",
                    allocation,
                    f"{expected:g} (set by the canary ramp: step {step} is "
                    f"{judged[step]['percent']:g} % canary and as many baseline units); "
                    "leave trafficAllocation out",
                )
            )


def _check_ramp(ramp: list[Any], problems: list[Problem]) -> None:
    previous: float | None = None
    for i, step in enumerate(ramp):
        if not isinstance(step, Mapping):
            continue
        where = f"$.design.ramp[{i}]"
        percent = step.get("percent")
        last = i == len(ramp) - 1
        if _is_number(percent):
            if previous is not None and percent <= previous:
                problems.append(
                    Problem(
                        f"{where}.percent",
                        percent,
                        f"more than the previous step's {previous:g} (a ramp only goes up)",
                    )
                )
            if MAX_CANARY_PERCENT < percent < PROMOTE_PERCENT or (
                percent == PROMOTE_PERCENT and not last
            ):
                problems.append(
                    Problem(
                        f"{where}.percent",
                        percent,
                        "a share in (0, 50] (the baseline gets as many units as the canary), "
                        "or 100 as the last step (promotion)",
                    )
                )
            previous = float(percent)
        promote = _is_number(percent) and percent == PROMOTE_PERCENT and last
        if not promote and step.get("minMinutes") is None:
            problems.append(
                Problem(
                    f"{where}.minMinutes",
                    None,
                    "the step's minimum duration in minutes (every step but a final 100 % "
                    "promotion needs one)",
                )
            )
    if ramp and all(
        isinstance(s, Mapping)
        and _is_number(s.get("percent"))
        and s["percent"] > MAX_CANARY_PERCENT
        for s in ramp
    ):
        problems.append(
            Problem("$.design.ramp", len(ramp), "at least one step of at most 50 % to judge")
        )


def _check_canary_metric(
    where: str, metric: Mapping[str, Any], seen: set[str], problems: list[Problem]
) -> None:
    name = metric.get("name")
    if isinstance(name, str):
        if name in seen:
            problems.append(Problem(f"{where}.name", name, "a metric name not used before"))
        seen.add(name)
    tolerance = metric.get("tolerance")
    if _is_number(tolerance) and tolerance <= 0:
        direction = metric.get("badDirection", "increase")
        problems.append(
            Problem(
                f"{where}.tolerance",
                tolerance,
                "a positive number: the largest harm that still passes, measured in the bad "
                f"direction ({direction}); the sign is given by badDirection",
            )
        )
    kind = metric.get("kind")
    quantile = metric.get("quantile")
    if kind == "quantile" and quantile is None:
        problems.append(
            Problem(
                f"{where}.quantile", None, "a probability in (0, 1) for kind 'quantile', e.g. 0.99"
            )
        )
    if kind != "quantile" and quantile is not None:
        problems.append(
            Problem(f"{where}.quantile", quantile, "no quantile unless kind is 'quantile'")
        )
    if (
        kind == "proportion"
        and metric.get("toleranceType", "relative") == "absolute"
        and _is_number(tolerance)
        and tolerance >= 1
    ):
        problems.append(
            Problem(
                f"{where}.tolerance",
                tolerance,
                "less than 1 for an absolute tolerance on a proportion (0.03 is 3 percentage "
                "points)",
            )
        )


def _check_bandit(
    raw: Mapping[str, Any], design: Mapping[str, Any], problems: list[Problem]
) -> None:
    variants = raw.get("variants")
    if isinstance(variants, list) and len(variants) < 2:
        problems.append(
            Problem("$.variants", len(variants), "at least 2 arms (variants) for a bandit")
        )
    exploration = design.get("exploration")
    if isinstance(exploration, Mapping):
        initial = exploration.get("initial", 0.2)
        minimum = exploration.get("minimum", 0.02)
        if _is_number(initial) and _is_number(minimum) and minimum > initial:
            problems.append(
                Problem(
                    "$.design.exploration.minimum",
                    minimum,
                    f"at most exploration.initial ({initial:g}): the floor decays from "
                    "initial down to minimum",
                )
            )
    metrics = raw.get("metrics")
    if not isinstance(metrics, Mapping):
        return
    reward = design.get("reward")
    primary = metrics.get("primary")
    found: tuple[str, Mapping[str, Any]] | None = None
    if reward is None or (isinstance(primary, Mapping) and primary.get("name") == reward):
        if isinstance(primary, Mapping):
            found = ("$.metrics.primary", primary)
    else:
        for role in ("secondary", "guardrails"):
            items = metrics.get(role)
            if not isinstance(items, list):
                continue
            for i, m in enumerate(items):
                if isinstance(m, Mapping) and m.get("name") == reward:
                    if role == "guardrails":
                        problems.append(
                            Problem(
                                "$.design.reward",
                                reward,
                                "the primary or a secondary metric: a guardrail protects the "
                                "experiment and is not what a bandit optimises",
                            )
                        )
                        return
                    found = (f"$.metrics.{role}[{i}]", m)
        if found is None:
            problems.append(
                Problem("$.design.reward", reward, "the name of the primary or a secondary metric")
            )
            return
    if found is None:
        return
    where, metric = found
    if metric.get("type", "conversion") not in ("conversion", "continuous"):
        problems.append(
            Problem(
                f"{where}.type",
                metric.get("type"),
                "'conversion' or 'continuous' for a bandit's reward metric",
            )
        )
    if metric.get("windowHours") is None:
        problems.append(
            Problem(
                f"{where}.windowHours",
                None,
                "a window in hours for a bandit's reward metric: the reward is measured in "
                "that window after each unit's first exposure, and only units whose window "
                "has closed count",
            )
        )


def reward_metric_name(raw_primary: str, design: BanditDesign) -> str:
    """The name of a bandit's reward metric (the primary metric unless ``reward`` names one)."""
    return design.reward or raw_primary


__all__ = [
    "MAX_CANARY_PERCENT",
    "PROMOTE_PERCENT",
    "BanditDesign",
    "CanaryDesign",
    "CanaryMetric",
    "Exploration",
    "IntervalMonitor",
    "RampStep",
    "check_adaptive",
    "reward_metric_name",
]
