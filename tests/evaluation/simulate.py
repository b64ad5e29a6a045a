"""Seeded traffic for the end-to-end tests: real assignment, real events, real store.

Units are assigned with :class:`ExperimentAssignmentService`; each assigned unit gets one
exposure event (optionally lost, to inject an SRM) and, with the probability set for its
variant, one metric event per conversion metric. Everything goes through
``DuckDBStore.ingest``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from splitlab.assignment import ExperimentAssignmentService
from splitlab.config import Experiment
from splitlab.store.duckdb_store import DuckDBStore
from splitlab.tracking.events import Event


@dataclass(frozen=True)
class Traffic:
    """One batch of simulated traffic.

    ``rates[metric][variant]`` is the chance that a unit of that variant converts on that
    metric; ``lose_exposures[variant]`` the share of that variant's units whose exposure (and
    everything after it) never reaches the store; ``attributes`` maps attribute name to the
    values drawn uniformly at exposure (segments).
    """

    start: int
    units: int
    rates: Mapping[str, Mapping[str, float]]
    lose_exposures: Mapping[str, float] | None = None
    attributes: Mapping[str, tuple[str, ...]] | None = None


def ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return int(moment.timestamp() * 1000)


def send(
    store: DuckDBStore,
    experiment: Experiment,
    traffic: Traffic,
    at: datetime,
    rng: np.random.Generator,
) -> dict[str, int]:
    """Assign, expose and convert `traffic.units` units at `at`; returns exposures per variant."""
    service = ExperimentAssignmentService([experiment])
    ids = [f"u{traffic.start + i}" for i in range(traffic.units)]
    assignments = service.assign_many(experiment.id, ids)
    lose = traffic.lose_exposures or {}
    events: list[Event] = []
    exposed: dict[str, int] = {}
    t0 = ms(at)
    for i, (unit, a) in enumerate(zip(ids, assignments, strict=True)):
        if a.variant is None:
            continue
        variant = a.variant
        if rng.random() < lose.get(variant, 0.0):
            continue
        attrs = {
            name: values[int(rng.integers(len(values)))]
            for name, values in (traffic.attributes or {}).items()
        }
        exposed[variant] = exposed.get(variant, 0) + 1
        ts = t0 + i
        events.append(
            Event(
                f"x-{unit}", "exposure", experiment.id, variant, unit, ts, attributes=attrs or None
            )
        )
        for metric, by_variant in traffic.rates.items():
            if rng.random() < by_variant.get(variant, 0.0):
                events.append(
                    Event(
                        f"m-{metric}-{unit}",
                        "metric",
                        experiment.id,
                        variant,
                        unit,
                        ts + 60_000,
                        metric=metric,
                        value=1.0,
                    )
                )
    for k in range(0, len(events), 5000):
        store.ingest(events[k : k + 5000])
    return exposed


def day(start: datetime, n: int) -> datetime:
    """`start` plus n days."""
    return start + timedelta(days=n)
