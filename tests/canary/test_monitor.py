"""The canary monitor end to end: real DuckDB store and registry, assignment from the
registry's definitions, a clock the test controls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from splitlab.config import Status
from splitlab.evaluation.lifecycle import history
from splitlab.store import DuckDBStore
from splitlab.store.canary_ledger import CanaryLedger
from splitlab.store.registry import Registry
from tests.canary.canary_helpers import EXPERIMENT_ID
from tests.canary.simulation import simulate

#: Enough intervals for step 0 (5 % canary) to show the latency metrics within tolerance.
INTERVALS = 30


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[DuckDBStore, Registry]]:
    store = DuckDBStore(tmp_path / "canary.duckdb", load_interval_s=0.02)
    yield store, Registry.for_store(store)
    store.close()


def test_a_healthy_canary_advances_step_by_step_and_is_promoted(
    db: tuple[DuckDBStore, Registry],
) -> None:
    store, registry = db
    run = simulate(store, registry, seed=1, slow_at=lambda _: False, max_intervals=INTERVALS)
    final = registry.get(EXPERIMENT_ID)
    assert final.status is Status.SHIPPED and final.shipped_variant == "canary"
    actions = [o.action for o in run.outcomes]
    assert actions[0] == "start"
    assert [a for a in actions if a != "wait"] == ["start", "advance", "advance", "promote"]
    assert sorted(set(run.allocations)) == [0.1, 0.5, 1.0]
    assert run.allocations == sorted(run.allocations)  # the gate only rises
    assert not run.moved  # no exposed unit ever changed variant
    kinds = [c.kind for c in history(registry, EXPERIMENT_ID)]
    assert kinds.count("canary_step") == 3  # the launch and two advances
    assert kinds[-1] == "status"
    ledger = CanaryLedger.for_store(store).judgments(EXPERIMENT_ID)
    assert [j.action for j in ledger] == [o.action for o in run.outcomes[1:]]
    assert ledger[-1].to_dict()["distributions"]["latency"]["canary"]["count"] > 1000


def test_a_p99_regression_at_25_percent_is_rolled_back_at_that_step(
    db: tuple[DuckDBStore, Registry],
) -> None:
    store, registry = db
    run = simulate(store, registry, seed=2, slow_at=lambda a: a >= 0.5, max_intervals=INTERVALS)
    final = registry.get(EXPERIMENT_ID)
    assert final.status is Status.ROLLED_BACK
    last = run.outcomes[-1]
    assert last.action == "rollback" and last.step == 1
    rollback = history(registry, EXPERIMENT_ID)[-1]
    assert rollback.to_value == "rolled_back" and rollback.by == "canary monitor"
    assert "latency (quantile)" in rollback.reason and "step 1 (25 % canary)" in rollback.reason
    assert "tolerance" in rollback.reason
    assert not run.moved
    assert run.service is not None
    served = {run.service.assign(f"user-{i}", EXPERIMENT_ID).variant for i in range(3000)}
    assert served == {"baseline"}  # everyone gets the baseline from the next refresh
