"""`analyze(experiment, sums, look=None) -> Results`: one look at an experiment.

The steps, each in its own module: SRM (:mod:`srm`); per metric and variant the difference and
its test (:mod:`difference`, with :mod:`cuped` and :mod:`ratio`); the repeated-looks
adjustment (:mod:`sequential` or :mod:`msprt`) which turns each test into a sequential p-value;
the multiple-comparison correction over the family of primary and secondary comparisons
(:mod:`corrections`); intervals at the matching level (:mod:`relative` for the lift);
guardrail verdicts (:mod:`guardrails`); and the decision (:mod:`decision`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from splitlab.config import Experiment, Metric, MetricType
from splitlab.stats import (
    cluster,
    corrections,
    msprt,
    power,
    quantile_metric,
    retention_metric,
    sequential,
    srm,
    switchback,
    time_to_event_metric,
)
from splitlab.stats import versions as versions_mod
from splitlab.stats.comparison import Pending, build_comparison
from splitlab.stats.decision import decide
from splitlab.stats.difference import Difference, NotEstimable, TestKind, compare
from splitlab.stats.errors import LookError, StatsError, SumsError
from splitlab.stats.moments import ArmView, mean_view
from splitlab.stats.possible import impossible_for
from splitlab.stats.ratio import ratio_cuped_possible, ratio_view
from splitlab.stats.results import (
    Comparison,
    Decision,
    DesignResult,
    MetricResult,
    Results,
)
from splitlab.stats.sums import ArmSums, ExperimentSums, arm_pair

_PLACEHOLDER = Decision("continue", None, ())

#: Metric types that only the classic estimator analyses, with the reason given elsewhere.
_UNSUPPORTED_DESIGN = {
    MetricType.QUANTILE: quantile_metric.UNSUPPORTED_DESIGN,
    MetricType.RETENTION: retention_metric.UNSUPPORTED_DESIGN,
    MetricType.TIME_TO_EVENT: time_to_event_metric.UNSUPPORTED_DESIGN,
}


ViewCache = dict[tuple[int, str, bool], tuple[ArmSums, ArmView]]


def _view(metric: Metric, arm: ArmSums, cache: ViewCache) -> ArmView:
    """The arm's moments, computed once per analysis (control is compared many times).

    The cache keeps the arm itself alive, so its id cannot be reused within the analysis.
    """
    key = (id(arm), metric.type.value, metric.cuped)
    hit = cache.get(key)
    if hit is not None:
        return hit[1]
    if metric.type == MetricType.RATIO:
        view = ratio_view(arm, metric.cuped)
    else:
        view = mean_view(arm, metric.type in retention_metric.PROPORTIONS, metric.cuped)
    cache[key] = (arm, view)
    return view


def _test_kind(metric: Metric, method: str) -> TestKind:
    if metric.type in retention_metric.PROPORTIONS:
        return "proportions"
    return "z" if method == "frequentist_z_test" else "welch"


def _difference(
    experiment: Experiment,
    sums: ExperimentSums,
    metric: Metric,
    variant: str,
    cache: ViewCache,
) -> tuple[Difference | None, str | None, tuple[str, ...], tuple[float, float]]:
    pair = arm_pair(sums, metric.name, experiment.control, variant)
    if isinstance(pair, str):
        return None, pair, (), (0.0, 0.0)
    c_arm, t_arm = pair
    units = (c_arm.n, t_arm.n)
    if metric.type == MetricType.QUANTILE:
        diff, reason, q_notes = quantile_metric.estimate(
            metric, c_arm, t_arm, experiment.evaluation.alpha
        )
        return diff, reason, q_notes, units
    if metric.type == MetricType.TIME_TO_EVENT:
        diff, reason, s_notes = time_to_event_metric.estimate(
            metric, c_arm, t_arm, experiment.evaluation.alpha
        )
        return diff, reason, s_notes, units
    notes: list[str] = []
    if metric.type == MetricType.RATIO and (c_arm.denominator is None or t_arm.denominator is None):
        return None, "a ratio metric needs denominator sums in both arms", (), units
    if metric.cuped and (c_arm.covariate is None or t_arm.covariate is None):
        notes.append("CUPED not applied: the sums carry no covariate for both arms")
    elif (
        metric.cuped
        and metric.type == MetricType.RATIO
        and not (ratio_cuped_possible(c_arm) and ratio_cuped_possible(t_arm))
    ):
        notes.append("CUPED not applied: a ratio metric's covariate needs sumProductDenominator")
    c_view, t_view = _view(metric, c_arm, cache), _view(metric, t_arm, cache)
    for label, arm in (("control", c_arm), (variant, t_arm)):
        den = arm.denominator
        if metric.type == MetricType.RATIO and den is not None and den.sum == 0 and arm.n > 0:
            return None, f"the denominator sums to zero in {label}", tuple(notes), units
    use_cuped = metric.cuped and c_view.x_var is not None and t_view.x_var is not None
    # a retention rate's n is the units whose window has closed: say so when there are too few
    noun = "eligible unit" if metric.type == MetricType.RETENTION else "unit"
    kind = _test_kind(metric, experiment.evaluation.method)
    result = compare(c_view, t_view, kind, use_cuped, noun=noun)
    if isinstance(result, NotEstimable):
        return None, result.reason, tuple(notes), units
    return result, None, tuple(notes) + result.notes, units


Estimator = Callable[
    [Experiment, ExperimentSums, Metric, str, ViewCache],
    tuple[Difference | None, str | None, tuple[str, ...], tuple[float, float]],
]

#: How each design estimates a comparison: ``design.type`` (``"classic"`` without a design)
#: -> ``(experiment, sums, metric, variant, cache) -> (difference | None, reason | None,
#: notes, (units in control, units in the variant))``. A cluster design's "units" are
#: clusters, a switchback's "units" are cells.
ESTIMATORS: dict[str, Estimator] = {
    "classic": _difference,
    "cluster": cluster.estimate,
    "switchback": switchback.estimate,
    # A canary's units are randomised one by one: its classic look is the classic estimator
    # (its operational metrics are judged per interval by the canary monitor instead).
    "canary": _difference,
    # A holdout's units are randomised one by one too (its own split, held out vs everyone
    # else): the classic estimator; its look is a report (splitlab.evaluation.holdout).
    "holdout": _difference,
}


def estimator_for(experiment: Experiment) -> Estimator:
    """The estimator of the experiment's design (:data:`ESTIMATORS`)."""
    kind = "classic" if experiment.design is None else experiment.design.type
    if kind == "bandit":
        # No "bandit" entry on purpose: pooled differences under an allocation that followed
        # the data are biased, and a bandit tests no hypothesis.
        raise StatsError(
            f"experiment {experiment.experiment_id!r} is a bandit (design.type 'bandit'): a "
            "classic look does not apply to adaptively allocated traffic; read the bandit's "
            f"readout instead (`splitlab bandit status {experiment.experiment_id}` or GET "
            f"/v1/experiments/{experiment.experiment_id}/bandit)"
        )
    found = ESTIMATORS.get(kind)
    if found is None:
        raise StatsError(f"no estimator for design type {kind!r} (known: {', '.join(ESTIMATORS)})")
    return found


