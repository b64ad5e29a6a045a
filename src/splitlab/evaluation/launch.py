"""The launch check: the article's quick start, step 4 ("validate before launch").

Run on a running experiment (a dry run at low traffic, or a step of the ramp-up) before its
allocation is raised; the allocation checked is the definition's ``trafficAllocation`` unless
the caller says otherwise. Ready when:

1. every variant has exposed units;
2. the sample ratio passes at the launch threshold: chi-square p > ``launchSrmThreshold``
   (0.05, the article's quick start; the running halt rule uses ``srmThreshold``, 0.01);
3. event metadata is right: every metric event matches its unit's first exposure (no variant
   mismatches), comes from an exposed unit, and no unit was exposed to two variants (events
   naming an unknown experiment or variant are already refused by the collector);
4. no guardrail is breached, each judged by a one-sided test at ``alpha`` with no sequential
   discount (a dry run is a safety check, not one of the planned looks; "not yet known" is
   expected at 1% and does not fail the check);
5. every metric (primary, secondary, guardrail) has data.

The answer names each failure and the next traffic step on the ladder 1% -> 5% -> 25% -> 50%
-> 100% above the current allocation, never beyond the target allocation, and says so when a
traffic given by the caller differs from the definition's ``trafficAllocation``. The check
reads only; it records no look and changes no status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from splitlab.config import Experiment, MetricType
from splitlab.evaluation.look import LookStore
from splitlab.evaluation.versions import versioned_sums
from splitlab.stats import analyze, srm
from splitlab.stats.sums import ExperimentSums
from splitlab.stats.versions import WeightsVersion, srm_by_version, version_units
from splitlab.store.registry import Registry

#: Traffic steps of a ramp-up, as fractions of all units.
TRAFFIC_STEPS: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class CheckItem:
    """One line of the launch check."""

    name: str
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True)
class LaunchReport:
    """Ready or not, every check with its detail, and the recommended next traffic step."""

    experiment_id: str
    ready: bool
    checks: tuple[CheckItem, ...]
    traffic: float
    target: float
    next_traffic: float | None
    recommendation: str

    @property
    def failures(self) -> tuple[CheckItem, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "experimentId": self.experiment_id,
            "ready": self.ready,
            "checks": [c.to_dict() for c in self.checks],
            "failures": [c.name for c in self.failures],
            "traffic": self.traffic,
            "targetTraffic": self.target,
            "nextTraffic": self.next_traffic,
            "recommendation": self.recommendation,
        }


def next_step(current: float, target: float) -> float | None:
    """The next traffic step above ``current``, capped at ``target`` (None: at target)."""
    if current >= target:
        return None
    return min([s for s in TRAFFIC_STEPS if s > current] + [target])


def launch_check(
    store: LookStore,
    experiment: Experiment,
    *,
    traffic: float | None = None,
    target: float = 1.0,
    cutoff: datetime | None = None,
    registry: Registry | None = None,
) -> LaunchReport:
    """Check a dry run of ``experiment`` in ``store`` (see the module docstring).

    ``traffic`` is the allocation the experiment ran at (default: its ``trafficAllocation``,
    the article's quick start sets 1% there for the dry run); ``target`` the allocation to
    reach step by step. With the `registry`, a sticky experiment whose weights changed has its
    SRM checked per weights version (:mod:`splitlab.stats.versions`), as its looks do.
    """
    current = experiment.traffic_allocation if traffic is None else traffic
    sums = store.summary(experiment, cutoff=cutoff)
    quality = store.data_quality(experiment, cutoff=cutoff)
    versions = None
    if registry is not None:
        experiment, sums, versions = versioned_sums(store, registry, experiment, sums, cutoff)
    checks = [
        _exposures(experiment, sums),
        _srm(experiment, sums, versions),
        _metadata(
            quality.variant_mismatch_events,
            quality.unexposed_metric_events,
            quality.multi_exposed_units,
        ),
        _guardrails(experiment, sums, versions),
        _metric_data(experiment, sums),
    ]
    ready = all(c.passed for c in checks)
    nxt = next_step(current, target) if ready else None
    if not ready:
        failed = ", ".join(c.name for c in checks if not c.passed)
        text = f"Not ready ({failed}): stay at {_pct(current)} and fix these before scaling up."
    elif nxt is None:
        text = f"Ready, and already at the target allocation ({_pct(target)})."
    else:
        text = f"Ready: raise traffic from {_pct(current)} to {_pct(nxt)} (target {_pct(target)})."
    if experiment.traffic_allocation != current:
        text += (
            f" Note: the definition's trafficAllocation is {_pct(experiment.traffic_allocation)},"
            f" not the {_pct(current)} checked, which was given as the traffic it ran at."
        )
    return LaunchReport(experiment.id, ready, tuple(checks), current, target, nxt, text)


def _pct(fraction: float) -> str:
    """A fraction as a percentage without needless digits (0.01 -> "1%", 0.005 -> "0.5%")."""
    return f"{fraction * 100:g}%"


def _exposures(experiment: Experiment, sums: ExperimentSums) -> CheckItem:
    missing = [v for v in experiment.variant_names if sums.units.get(v, 0.0) <= 0]
    counts = ", ".join(f"{v} {sums.units.get(v, 0.0):g}" for v in experiment.variant_names)
    if missing:
        return CheckItem("exposures", False, f"no exposed units in {', '.join(missing)} ({counts})")
    return CheckItem("exposures", True, f"exposed units: {counts}")


def _srm(
    experiment: Experiment, sums: ExperimentSums, versions: list[WeightsVersion] | None = None
) -> CheckItem:
    ev = experiment.evaluation
    if versions is not None:
        result = srm_by_version(
            versions,
            version_units(sums, versions),
            experiment.variant_names,
            ev.srm_threshold,
            ev.launch_srm_threshold,
        )
    else:
        result = srm.check(
            sums.units,
            experiment.variant_names,
            experiment.weights,
            ev.srm_threshold,
            ev.launch_srm_threshold,
        )
    if result.p_value is None:
        return CheckItem("srm", False, "no exposures yet, so the split cannot be checked")
    passed = result.launch_check_passed
    relation = ">" if passed else "<="
    return CheckItem(
        "srm",
        passed,
        f"chi-square p = {result.p_value:.3g} {relation} launchSrmThreshold "
        f"{result.launch_threshold:g}"
        + (f" (per weights version, {len(versions)} versions)" if versions else ""),
    )


def _metadata(mismatched: int, unexposed: int, multi: int) -> CheckItem:
    problems = []
    if mismatched:
        problems.append(f"{mismatched} metric event(s) claim a variant other than the exposure's")
    if unexposed:
        problems.append(f"{unexposed} metric event(s) come from units never exposed")
    if multi:
        problems.append(f"{multi} unit(s) were exposed to more than one variant")
    if problems:
        return CheckItem("event_metadata", False, "; ".join(problems))
    return CheckItem(
        "event_metadata", True, "every metric event matches its unit's exposed variant"
    )


def _guardrails(
    experiment: Experiment, sums: ExperimentSums, versions: list[WeightsVersion] | None = None
) -> CheckItem:
    if not experiment.metrics.guardrails:
        return CheckItem("guardrails", True, "no guardrails defined")
    ev = experiment.evaluation
    fixed = ev.model_copy(
        update={"sequential": ev.sequential.model_copy(update={"method": "none"})}
    )
    results = analyze(
        experiment.model_copy(update={"evaluation": fixed}), sums, 1, versions=versions
    )
    breached, unknown = [], []
    for metric in results.metrics:
        for c in metric.comparisons:
            g = c.guardrail
            if g is None:
                continue
            if g.verdict == "breached":
                breached.append(f"{metric.name} ({c.variant}): {g.reason}")
            elif g.verdict == "unknown":
                unknown.append(f"{metric.name} ({c.variant})")
    if breached:
        return CheckItem("guardrails", False, "breached: " + "; ".join(breached))
    detail = "no guardrail breached"
    if unknown:
        detail += f" (not yet known, too little data: {', '.join(unknown)})"
    return CheckItem("guardrails", True, detail)


def _metric_data(experiment: Experiment, sums: ExperimentSums) -> CheckItem:
    empty = []
    for _, metric in experiment.metrics.all():
        arms = sums.metrics.get(metric.name, {})
        has = any(
            a.sum != 0
            or a.sum_sq != 0
            or (metric.type == MetricType.RATIO and a.denominator is not None and a.denominator.sum)
            or (a.survival is not None and sum(a.survival.events) > 0)
            for a in arms.values()
        )
        if not has:
            empty.append(metric.name)
    if empty:
        return CheckItem("metric_data", False, f"no events yet for: {', '.join(empty)}")
    return CheckItem("metric_data", True, "every metric has data")
