"""The interval monitor: guardrails checked every few minutes between the planned looks.

An experiment opts in with ``evaluation.monitor: {"intervalMinutes": N}``. Every ``N``
minutes after its launch, :func:`check_guardrails` analyses its data so far with
**always-valid** inference (the mSPRT of :mod:`splitlab.stats.msprt`, whatever the
experiment's own ``sequential.method``): an always-valid interval may be looked at any number
of times without inflating the false-alarm rate, which is what makes frequent checks sound
(Johari, Pekelis & Walsh 2017, "Always valid inference"). The check is recorded as a
read-only peek in the looks ledger (``triggeredBy: "interval monitor"``, with the
always-valid definition it was computed from, so :func:`~splitlab.evaluation.look.replay_look`
reproduces it) and so never counts as a planned look. When a guardrail is breached and the
experiment's ``rollback`` has ``enabled`` and ``guardrail_breach``, it is rolled back at once
(audited; the reason names the guardrail and the variant); otherwise the breach is only
recorded, for a person to act on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from splitlab.config import Experiment, Status
from splitlab.evaluation import lifecycle
from splitlab.evaluation.errors import EvaluationError
from splitlab.evaluation.look import LookStore, evaluate, look_document
from splitlab.evaluation.quality import assess
from splitlab.evaluation.scheduler import launched_at
from splitlab.evaluation.versions import versioned_sums
from splitlab.store.registry import LookRecord, format_time
from splitlab.store.registry_backend import RegistryBackend

logger = logging.getLogger(__name__)

#: ``triggeredBy`` of the monitor's peeks, and who its rollbacks are recorded as.
BY = "interval monitor"


@dataclass(frozen=True)
class MonitorCheck:
    """One guardrail check: the recorded peek and whether it rolled the experiment back."""

    experiment_id: str
    record: LookRecord
    breached: list[dict[str, Any]]
    rolled_back: bool


def always_valid(experiment: Experiment) -> Experiment:
    """The experiment analysed with always-valid (mSPRT) inference."""
    ev = experiment.evaluation
    sequential = ev.sequential.model_copy(update={"method": "always_valid"})
    return experiment.model_copy(
        update={"evaluation": ev.model_copy(update={"sequential": sequential})}
    )


def is_due(registry: RegistryBackend, experiment: Experiment, now: datetime) -> bool:
    """Running, opted in, and ``intervalMinutes`` since the launch and the last check."""
    monitor = experiment.evaluation.monitor
    if monitor is None or experiment.status is not Status.RUNNING:
        return False
    every = timedelta(minutes=monitor.interval_minutes)
    last = launched_at(registry, experiment)
    for record in registry.looks(experiment.id):
        if record.peek and record.triggered_by == BY:
            last = max(last, record.at)
    return now - last >= every


def check_guardrails(
    store: LookStore, registry: RegistryBackend, experiment_id: str, *, now: datetime
) -> MonitorCheck:
    """One always-valid guardrail check now, recorded as a peek; rolls back on a breach when
    the experiment's rollback policy allows it."""
    experiment = registry.get(experiment_id)
    experiment, sums, versions = versioned_sums(
        store, registry, experiment, store.summary(experiment, cutoff=now), now
    )
    quality = assess(
        store.data_quality(experiment, now),
        sum(sums.units.values()),
        "switchback" if experiment.is_switchback else "cluster" if experiment.is_cluster else None,
    )
    ev = experiment.evaluation
    taken = registry.planned_looks_taken(experiment_id)
    look = taken + 1 if ev.allow_extra_looks else min(taken + 1, ev.max_peeks)
    analysed = always_valid(experiment)
    evaluated = evaluate(analysed, sums, look, None, quality, peek=True, versions=versions)
    breached = breached_guardrails_of(evaluated.document_body["results"])
    policy = experiment.rollback
    act = (
        bool(breached)
        and policy.enabled
        and "guardrail_breach" in policy.conditions
        and not experiment.is_holdout  # a holdout is never rolled back (evaluation.holdout)
    )
    names = ", ".join(sorted({f"{g['metric']} ({g['variant']})" for g in breached}))
    reason = f"guardrail breached at the interval monitor's always-valid check: {names}"
    actions = [{"to": "rolled_back", "reason": reason, "applied": True}] if act else []
    meta = {
        "experimentId": experiment_id,
        "look": taken,
        "peek": True,
        "analysisLook": look,
        "at": format_time(now),
        "cutoff": format_time(now),
        "triggeredBy": BY,
        "status": experiment.status.value,
    }
    with registry.transaction():
        record = registry.append_look(
            experiment_id, number=taken, peek=True, at=now, cutoff=now, triggered_by=BY,
            action="peek", variant=None, document=look_document(meta, evaluated, actions),
        )  # fmt: skip
        if act:
            lifecycle.change_status(
                registry, experiment_id, Status.ROLLED_BACK, by=BY, reason=reason,
                details={"condition": "guardrail_breach", "guardrails": breached,
                         "monitorPeek": record.seq},
                now=now,
            )  # fmt: skip
    if breached:
        logger.warning("%s: %s%s", experiment_id, reason, " (rolled back)" if act else "")
    return MonitorCheck(experiment_id, record, breached, act)


def breached_guardrails_of(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The breached guardrails of a results JSON: metric, variant, verdict and threshold."""
    found: list[dict[str, Any]] = []
    for metric in results.get("metrics", []):
        for comparison in metric.get("comparisons", []):
            check = comparison.get("guardrail")
            if check and check.get("verdict") == "breached":
                found.append({"metric": metric["name"], "variant": comparison["variant"], **check})
    return found


class GuardrailMonitor:
    """One pass over the opted-in running experiments (:meth:`run_once`)."""

    def __init__(
        self,
        store: LookStore,
        registry: RegistryBackend,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock

    def run_once(self) -> list[MonitorCheck]:
        now = self.clock()
        checks: list[MonitorCheck] = []
        for experiment in self.registry.experiments():
            if not is_due(self.registry, experiment, now):
                continue
            try:
                checks.append(check_guardrails(self.store, self.registry, experiment.id, now=now))
            except EvaluationError as exc:
                logger.error("%s: interval monitor check failed: %s", experiment.id, exc)
        return checks


__all__ = [
    "BY",
    "GuardrailMonitor",
    "MonitorCheck",
    "always_valid",
    "breached_guardrails_of",
    "check_guardrails",
    "is_due",
]