def _check_look(experiment: Experiment, sums: ExperimentSums, look: int | None) -> int:
    ev = experiment.evaluation
    chosen = look if look is not None else (sums.look if sums.look is not None else 1)
    if chosen < 1:
        raise StatsError(f"look must be >= 1 (got {chosen})")
    if chosen > ev.max_peeks and not ev.allow_extra_looks:
        raise LookError(
            f"look {chosen} is beyond the {ev.max_peeks} planned looks (evaluation.maxPeeks); "
            "extra looks would inflate the false-positive rate. Set evaluation.allowExtraLooks "
            "to analyse it anyway."
        )
    return chosen


def _check_variants(experiment: Experiment, sums: ExperimentSums) -> None:
    known = set(experiment.variant_names)
    seen = set(sums.units)
    for arms in sums.metrics.values():
        seen.update(arms)
    unknown = sorted(seen - known)
    if unknown:
        raise SumsError(
            f"the sums mention variant(s) {', '.join(map(repr, unknown))} that experiment "
            f"{experiment.id!r} does not define (variants: {', '.join(experiment.variant_names)})"
        )
    if sums.experiment_id and sums.experiment_id != experiment.id:
        raise SumsError(
            f"the sums are for experiment {sums.experiment_id!r}, not {experiment.id!r}"
        )
    problems = impossible_for(sums, experiment)
    if problems:
        raise SumsError(problems=problems)


