"""A canary driven end to end: users assigned from the registry's definitions, their requests
ingested into the real DuckDB store, and the canary monitor run after every interval with a
clock the test controls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from splitlab.assignment.service import ExperimentAssignmentService
from splitlab.config import Status
from splitlab.evaluation.canary import CanaryMonitor, CanaryOutcome
from splitlab.evaluation.lifecycle import register
from splitlab.store import DuckDBStore
from splitlab.store.registry import Registry
from splitlab.tracking.events import Event
from tests.canary.canary_helpers import EXPERIMENT_ID, T0, canary_experiment, exposure, metric

#: Whether the canary is slow at a traffic allocation (its p99 latency regresses under load).
SlowAt = Callable[[float], bool]


@dataclass
class Run:
    outcomes: list[CanaryOutcome] = field(default_factory=list)
    #: unit -> the variant it was first served
    first_variant: dict[str, str] = field(default_factory=dict)
    #: units served another variant than their first while the canary ran
    moved: set[str] = field(default_factory=set)
    allocations: list[float] = field(default_factory=list)
    service: ExperimentAssignmentService | None = None


def simulate(
    store: DuckDBStore,
    registry: Registry,
    *,
    seed: int,
    slow_at: SlowAt,
    users: int = 3000,
    per_interval: int = 4,
    max_intervals: int = 12,
    monitor_kwargs: dict[str, object] | None = None,
    design: dict[str, Any] | None = None,
    slow_factor: float = 4.0,
) -> Run:
    """Run the canary interval by interval until it is finished (or ``max_intervals``)."""
    rng = np.random.default_rng(seed)
    now = T0
    register(
        registry,
        canary_experiment(**(design or {})),
        by="test",
        reason="launch the canary",
        now=now,
    )
    monitor = CanaryMonitor(store, registry, clock=lambda: now, **(monitor_kwargs or {}))  # type: ignore[arg-type]
    run = Run()
    run.outcomes += monitor.run_once()  # starts step 0
    interval = timedelta(minutes=5)
    for _ in range(max_intervals):
        experiment = registry.get(EXPERIMENT_ID)
        if experiment.status is not Status.RUNNING:
            break
        service = ExperimentAssignmentService([experiment])
        run.allocations.append(experiment.traffic_allocation)
        slow = slow_factor if slow_at(experiment.traffic_allocation) else 0.0
        events = _interval_events(rng, service, run, now, interval, users, per_interval, slow)
        store.ingest(events)
        now = now + interval + timedelta(seconds=1)
        run.outcomes += monitor.run_once()
        now = now - timedelta(seconds=1)
    run.service = ExperimentAssignmentService([registry.get(EXPERIMENT_ID)])
    return run


def _interval_events(
    rng: np.random.Generator,
    service: ExperimentAssignmentService,
    run: Run,
    start: datetime,
    span: timedelta,
    users: int,
    per_interval: int,
    slow: float,
) -> list[Event]:
    start_ms = int(start.timestamp() * 1000)
    span_ms = int(span.total_seconds() * 1000)
    events: list[Event] = []
    for i in range(users):
        unit = f"user-{i}"
        variant = service.assign(unit, EXPERIMENT_ID).variant
        if variant is None:
            continue
        first = run.first_variant.setdefault(unit, variant)
        if first != variant:
            run.moved.add(unit)
        times = np.sort(rng.integers(start_ms, start_ms + span_ms, per_interval))
        events.append(exposure(unit, variant, int(times[0])))
        errors = rng.random(per_interval) < 0.01
        latency = np.round(rng.lognormal(4.0, 0.4, per_interval))
        if slow and variant == "canary":
            latency = np.where(rng.random(per_interval) < 0.05, latency * slow, latency)
        for ts, err, lat in zip(times, errors, latency, strict=True):
            events.append(metric(unit, variant, int(ts), "errors", float(err)))
            events.append(metric(unit, variant, int(ts), "latency", float(lat)))
    return events
