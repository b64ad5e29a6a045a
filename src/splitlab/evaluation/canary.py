"""The canary monitor: judge every running canary each interval, then wait, advance, promote or
roll back (docs/canary.md, "How steps advance").

For a running canary, at every ``intervalMinutes`` since its current step began
(``design.stepStartedAt``), :func:`judge_canary`

1. reads every canary metric's data of the step's *closed* intervals from the store in one
   call (``store.canary_intervals``: each event name read once), oldest first, with the
   step totals grouped by unit and the quantiles' clustered sums;
2. judges them (:func:`splitlab.stats.canary.judge`);
3. records the judgment in the canary ledger (:mod:`splitlab.store.canary_ledger`) and acts,
   in the same transaction:

   * a metric fails: roll back (``change_status(..., "rolled_back")``, the reason naming the
     metric, its effect, the interval judged and the tolerance), so assignment serves the
     baseline from the next config refresh;
   * every metric passes, the step has lasted ``minMinutes`` and each arm has
     ``minRequests`` in the step: advance to the next step (an audited ``canary_step``
     change of ``design.step``, ``stepStartedAt`` and the derived ``trafficAllocation``:
     the gate only rises, so exposed units keep their variant), or, after the last judged
     step, promote (``change_status(..., "shipped", variant=<canary>)``);
   * otherwise wait.

A canary that is running without ``stepStartedAt`` (just launched) has its step 0 started
at its launch time on the monitor's first pass. :class:`CanaryMonitor` runs one pass over
every running canary (``run_once``) for the server's scheduler thread.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from splitlab.config import Experiment, Status
from splitlab.config.adaptive import CanaryDesign, CanaryMetric
from splitlab.errors import SplitlabError
from splitlab.evaluation import automatic, lifecycle
from splitlab.evaluation.errors import EvaluationError
from splitlab.evaluation.scheduler import launched_at
from splitlab.stats.intervals import CanaryData, IntervalArm
from splitlab.store.canary_ledger import CanaryLedger, Judgment
from splitlab.store.registry import format_time, parse_time
from splitlab.store.registry_backend import RegistryBackend

logger = logging.getLogger(__name__)

#: Who the monitor's changes are recorded as.
BY = "canary monitor"

IntervalData = dict[int, dict[str, IntervalArm]]


class CanaryStore(Protocol):
    """What the monitor needs from the event store (DuckDB or ClickHouse)."""

    def canary_intervals(
        self,
        experiment: Experiment,
        metrics: Sequence[CanaryMetric],
        *,
        start: datetime,
        end: datetime,
        interval_seconds: int,
    ) -> CanaryData: ...


#: ``judge(design, data, *, alpha, step, baseline, canary) -> CanaryJudgment``.
JudgeFn = Callable[..., Any]


def _real_judge() -> JudgeFn:
    from splitlab.stats.canary import judge

    return judge


@dataclass(frozen=True)
class CanaryOutcome:
    """What one pass did to one canary: ``start`` (step 0 began), or a recorded judgment."""

    experiment_id: str
    action: str
    step: int
    reason: str
    judgment: Judgment | None = None


def design_of(experiment: Experiment) -> CanaryDesign:
    """The canary design, or an :class:`EvaluationError` naming the experiment's kind."""
    design = experiment.design
    if not isinstance(design, CanaryDesign):
        kind = "classic" if design is None else design.type
        raise EvaluationError(
            f"design.type: experiment {experiment.id!r} is a {kind} experiment, not a canary "
            "(expected design.type 'canary')",
            field="design.type",
            value=kind,
            expected="canary",
        )
    return design


def canary_arm(experiment: Experiment) -> str:
    """The canary variant: the one that is not the baseline (the control)."""
    return next(v for v in experiment.variant_names if v != experiment.control)