def information_fraction(experiment: Experiment, units: Mapping[str, float]) -> float:
    """A look's information fraction: the smallest arm's units over minSampleSize, capped at 1."""
    smallest = min(float(units.get(v, 0.0)) for v in experiment.variant_names)
    return min(smallest / experiment.evaluation.min_sample_size, 1.0)


def plan_tau(experiment: Experiment) -> float:
    """The plan's mSPRT mixing scale: ``sequential.tau``, or the default for the plan's alpha,
    power and minSampleSize (:func:`splitlab.stats.msprt.default_tau`)."""
    ev = experiment.evaluation
    if ev.sequential.tau is not None:
        return ev.sequential.tau
    return msprt.default_tau(ev.alpha, ev.power, ev.min_sample_size)


def at_level(
    experiment: Experiment, alpha: float, correction: corrections.Correction | None = None
) -> Experiment:
    """The definition analysed at family level `alpha` (and `correction`, when given).

    The mSPRT ``tau`` is pinned to the plan's own (:func:`plan_tau`): its default depends on
    alpha, and a re-analysis at another level must test with the same mixture, so that the
    always-valid p-values do not change.
    """
    ev = experiment.evaluation
    update: dict[str, object] = {
        "alpha": alpha,
        "sequential": ev.sequential.model_copy(update={"tau": plan_tau(experiment)}),
    }
    if correction is not None:
        update["correction"] = correction
    return experiment.model_copy(update={"evaluation": ev.model_copy(update=update)})


