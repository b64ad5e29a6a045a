"""How a canary is judged: per metric an effect, an always-valid interval and a verdict.

``judge`` takes one ramp step's intervals (oldest first, each ``{variant: IntervalArm}``)
and returns a :class:`CanaryJudgment`. Per metric:

* PASS: shown within tolerance. The interval's bound on the harmful side is inside the
  tolerance (non-inferiority), so a step with too little data cannot pass.
* FAIL: shown worse than the tolerance. The bound on the good side is beyond it.
* MARGINAL: neither yet (keep waiting), or the data cannot be judged (the reason says why).

The judgment fails if any metric fails, passes if all pass, and is marginal otherwise.
Intervals are confidence sequences (:mod:`splitlab.stats.canary_boundary`) at level
``alpha / (judged steps * metrics)``: any number of looks at any number of steps keeps the
chance of a false rollback, and of promoting a canary worse than a tolerance, at most
``alpha``. docs/canary.md ("How a canary is judged") states the method for users.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from splitlab.config.adaptive import CanaryDesign, CanaryMetric
from splitlab.stats import canary_boundary as cb
from splitlab.stats import canary_means, canary_ranks
from splitlab.stats.errors import StatsError
from splitlab.stats.intervals import IntervalArm
from splitlab.stats.quantile import ClusteredSums
from splitlab.stats.sketch import Sketch

Verdict = Literal["pass", "fail", "marginal"]
Scale = Literal["absolute", "relative", "shift"]

#: Verdict codes of :func:`verdict_codes` (vectorised form).
FAIL, MARGINAL, PASS = -1, 0, 1


@dataclass(frozen=True, slots=True)
class MetricDiff:
    """One metric's effect (canary against baseline), its interval and verdict."""

    name: str
    kind: str
    verdict: Verdict
    estimate: float | None
    lower: float | None
    upper: float | None
    scale: Scale
    tolerance: float
    tolerance_type: str
    bad_direction: str
    baseline_value: float | None
    canary_value: float | None
    baseline_n: int
    canary_n: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "verdict": self.verdict,
            "estimate": self.estimate,
            "lower": self.lower,
            "upper": self.upper,
            "scale": self.scale,
            "tolerance": self.tolerance,
            "toleranceType": self.tolerance_type,
            "badDirection": self.bad_direction,
            "baselineValue": self.baseline_value,
            "canaryValue": self.canary_value,
            "baselineN": self.baseline_n,
            "canaryN": self.canary_n,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class CanaryJudgment:
    """The step's verdict over all metrics, and the level each metric's sequence uses."""

    verdict: Verdict
    metrics: list[MetricDiff]
    alpha_per_metric: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "metrics": [m.to_dict() for m in self.metrics],
            "alphaPerMetric": self.alpha_per_metric,
        }


@dataclass(frozen=True, slots=True)
class Effect:
    """A kind's estimate and interval (at the sequence's level), and each arm's value."""

    estimate: float
    lower: float
    upper: float
    baseline_value: float | None
    canary_value: float | None


def verdict_codes(
    lower: ArrayLike, upper: ArrayLike, tolerance: float, bad_direction: str
) -> NDArray[np.int64]:
    """PASS / FAIL / MARGINAL for effects signed canary minus baseline (NaN: MARGINAL).

    Harm is an increase beyond ``+tolerance`` (or a decrease beyond ``-tolerance``).
    """
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    with np.errstate(invalid="ignore"):
        if bad_direction == "increase":
            passed, failed = hi < tolerance, lo > tolerance
        else:
            passed, failed = lo > -tolerance, hi < -tolerance
    return np.where(failed, FAIL, np.where(passed, PASS, MARGINAL)).astype(np.int64)


def overall(verdicts: Sequence[str]) -> Verdict:
    if any(v == "fail" for v in verdicts):
        return "fail"
    if verdicts and all(v == "pass" for v in verdicts):
        return "pass"
    return "marginal"