def judge_canary(
    store: CanaryStore,
    registry: RegistryBackend,
    experiment_id: str,
    *,
    now: datetime | None = None,
    ledger: CanaryLedger,
    judge: JudgeFn | None = None,
    force: bool = False,
) -> CanaryOutcome | None:
    """Judge one running canary now and act (see the module docstring).

    Returns None when nothing is due: no interval closed since the step's last judgment
    (``force`` judges the closed intervals anyway, e.g. on request through the API).
    """
    now = now or datetime.now(UTC)
    experiment = registry.get(experiment_id)
    design = design_of(experiment)
    if experiment.status is not Status.RUNNING:
        raise EvaluationError(
            f"status: canary {experiment_id!r} is {experiment.status.value!r} (expected "
            "running: only a running canary is judged)",
            field="status",
            value=experiment.status.value,
            expected="running",
        )
    if design.step_started_at is None:
        return _start(registry, experiment, design, now)
    start = parse_time(design.step_started_at)
    interval = timedelta(minutes=design.interval_minutes)
    closed = max(0, math.floor((now - start) / interval))
    if closed == 0:
        return None
    latest = ledger.judgments(experiment_id, last=True)
    previous = latest[0].to_dict() if latest else {}
    same_step = previous.get("stepStartedAt") == design.step_started_at
    judged = int(previous.get("intervals", 0)) if same_step else 0
    if closed <= judged and not force:
        return None
    end = start + closed * interval
    read = store.canary_intervals(
        experiment,
        design.metrics,
        start=start,
        end=end,
        interval_seconds=design.interval_minutes * 60,
    )
    data = read.intervals
    ordered = {name: [iv[k] for k in sorted(iv)] for name, iv in data.items()}
    canary = canary_arm(experiment)
    verdict = (judge or _real_judge())(
        design,
        ordered,
        alpha=experiment.evaluation.alpha,
        step=design.step,
        baseline=experiment.control,
        canary=canary,
        step_totals=read.steps,
        clustered=read.clustered,
    )
    requests = _requests(data, (experiment.control, canary))
    step = design.canary_steps[design.step]
    lasted = (now - start) >= timedelta(minutes=step.min_minutes or 0)
    action, reason = _decide(verdict, design, requests, lasted, closed)
    document = {
        "experimentId": experiment_id,
        "at": format_time(now),
        "step": design.step,
        "percent": step.percent,
        "stepStartedAt": design.step_started_at,
        "intervals": closed,
        "windowEnd": format_time(end),
        "requests": requests,
        "verdict": verdict.verdict,
        "action": action,
        "reason": reason,
        "judgment": _finite(verdict.to_dict()),
        "distributions": _distributions(design, data, experiment.control, canary),
    }
    with registry.transaction():
        record = ledger.append(
            experiment_id,
            at=now,
            step=design.step,
            verdict=verdict.verdict,
            action=action,
            document=document,
        )
        details = {"judgment": record.seq, "verdict": verdict.verdict, "step": design.step}
        if action == "rollback":
            lifecycle.change_status(
                registry, experiment_id, Status.ROLLED_BACK, by=BY, reason=reason,
                details=details, now=now,
            )  # fmt: skip
        elif action == "promote":
            lifecycle.change_status(
                registry, experiment_id, Status.SHIPPED, by=BY, reason=reason,
                variant=canary, details=details, now=now,
            )  # fmt: skip
        elif action == "advance":
            _set_step(registry, experiment, design, design.step + 1, now, reason, details)
    logger.info("%s canary step %d: %s (%s)", experiment_id, design.step, action, reason)
    return CanaryOutcome(experiment_id, action, design.step, reason, record)


def _start(
    registry: RegistryBackend, experiment: Experiment, design: CanaryDesign, now: datetime
) -> CanaryOutcome:
    began = min(launched_at(registry, experiment), now)
    step = design.canary_steps[design.step]
    reason = f"canary launched: step {design.step} ({step.percent:g} % canary) starts"
    _set_step(registry, experiment, design, design.step, began, reason, {}, at=now)
    return CanaryOutcome(experiment.id, "start", design.step, reason)


def _set_step(
    registry: RegistryBackend,
    experiment: Experiment,
    design: CanaryDesign,
    step: int,
    started: datetime,
    reason: str,
    details: dict[str, Any],
    *,
    at: datetime | None = None,
) -> None:
    new = design.model_copy(update={"step": step, "step_started_at": format_time(started)})
    changed = experiment.model_copy(
        update={"design": new, "traffic_allocation": new.allocation(step)}
    )
    automatic.apply_automatic_change(
        registry, changed, kind="canary_step", by=BY, reason=reason,
        details={
            **details,
            "toStep": step,
            "stepStartedAt": new.step_started_at,
            "trafficAllocation": new.allocation(step),
        },
        now=at or started,
    )  # fmt: skip


