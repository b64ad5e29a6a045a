"""A sticky experiment whose weights change mid-way, assigned and tracked for real
(assignment service with a sticky store -> events -> DuckDBStore); shared by the evaluation
and dashboard tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np

from splitlab.assignment import ExperimentAssignmentService
from splitlab.assignment.sticky import MemoryStickyStore
from splitlab.config import Experiment, load_experiment
from splitlab.evaluation import register, update_definition
from splitlab.store.duckdb_store import DuckDBStore
from splitlab.store.registry import Registry
from splitlab.tracking.events import Event

from .conftest import T0, definition
from .simulate import ms

CHANGE = T0 + timedelta(days=2)
NOW = T0 + timedelta(days=4)


def sticky(weights: tuple[float, float] = (0.5, 0.5), **over: Any) -> Experiment:
    raw = definition(
        status="running",
        variants=[
            {"name": "control", "weight": weights[0]},
            {"name": "treatment", "weight": weights[1]},
        ],
        assignment={"hashKey": "userId", "salt": "s-1", "sticky": True},
        metrics={"primary": {"name": "revenue", "type": "continuous"}},
        evaluation={"maxPeeks": 3, "minSampleSize": 1000, "sequential": {"method": "none"}},
    )
    raw.update(over)
    return load_experiment(raw)


def reweighted(experiment: Experiment, weights: tuple[float, float]) -> Experiment:
    raw = experiment.to_wire()
    for v, w in zip(raw["variants"], weights, strict=True):
        v["weight"] = w
    return load_experiment(raw)


def traffic(
    store: DuckDBStore,
    service: ExperimentAssignmentService,
    exp: Experiment,
    ids: list[str],
    start: int,
    base: float,
    rng: np.random.Generator,
    values: dict[str, tuple[str, float]],
) -> None:
    """Expose `ids` from `start` (ms); a unit seen for the first time spends gamma(base)."""
    events: list[Event] = []
    for i, (unit, a) in enumerate(zip(ids, service.assign_many(exp.id, ids), strict=True)):
        assert a.variant is not None
        ts = start + i * 1000
        events.append(Event(f"x-{unit}-{ts}", "exposure", exp.id, a.variant, unit, ts))
        if unit in values:
            assert values[unit][0] == a.variant  # sticky: the first variant is kept
            continue
        value = float(rng.gamma(4.0, base / 4.0))
        values[unit] = (a.variant, value)
        events.append(
            Event(f"r-{unit}", "metric", exp.id, a.variant, unit, ts + 1, "revenue", value)
        )
    store.ingest(events)


def reweighted_mid_way(
    store: DuckDBStore, registry: Registry, definition: Experiment | None = None
) -> tuple[Experiment, dict[str, tuple[str, float]]]:
    """A sticky experiment launched 50/50 at T0 and reweighted to 20/80 at CHANGE, with its
    traffic in `store`: 2,000 units before the change (baseline 10), then 500 of them back
    (they keep their variant and their version) and 2,000 new units (baseline 13: a time
    trend; no true effect anywhere). `definition`: another sticky 50/50 definition to launch.
    Returns the experiment and each unit's (variant, value).
    """
    rng = np.random.default_rng(20261204)
    exp = register(registry, definition or sticky(), by="ana", reason="launch", now=T0)
    kept = MemoryStickyStore()
    values: dict[str, tuple[str, float]] = {}
    first = [f"u{i}" for i in range(2000)]
    traffic(
        store, ExperimentAssignmentService([exp], sticky=kept), exp, first,
        ms(T0) + 3_600_000, 10.0, rng, values,
    )  # fmt: skip
    new = reweighted(exp, (0.2, 0.8))
    update_definition(registry, new, by="ana", reason="more treatment", now=CHANGE)
    second = [f"u{i}" for i in range(1500, 4000)]
    traffic(
        store, ExperimentAssignmentService([new], sticky=kept), new, second,
        ms(CHANGE) + 3_600_000, 13.0, rng, values,
    )  # fmt: skip
    return exp, values