def judge(
    design: CanaryDesign,
    data: Mapping[str, Sequence[Mapping[str, IntervalArm]]],
    *,
    alpha: float,
    step: int,
    baseline: str,
    canary: str,
    step_totals: Mapping[str, Mapping[str, IntervalArm]] | None = None,
    clustered: Mapping[str, Mapping[str, ClusteredSums]] | None = None,
) -> CanaryJudgment:
    """Judge ramp step ``step`` (an index into ``design.canary_steps``) from its intervals.

    ``step_totals[metric][variant]``: the step's events grouped by unit over the whole step (the
    store's step totals); with them a proportion's or mean's variance treats units, not
    (unit, interval) pairs, as the independent observations. ``clustered[metric][variant]``:
    a quantile's per-unit counts at the arm's step quantile (the clustered correction).
    Without them the events of different intervals (proportion, mean) or all events
    (quantile) are treated as independent, which understates the variance when a unit sends
    many requests."""
    steps = design.canary_steps
    if not (isinstance(alpha, float | int) and 0.0 < alpha < 1.0):
        raise StatsError(f"alpha: expected a level in (0, 1) (got {alpha!r})")
    if not 0 <= step < len(steps):
        raise StatsError(
            f"step: expected the index of a judged ramp step, 0 to {len(steps) - 1} (got {step!r})"
        )
    if baseline == canary:
        raise StatsError(f"canary: expected a variant other than the baseline (got {canary!r})")
    level = cb.alpha_per_metric(float(alpha), len(steps), len(design.metrics))
    target = cb.target_effective_n(steps[step].min_requests)
    diffs = [
        judge_metric(
            metric, data.get(metric.name, ()), level, target, baseline, canary,
            step_arms=(step_totals or {}).get(metric.name),
            clustered=(clustered or {}).get(metric.name),
        )
        for metric in design.metrics
    ]  # fmt: skip
    return CanaryJudgment(overall([d.verdict for d in diffs]), diffs, level)


def judge_metric(
    metric: CanaryMetric,
    intervals: Sequence[Mapping[str, IntervalArm]],
    level: float,
    target: float,
    baseline: str,
    canary: str,
    *,
    step_arms: Mapping[str, IntervalArm] | None = None,
    clustered: Mapping[str, ClusteredSums] | None = None,
) -> MetricDiff:
    """One metric's :class:`MetricDiff` from the step's intervals (and, when given, the step
    totals and clustered sums of :func:`judge`)."""
    empty = IntervalArm(0, 0, 0.0, 0.0, 0.0, 0.0, 0.0)
    pairs = [(i.get(baseline, empty), i.get(canary, empty)) for i in intervals]
    total_b = sum((b for b, _ in pairs), empty)
    total_c = sum((c for _, c in pairs), empty)
    if step_arms is not None and metric.kind in ("proportion", "mean"):
        # the same events, so the same estimate; the variance is over units in the step
        total_b = step_arms.get(baseline, empty)
        total_c = step_arms.get(canary, empty)
    arms_clustered = (
        (clustered.get(baseline), clustered.get(canary)) if clustered is not None else (None, None)
    )
    scale: Scale = "shift" if metric.kind == "mann_whitney" else metric.tolerance_type

    def make(verdict: Verdict, reason: str, fx: Effect | None = None) -> MetricDiff:
        return MetricDiff(
            metric.name,
            metric.kind,
            verdict,
            None if fx is None else _finite(fx.estimate),
            None if fx is None else _finite(fx.lower),
            None if fx is None else _finite(fx.upper),
            scale,
            metric.tolerance,
            metric.tolerance_type,
            metric.bad_direction,
            None if fx is None else _finite(fx.baseline_value),
            None if fx is None else _finite(fx.canary_value),
            total_b.n,
            total_c.n,
            reason,
        )

    result = _effect(metric, pairs, total_b, total_c, level, target, arms_clustered)
    if isinstance(result, str):
        return make("marginal", result)
    code = int(verdict_codes(result.lower, result.upper, metric.tolerance, metric.bad_direction))
    return make(_VERDICTS[code], _reason(metric, code, result), result)


_VERDICTS: dict[int, Verdict] = {FAIL: "fail", MARGINAL: "marginal", PASS: "pass"}


def _effect(
    metric: CanaryMetric,
    pairs: Sequence[tuple[IntervalArm, IntervalArm]],
    total_b: IntervalArm,
    total_c: IntervalArm,
    level: float,
    target: float,
    clustered: tuple[ClusteredSums | None, ClusteredSums | None] = (None, None),
) -> Effect | str:
    """The kind's effect with its interval, or the reason it cannot be judged yet."""
    if metric.kind in ("proportion", "mean"):
        return mean_effect(metric, total_b, total_c, level, target)
    if metric.kind == "mann_whitney":
        return shift_effect(metric, pairs, level, target)
    return quantile_effect(metric, total_b, total_c, level, target, clustered)


