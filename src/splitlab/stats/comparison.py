"""One comparison's results: intervals at the corrected level, direction, guardrail, posterior.

Called by :func:`splitlab.stats.analyze.analyze` once the family's adjusted p-values are known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import special

from splitlab.config import Experiment, Guardrail, Metric, MetricType
from splitlab.stats import bayes, guardrails, msprt, relative, sequential
from splitlab.stats.difference import Difference
from splitlab.stats.results import (
    BayesianResult,
    Comparison,
    DirectionName,
    SequentialInfo,
)


@dataclass
class Pending:
    """A comparison between its test and its correction."""

    role: str
    metric: Metric
    variant: str
    diff: Difference | None
    reason: str | None
    units: tuple[float, float]
    notes: tuple[str, ...]
    seq_p: float = 1.0


def _critical(
    d: Difference,
    level: float,
    table: sequential.BoundaryTable | None,
    tau2: float,
    method: str,
) -> float | None:
    """The boundary on the z scale at the decision level (None: no alpha left at this look).

    Alpha spending: the table's exact boundary at that level. Always valid: the mSPRT's
    rejection threshold ``half_width / SE``, so ``1/Lambda <= level`` exactly when the
    z-equivalent reaches it. None: the fixed-horizon ``z_{1 - level/2}``.
    """
    if method == "alpha_spending" and table is not None:
        return table.boundary_at(level)
    if method == "always_valid":
        return msprt.half_width(d.se**2, tau2, level) / d.se
    return float(-special.ndtri(level / 2.0))


def _relative_note(d: Difference, significant: bool, rel: relative.Interval | None) -> str | None:
    """A note when the delta-method lift interval and the test on the difference disagree."""
    if rel is None or significant == relative.excludes_zero(rel):
        return None
    said = "significant" if significant else "not significant"
    return (
        f"the delta-method relative interval {'includes' if significant else 'excludes'} 0 "
        f"although the test on the difference is {said}: the two use different pivots near "
        "the boundary; the absolute interval is the test's own (Fieller's relative interval, "
        "relativeInterval: fieller, always agrees with it)"
    )


def build_comparison(
    experiment: Experiment,
    p: Pending,
    adjusted: float,
    level: float,
    plan: sequential.Plan,
    table: sequential.BoundaryTable | None,
    tau: float,
    control: str,
) -> Comparison:
    """One comparison's results; `level` is the two-sided level its decision was taken at."""
    ev = experiment.evaluation
    seq = ev.sequential
    metric = p.metric
    d = p.diff
    if d is None:
        guard = (
            guardrails.check(metric, None, p.reason, None)
            if isinstance(metric, Guardrail)
            else None
        )
        return Comparison(
            p.variant, control, False, p.reason, units=p.units, notes=p.notes, guardrail=guard
        )
    tau2 = msprt.mixing_variance(tau, d.se**2, *p.units)
    boundary = _critical(d, level, table, tau2, seq.method)
    crit = None if boundary is None else d.critical_for_z(boundary)
    if seq.method == "alpha_spending":
        spent = sequential.alpha_spent(level, seq.spending, plan)
    else:
        spent = level
    absolute = relative_i = None
    if crit is not None and math.isfinite(crit * d.se):
        absolute = relative.Interval(d.estimate, d.estimate - crit * d.se, d.estimate + crit * d.se)
        if ev.relative_interval == "fieller":
            relative_i = relative.fieller_interval(d, crit)
        else:
            relative_i = relative.delta_interval(d, crit)
    notes = p.notes
    if relative.relative_se(d) is None:
        notes = (
            *notes,
            "relative effect not estimable: control's mean is zero (or too close to it)",
        )
        relative_i = None
    elif relative_i is None and absolute is not None:
        notes = (*notes, "Fieller interval unbounded: control's mean is not clearly non-zero")
    increase = metric.direction == "increase"
    bayesian = None
    if ev.method == "bayesian":
        bayesian = _bayesian(metric, p, d, increase, level, experiment.design is not None)
        significant = bayesian.chance_to_beat_control >= 1 - ev.alpha or (
            bayesian.chance_to_beat_control <= ev.alpha
        )
    else:
        # The correction's decision, shown by the interval at the level it was taken at: the
        # two agree by construction (see docs/statistics.md, "One rule"); requiring both only
        # matters at exact ties and when the interval cannot be reported (no alpha left).
        significant = adjusted <= ev.alpha and relative.excludes_zero(absolute)
        if ev.relative_interval == "delta":
            note = _relative_note(d, significant, relative_i)
            notes = notes if note is None else (*notes, note)
    good = (d.estimate > 0) == increase and d.estimate != 0
    direction: DirectionName = ("better" if good else "worse") if significant else "none"
    guard = None
    if isinstance(metric, Guardrail):
        one_sided = None
        if seq.method == "alpha_spending":
            c1 = sequential.boundary(ev.alpha, seq.spending, plan, 1)
            one_sided = None if c1 is None else float(special.ndtr(-c1))
        elif seq.method == "none":
            one_sided = ev.alpha
        guard = guardrails.check(
            metric,
            d,
            None,
            one_sided,
            tau2 if seq.method == "always_valid" else None,
            ev.alpha,
        )
    return Comparison(
        variant=p.variant,
        control=control,
        estimable=True,
        absolute=absolute,
        relative=relative_i,
        p_value=d.p_value,
        sequential_p_value=p.seq_p,
        adjusted_p_value=adjusted,
        significant=significant,
        direction=direction,
        sequential=SequentialInfo(seq.method, boundary, spent, plan.fraction, plan.final),
        control_mean=d.control_mean,
        variant_mean=d.treatment_mean,
        units=p.units,
        notes=notes,
        guardrail=guard,
        bayesian=bayesian,
    )


def _bayesian(
    metric: Metric,
    p: Pending,
    d: Difference,
    increase: bool,
    level: float,
    clustered: bool = False,
) -> BayesianResult:
    # A cluster or switchback design's rate is not a share of independent units (p.units
    # counts clusters or cells), so the Beta-binomial model does not apply: the normal one does.
    if (
        metric.type in (MetricType.CONVERSION, MetricType.RETENTION)
        and d.theta is None
        and d.single_stratum
        and not clustered
    ):
        n_c, n_t = p.units
        return bayes.conversion(
            _count(d.control_mean * n_c), n_c, _count(d.treatment_mean * n_t), n_t, increase, level
        )
    return bayes.normal(d.estimate, d.se, increase, level)


def _count(x: float) -> float:
    """A conversion count recovered from mean * n (exact integers stay integers)."""
    r = round(x)
    return float(r) if abs(x - r) < 1e-6 else x