def _requests(data: Mapping[str, IntervalData], arms: Sequence[str]) -> dict[str, int]:
    """Requests per arm in the step: the most events of any one metric (one per request)."""
    return {
        arm: max(
            (sum(iv[arm].n for iv in per.values() if arm in iv) for per in data.values()),
            default=0,
        )
        for arm in arms
    }


def _decide(
    verdict: Any, design: CanaryDesign, requests: Mapping[str, int], lasted: bool, closed: int
) -> tuple[str, str]:
    steps = design.canary_steps
    step = steps[design.step]
    where = f"step {design.step} ({step.percent:g} % canary), {closed} interval(s) judged"
    failed = [m for m in verdict.metrics if m.verdict == "fail"]
    if failed or verdict.verdict == "fail":
        names = "; ".join(_metric_line(m) for m in failed) or "the judgment failed"
        return "rollback", f"canary failed at {where}: {names}"
    if verdict.verdict != "pass":
        pending = ", ".join(m.name for m in verdict.metrics if m.verdict != "pass")
        return "wait", f"not yet conclusive at {where}: {pending or verdict.verdict}"
    if not lasted:
        return "wait", f"every metric passes at {where}; the step lasts {step.min_minutes} min"
    short = {a: n for a, n in requests.items() if n < step.min_requests}
    if short:
        counts = ", ".join(f"{a} {n}" for a, n in short.items())
        return "wait", (
            f"every metric passes at {where}; waiting for {step.min_requests} requests per "
            f"arm (so far {counts})"
        )
    if design.step + 1 < len(steps):
        nxt = steps[design.step + 1]
        return "advance", f"every metric passes at {where}: advancing to {nxt.percent:g} %"
    return "promote", f"every metric passes at {where}, the last judged step: promoting"


def _metric_line(m: Any) -> str:
    unit = " (relative)" if getattr(m, "tolerance_type", "") == "relative" else ""
    return (
        f"{m.name} ({m.kind}) effect {_num(m.estimate)} [{_num(m.lower)}, {_num(m.upper)}] "
        f"beyond the tolerance {_num(m.tolerance)}{unit} in the bad direction "
        f"({m.bad_direction}): {m.reason}"
    )


def _num(x: Any) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.4g}"


def _finite(data: Any) -> Any:
    """``data`` with non-finite numbers as None (the ledger's JSON has no NaN)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, Mapping):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    return data


def _distributions(
    design: CanaryDesign, data: Mapping[str, IntervalData], baseline: str, canary: str
) -> dict[str, Any]:
    """The step's merged sketch per arm of each mann_whitney/quantile metric."""
    out: dict[str, Any] = {}
    for m in design.metrics:
        if m.kind not in ("mann_whitney", "quantile"):
            continue
        arms: dict[str, Any] = {}
        for role, arm in (("baseline", baseline), ("canary", canary)):
            merged = None
            for iv in data[m.name].values():
                sketch = iv[arm].sketch if arm in iv else None
                if sketch is not None:
                    merged = sketch if merged is None else merged + sketch
            arms[role] = None if merged is None else merged.to_dict()
        out[m.name] = arms
    return out


class CanaryMonitor:
    """One pass over every running canary (:meth:`run_once`), for a scheduler thread."""

    def __init__(
        self,
        store: Any,
        registry: RegistryBackend,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ledger: CanaryLedger | None = None,
        judge: JudgeFn | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        self.ledger = ledger if ledger is not None else CanaryLedger.for_store(registry)
        self.judge = judge

    def run_once(self) -> list[CanaryOutcome]:
        """Judge every running canary that has a closed interval since its last judgment;
        a failure of one is logged and the pass goes on."""
        now = self.clock()
        outcomes: list[CanaryOutcome] = []
        for experiment in self.registry.experiments():
            if not experiment.is_canary or experiment.status is not Status.RUNNING:
                continue
            for _ in range(2):  # a canary started in this pass is judged in it too
                try:
                    outcome = judge_canary(
                        self.store, self.registry, experiment.id, now=now,
                        ledger=self.ledger, judge=self.judge,
                    )  # fmt: skip
                except SplitlabError as exc:  # one broken canary never stops the others
                    logger.error("%s: canary judgment failed: %s", experiment.id, exc)
                    break
                if outcome is None:
                    break
                outcomes.append(outcome)
                if outcome.action != "start":
                    break
        return outcomes
