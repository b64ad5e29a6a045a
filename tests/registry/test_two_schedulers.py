"""Two schedulers (as on two server replicas) on one PostgreSQL registry take each planned
look exactly once, however their passes interleave."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from splitlab.config import load_experiment
from splitlab.evaluation import Scheduler, due_looks, run_look
from splitlab.evaluation.errors import LookTakenError
from splitlab.store.duckdb_store import DuckDBStore
from splitlab.store.registry import LookRecord
from tests.evaluation.conftest import T0, definition
from tests.evaluation.simulate import Traffic, send
from tests.pg_registry import PostgresDatabases

RATES = {"checkout": {"control": 0.1, "treatment": 0.1}}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    with DuckDBStore(tmp_path / "events.duckdb", load_interval_s=0.05) as s:
        yield s


def test_each_planned_look_is_taken_once_by_two_racing_schedulers(
    pg_databases: PostgresDatabases, store: DuckDBStore
) -> None:
    """Hourly looks, 4 ticks; at each tick both schedulers run a pass at the same moment
    (released together by a barrier): the ledger holds looks 1..4, one per tick."""
    dsn = pg_databases.new()
    first, second = pg_databases.connect(dsn), pg_databases.connect(dsn)
    raw = definition(status="running", evaluation={"maxPeeks": 4, "schedule": "hourly"})
    first.create(load_experiment(raw), at=T0)
    send(store, first.get("exp-eval"), Traffic(0, 400, RATES), T0, np.random.default_rng(3))
    taken: list[LookRecord] = []
    lock = threading.Lock()
    for hour in range(1, 5):
        now = T0 + timedelta(hours=hour, minutes=1)
        barrier = threading.Barrier(2)

        def one_pass(scheduler: Scheduler, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            records = scheduler.run_once()
            with lock:
                taken.extend(records)

        passes = [
            threading.Thread(target=one_pass, args=(Scheduler(store, r, clock=lambda n=now: n),))
            for r in (first, second)
        ]
        for t in passes:
            t.start()
        for t in passes:
            t.join()
    ledger = second.looks("exp-eval", include_peeks=False)
    assert [r.number for r in ledger] == [1, 2, 3, 4]
    assert [r.cutoff for r in ledger] == [T0 + timedelta(hours=h) for h in range(1, 5)]
    assert sorted(r.seq for r in taken) == [r.seq for r in ledger]  # each reported once
    first.close()
    second.close()


def test_a_look_found_due_before_another_scheduler_took_it_is_not_taken_again(
    pg_databases: PostgresDatabases, store: DuckDBStore
) -> None:
    """B finds the look due, A takes it, then B runs it: B records nothing (the ledger no
    longer holds the number of looks B saw), and A's look is the only one."""
    dsn = pg_databases.new()
    a, b = pg_databases.connect(dsn), pg_databases.connect(dsn)
    raw = definition(status="running", evaluation={"maxPeeks": 4, "schedule": "hourly"})
    a.create(load_experiment(raw), at=T0)
    send(store, a.get("exp-eval"), Traffic(0, 400, RATES), T0, np.random.default_rng(4))
    now = T0 + timedelta(hours=1, minutes=1)
    [stale] = due_looks(b, now)
    assert len(Scheduler(store, a, clock=lambda: now).run_once()) == 1
    with pytest.raises(LookTakenError, match="planned look 1 of 'exp-eval' was already taken"):
        run_look(store, b, stale.experiment_id, cutoff=stale.tick, triggered_by="scheduler",
                 now=now, after_looks=stale.planned)  # fmt: skip
    assert Scheduler(store, b, clock=lambda: now).run_once() == []
    assert [r.number for r in b.looks("exp-eval")] == [1]
    a.close()
    b.close()