def analyze(
    experiment: Experiment,
    sums: ExperimentSums,
    look: int | None = None,
    *,
    history: Sequence[float] | None = None,
    segment: str | None = None,
    data_quality: Sequence[str] = (),
    versions: Sequence[versions_mod.WeightsVersion] | None = None,
) -> Results:
    """Analyse one look at `experiment` from its sufficient statistics.

    `look` defaults to the sums' look (or 1). `history` gives the information fractions of
    earlier looks when known (the evaluation layer's looks ledger); otherwise they are taken as
    equally spaced. `segment` analyses one segment's slice of the sums. `versions`: the
    weights versions of a sticky experiment whose weights changed; with two or more (and the
    sums' per-version slices), the SRM check is per version and every comparison is
    stratified by version (:mod:`splitlab.stats.versions`).
    """
    _check_variants(experiment, sums)
    look = _check_look(experiment, sums, look)
    data = sums.segment(segment) if segment is not None else sums
    ev = experiment.evaluation
    seq = ev.sequential
    names = experiment.variant_names
    control = experiment.control
    treatments = [v for v in names if v != control]
    units = {v: float(data.units.get(v, 0.0)) for v in names}
    by_version = segment is None and versions_mod.versioned(experiment, versions)
    if by_version and versions is not None:
        srm_result = versions_mod.srm_by_version(
            versions,
            versions_mod.version_units(data, versions),
            names,
            ev.srm_threshold,
            ev.launch_srm_threshold,
        )
    else:
        srm_result = srm.check(
            units, names, experiment.weights, ev.srm_threshold, ev.launch_srm_threshold
        )

    fraction = information_fraction(experiment, units)
    max_looks = max(ev.max_peeks, look)
    plan = sequential.make_plan(
        look, max_looks, fraction, None if history is None else tuple(history)
    )

    pending: list[Pending] = []
    cache: ViewCache = {}
    estimate = estimator_for(experiment)
    if by_version and versions is not None:
        estimate = versions_mod.stratified_estimator(estimate, versions)
    for role, metric in experiment.metrics.all():
        for variant in treatments:
            diff: Difference | None
            reason: str | None
            notes: tuple[str, ...]
            unsupported = _UNSUPPORTED_DESIGN.get(metric.type)
            if unsupported and estimate is not _difference and not by_version:
                diff, reason, notes = None, unsupported, ()
                arm_units = (0.0, 0.0)
            else:
                diff, reason, notes, arm_units = estimate(experiment, data, metric, variant, cache)
            pending.append(Pending(role, metric, variant, diff, reason, arm_units, notes))

    tau = plan_tau(experiment)
    family = [p for p in pending if p.role != "guardrail"]
    exact = tuple(
        sorted({*corrections.decision_levels(ev.correction, ev.alpha, len(family)), ev.alpha})
    )
    table = (
        sequential.table(seq.spending, plan, 2, exact) if seq.method == "alpha_spending" else None
    )
    for p in pending:
        d = p.diff
        if d is None:
            continue
        if seq.method == "alpha_spending" and table is not None:
            p.seq_p = table.p_value(d.z_equivalent)
        elif seq.method == "always_valid":
            tau2 = msprt.mixing_variance(tau, d.se**2, *p.units)
            p.seq_p = msprt.p_value(d.z_equivalent * d.se, d.se**2, tau2)
        else:
            p.seq_p = d.p_value

    adjusted = corrections.adjust([p.seq_p for p in family], ev.correction)
    adjusted_of = {id(p): a for p, a in zip(family, adjusted, strict=True)}
    rejected = sum(1 for a in adjusted if a <= ev.alpha)
    level = corrections.interval_level(ev.correction, ev.alpha, len(family), rejected)

    comparisons: dict[str, list[Comparison]] = {m.name: [] for _, m in experiment.metrics.all()}
    for p in pending:
        is_guardrail = p.role == "guardrail"
        p_level = ev.alpha if is_guardrail else level
        adj = p.seq_p if is_guardrail else adjusted_of[id(p)]
        comparisons[p.metric.name].append(
            build_comparison(experiment, p, adj, p_level, plan, table, tau, control)
        )

    metrics = tuple(
        _metric_result(m, role, tuple(comparisons[m.name]), data, names)
        for role, m in experiment.metrics.all()
    )
    warnings: list[str] = []
    family_size = len(treatments) * (1 + len(experiment.metrics.secondary))
    noun = "clusters" if experiment.is_cluster else "cells" if experiment.is_switchback else "units"
    warning = power.family_warning(
        family_size, ev.alpha, ev.power, ev.min_sample_size, ev.correction, noun=noun
    )
    if warning:
        warnings.append(warning)
    design: DesignResult | None = None
    if experiment.is_cluster:
        design = cluster.design_result(experiment, data)
    elif experiment.is_switchback:
        design = switchback.design_result(experiment, data)
    if design is not None:
        warnings += design.warnings
    results = Results(
        experiment_id=experiment.id,
        look=look,
        max_peeks=ev.max_peeks,
        method=ev.method,
        correction=ev.correction,
        alpha=ev.alpha,
        srm=srm_result,
        metrics=metrics,
        decision=_PLACEHOLDER,
        units=units,
        information_fraction=fraction,
        final_look=plan.final,
        warnings=tuple(warnings),
        segment=segment,
        design=design,
    )
    return replace(results, decision=decide(results, experiment, data_quality))


def _metric_result(
    m: Metric,
    role: str,
    comparisons: tuple[Comparison, ...],
    data: ExperimentSums,
    names: Sequence[str],
) -> MetricResult:
    """A metric's results with what its type needs beside the comparisons: the quantile,
    the time-to-event horizon, or the retention window with the eligible units per arm."""
    result = MetricResult(m.name, role, m.type.value, m.direction.value, comparisons)
    if m.type == MetricType.QUANTILE:
        return replace(result, quantile=quantile_metric.describe(m))
    if m.type == MetricType.TIME_TO_EVENT:
        return replace(result, time_to_event=time_to_event_metric.describe(m))
    if m.type == MetricType.RETENTION:
        eligible, waiting = retention_metric.eligibility(m, data, names)
        return replace(
            result,
            retention=retention_metric.describe(m),
            eligible=eligible,
            still_in_window=waiting,
        )
    return result


class ExperimentEvaluator:
    """The article's name for the engine: ``ExperimentEvaluator(experiment).evaluate(sums)``."""

    def __init__(self, experiment: Experiment) -> None:
        self.experiment = experiment

    def evaluate(
        self,
        sums: ExperimentSums,
        look: int | None = None,
        *,
        history: Sequence[float] | None = None,
        segment: str | None = None,
        data_quality: Sequence[str] = (),
    ) -> Results:
        return analyze(
            self.experiment,
            sums,
            look,
            history=history,
            segment=segment,
            data_quality=data_quality,
        )