def shift_effect(
    metric: CanaryMetric,
    pairs: Sequence[tuple[IntervalArm, IntervalArm]],
    level: float,
    target: float,
) -> Effect | str:
    relative = metric.tolerance_type == "relative"
    strata = canary_ranks.strata_of([(b.sketch, c.sketch) for b, c in pairs])
    problem = canary_ranks.mw_problem(strata, relative, metric.tolerance, metric.bad_direction)
    if problem is not None:
        return problem
    c_crit = float(
        cb.critical(cb.information_ratio(canary_ranks.effective_n(strata), target, level), level)
    )
    estimate, lower, upper = canary_ranks.mw_effect(strata, relative, c_crit)
    b = canary_ranks.merged([s for s, _ in strata])
    c = canary_ranks.merged([s for _, s in strata])
    return Effect(estimate, lower, upper, canary_ranks.median(b), canary_ranks.median(c))


def quantile_effect(
    metric: CanaryMetric,
    b: IntervalArm,
    c: IntervalArm,
    level: float,
    target: float,
    clustered: tuple[ClusteredSums | None, ClusteredSums | None] = (None, None),
) -> Effect | str:
    sb = b.sketch if b.sketch is not None else Sketch()
    sc = c.sketch if c.sketch is not None else Sketch()
    problem = canary_ranks.quantile_problem(sb, sc)
    if problem is not None:
        return problem
    p = metric.quantile if metric.quantile is not None else 0.5
    c_crit = float(
        cb.critical(cb.information_ratio(cb.effective_n(sb.count, sc.count), target, level), level)
    )
    out = canary_ranks.quantile_effect(
        sb, sc, p, metric.tolerance_type == "relative", c_crit, clustered=clustered
    )
    if isinstance(out, str):
        return out
    return Effect(*out)


def mean_effect(
    metric: CanaryMetric, b: IntervalArm, c: IntervalArm, level: float, target: float
) -> Effect | str:
    proportion = metric.kind == "proportion"
    for arm, role in ((b, "baseline"), (c, "canary")):
        problem = canary_means.problem(arm, role, proportion)
        if problem is not None:
            return problem
    relative = metric.tolerance_type == "relative"
    est, var, m_b, m_c = canary_means.effect(
        canary_means.ArmArrays.of(b), canary_means.ArmArrays.of(c), proportion, relative
    )
    if relative and not (float(m_b) > 0 and float(m_c) >= 0 and math.isfinite(float(est))):
        return (
            f"the baseline's mean is {float(m_b):g} and the canary's {float(m_c):g}: a relative "
            "tolerance needs positive means (use an absolute tolerance)"
        )
    if not float(var) > 0:
        return "no variation yet: every value is the same in both arms"
    c_crit = float(
        cb.critical(cb.information_ratio(cb.effective_n(b.n, c.n), target, level), level)
    )
    half = c_crit * math.sqrt(float(var))
    lo, mid, hi = (
        float(canary_means.reported(np.asarray(x), relative))
        for x in (float(est) - half, float(est), float(est) + half)
    )
    return Effect(mid, lo, hi, float(m_b), float(m_c))


def _reason(metric: CanaryMetric, code: int, fx: Effect) -> str:
    tol = metric.tolerance if metric.bad_direction == "increase" else -metric.tolerance
    harmful, good = ("upper", "lower") if metric.bad_direction == "increase" else ("lower", "upper")
    harm_bound = fx.upper if harmful == "upper" else fx.lower
    good_bound = fx.lower if good == "lower" else fx.upper
    unit = " (relative)" if metric.tolerance_type == "relative" else ""
    if code == PASS:
        return (
            f"shown within tolerance: the interval's {harmful} bound {harm_bound:.4g} is inside "
            f"the tolerance {tol:+.4g}{unit}"
        )
    if code == FAIL:
        return (
            f"shown worse than tolerance: the interval's {good} bound {good_bound:.4g} is "
            f"beyond the tolerance {tol:+.4g}{unit}"
        )
    return (
        f"not shown either way yet: the interval [{fx.lower:.4g}, {fx.upper:.4g}] contains "
        f"the tolerance {tol:+.4g}{unit}"
    )


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
