"""The interval monitor: an opted-in experiment's guardrails are checked every interval with
always-valid inference, and a breach rolls it back within that interval."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from splitlab.config import Status, load_experiment
from splitlab.evaluation.lifecycle import history, register
from splitlab.evaluation.look import replay_look
from splitlab.evaluation.monitor import BY, GuardrailMonitor
from splitlab.store import DuckDBStore
from splitlab.store.registry import Registry
from splitlab.tracking.events import Event

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EXP = "exp-monitored"


def definition(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "experimentId": EXP,
        "status": "running",
        "variants": ["control", "treatment"],
        "assignment": {"salt": "m-1"},
        "metrics": {
            "primary": {"name": "checkout", "type": "conversion"},
            "guardrails": [{"name": "error_rate", "threshold": 0.02, "action": "rollback"}],
        },
        "evaluation": {"maxPeeks": 3, "minSampleSize": 1000, "monitor": {"intervalMinutes": 5}},
        "rollback": {"enabled": True, "conditions": ["guardrail_breach"]},
    }
    raw.update(overrides)
    return raw


def traffic(error_rates: dict[str, float], seed: int, start: datetime) -> list[Event]:
    """2,000 units per variant in the first four minutes; each errs with its variant's rate."""
    rng = np.random.default_rng(seed)
    ids = itertools.count()
    t = int(start.timestamp() * 1000)
    events: list[Event] = []
    for variant, rate in error_rates.items():
        for i in range(2000):
            unit, ts = f"{variant}-{i}", t + int(rng.integers(0, 240_000))
            events.append(Event(f"x{next(ids)}", "exposure", EXP, variant, unit, ts))
            if rng.random() < rate:
                events.append(
                    Event(f"m{next(ids)}", "metric", EXP, variant, unit, ts + 1, "error_rate", 1.0)
                )
    return events


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[DuckDBStore, Registry]]:
    store = DuckDBStore(tmp_path / "m.duckdb", load_interval_s=0.02)
    yield store, Registry.for_store(store)
    store.close()


def test_a_breach_rolls_back_within_one_interval(db: tuple[DuckDBStore, Registry]) -> None:
    store, registry = db
    register(registry, load_experiment(definition()), by="test", reason="launch", now=T0)
    store.ingest(traffic({"control": 0.01, "treatment": 0.12}, 3, T0))
    now = T0 + timedelta(minutes=4)
    monitor = GuardrailMonitor(store, registry, clock=lambda: now)
    assert monitor.run_once() == []  # not due before one interval
    now = T0 + timedelta(minutes=5)
    (check,) = monitor.run_once()
    assert check.rolled_back and check.breached[0]["metric"] == "error_rate"
    assert registry.get(EXP).status is Status.ROLLED_BACK
    change = history(registry, EXP)[-1]
    assert change.by == BY and "error_rate (treatment)" in change.reason
    assert check.record.peek and check.record.triggered_by == BY
    assert registry.planned_looks_taken(EXP) == 0  # a check is never a planned look
    assert replay_look(check.record) == check.record.document


def test_healthy_experiment_is_checked_each_interval_and_keeps_running(
    db: tuple[DuckDBStore, Registry],
) -> None:
    store, registry = db
    register(registry, load_experiment(definition()), by="test", reason="launch", now=T0)
    store.ingest(traffic({"control": 0.01, "treatment": 0.01}, 4, T0))
    now = T0 + timedelta(minutes=5)
    monitor = GuardrailMonitor(store, registry, clock=lambda: now)
    (check,) = monitor.run_once()
    assert not check.breached and not check.rolled_back
    assert monitor.run_once() == []  # the next check is due one interval later
    now = T0 + timedelta(minutes=10)
    assert len(monitor.run_once()) == 1
    assert registry.get(EXP).status is Status.RUNNING


def test_a_breach_without_automatic_rollback_is_only_recorded(
    db: tuple[DuckDBStore, Registry],
) -> None:
    store, registry = db
    raw = definition(rollback={"enabled": False})
    register(registry, load_experiment(raw), by="test", reason="launch", now=T0)
    store.ingest(traffic({"control": 0.01, "treatment": 0.12}, 5, T0))
    monitor = GuardrailMonitor(store, registry, clock=lambda: T0 + timedelta(minutes=5))
    (check,) = monitor.run_once()
    assert check.breached and not check.rolled_back
    assert registry.get(EXP).status is Status.RUNNING


def test_experiments_without_the_monitor_are_left_alone(
    db: tuple[DuckDBStore, Registry],
) -> None:
    store, registry = db
    raw = definition(evaluation={"maxPeeks": 3})
    register(registry, load_experiment(raw), by="test", reason="launch", now=T0)
    monitor = GuardrailMonitor(store, registry, clock=lambda: T0 + timedelta(hours=5))
    assert monitor.run_once() == []
