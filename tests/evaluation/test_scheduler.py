"""The scheduler with an injected clock: looks at each tick, with the tick as data cut-off."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from splitlab.evaluation import Scheduler, change_status, due_looks
from splitlab.store.duckdb_store import DuckDBStore

from .conftest import T0, definition, register
from .simulate import Traffic, send

RATES = {"checkout": {"control": 0.1, "treatment": 0.1}}


class FakeClock:
    """A clock that only moves when the scheduler sleeps."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


def test_daily_schedule_runs_one_look_per_tick_until_the_plan_is_done(
    store: DuckDBStore,
) -> None:
    """daily_0900_utc from 10:00 on day 0: looks at 09:00 of days 1 and 2, then maxPeeks stops."""
    raw = definition(status="running", evaluation={"maxPeeks": 2, "schedule": "daily_0900_utc"})
    registry = register(store, raw)
    send(store, registry.get("exp-eval"), Traffic(0, 500, RATES), T0, np.random.default_rng(1))
    clock = FakeClock(T0 + timedelta(hours=1))
    scheduler = Scheduler(store, registry, clock=clock, sleep=clock.sleep, poll_seconds=3600)
    records = scheduler.run(until=T0 + timedelta(days=4))
    assert [r.cutoff for r in records] == [T0 + timedelta(days=1), T0 + timedelta(days=2)]
    assert [r.triggered_by for r in records] == ["scheduler", "scheduler"]
    assert [r.number for r in records] == [1, 2]
    assert max(clock.sleeps) <= 3600


def test_nothing_is_due_twice_or_before_launch_or_when_paused(store: DuckDBStore) -> None:
    """A tick already looked at, a tick before launch, and a paused experiment give no look."""
    raw = definition(status="draft", evaluation={"schedule": "hourly"})
    registry = register(store, raw)
    change_status(
        registry, "exp-eval", "running", by="a", reason="go", now=T0 + timedelta(minutes=30)
    )
    assert due_looks(registry, T0 + timedelta(minutes=59)) == []
    clock = FakeClock(T0 + timedelta(hours=1, minutes=5))
    scheduler = Scheduler(store, registry, clock=clock, sleep=clock.sleep)
    assert len(scheduler.run_once()) == 1
    assert scheduler.run_once() == []
    change_status(registry, "exp-eval", "paused", by="a", reason="hold")
    clock.now += timedelta(hours=3)
    assert scheduler.run_once() == []
