"""A holdout's look is a report: real assignment, real events, real DuckDB store and ledger.

Whatever the data say (a big lift, a breached guardrail, the final look) and whatever the
policy allows (``autoDeploy``), a look never ships, rolls back or stops a holdout; the
lifecycle refuses a rollback, a ship or a toggle of one. SRM is checked against the split
the holdout's percent implies.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps

from splitlab.config import Status
from splitlab.evaluation import Scheduler, run_look
from splitlab.evaluation.errors import ToggleError, TransitionError
from splitlab.evaluation.lifecycle import change_status, set_toggle
from splitlab.store.duckdb_store import DuckDBStore
from splitlab.store.registry import Registry

from .conftest import T0, definition, register
from .simulate import Traffic, day, send
from .test_scheduler import FakeClock

HOLDOUT = "holdout-growth"
VARIANTS = ["held-out", "everyone-else"]


def _holdout(**overrides: Any) -> dict[str, Any]:
    raw = definition(
        experimentId=HOLDOUT,
        variants=VARIANTS,
        status="running",
        design={"type": "holdout", "percent": 20, "scope": {"tags": ["growth"]}},
        evaluation={"maxPeeks": 2, "minSampleSize": 4000},
        rollback={"autoDeploy": True},
    )
    raw.update(overrides)
    return raw


#: The shipped changes lifted checkout from 10% to 20% and broke the error-rate guardrail.
RATES = {
    "checkout": {"held-out": 0.10, "everyone-else": 0.20},
    "error_rate": {"held-out": 0.01, "everyone-else": 0.09},
}


def _look(store: DuckDBStore, registry: Registry, d: int, rng: np.random.Generator) -> Any:
    experiment = registry.get(HOLDOUT)
    send(store, experiment, Traffic(d * 6000, 6000, RATES), day(T0, d), rng)
    cutoff = day(T0, d + 1)
    return run_look(store, registry, HOLDOUT, cutoff=cutoff, now=cutoff).to_dict()


def test_a_holdout_look_reports_and_never_acts(store: DuckDBStore) -> None:
    """A clear lift and a breached rollback guardrail, with autoDeploy: the first look says
    "keep running" with the lift of everyone else vs held out; the final look proposes to
    stop. No action is recorded and the status stays running."""
    registry = register(store, _holdout())
    rng = np.random.default_rng(5)
    first = _look(store, registry, 0, rng)
    assert first["decision"]["action"] == "continue"
    reasons = first["decision"]["reasons"]
    assert reasons[0].startswith("Keep the holdout running until its planned end (look 1 of 2)")
    moved = next(r for r in reasons if "moved checkout" in r)
    assert moved.startswith("Holdout: the shipped changes in scope moved checkout by +")
    assert "everyone else vs held out (significantly better)" in moved
    error = next(r for r in reasons if "moved error_rate (guardrail)" in r)
    assert "the guardrail is breached" in error
    assert first["actions"] == []
    last = _look(store, registry, 1, rng)
    assert last["decision"]["action"] == "stop"
    assert "reached its planned end (look 2 of 2)" in last["decision"]["reasons"][0]
    assert last["decision"]["reasons"][-1].startswith("Report only")
    assert last["actions"] == []
    assert registry.get(HOLDOUT).status is Status.RUNNING
    assert registry.changes(HOLDOUT) == []  # registered running; no look changed anything


def test_the_lift_quoted_is_the_comparisons_own(store: DuckDBStore) -> None:
    """The sentence's numbers are the relative interval of the comparison it reports."""
    registry = register(store, _holdout())
    look = _look(store, registry, 0, np.random.default_rng(6))
    checkout = next(m for m in look["results"]["metrics"] if m["name"] == "checkout")
    (c,) = checkout["comparisons"]
    assert (c["control"], c["variant"]) == ("held-out", "everyone-else")
    rel = c["relative"]
    text = (
        f"by {rel['estimate'] * 100:+.2f}% (CI {rel['lower'] * 100:+.2f}% to "
        f"{rel['upper'] * 100:+.2f}%)"
    )
    assert any(text in r for r in look["decision"]["reasons"])


def test_srm_expects_the_holdout_percent(store: DuckDBStore) -> None:
    """The expected shares are percent/100 and 1 - percent/100, and traffic assigned by the
    holdout's own split passes the check."""
    registry = register(store, _holdout())
    look = _look(store, registry, 0, np.random.default_rng(7))
    srm = look["results"]["srm"]
    assert srm["expectedShares"] == pytest.approx({"held-out": 0.2, "everyone-else": 0.8})
    assert not srm["detected"]
    counts = [srm["counts"]["held-out"], srm["counts"]["everyone-else"]]
    n = sum(counts)
    # scipy.stats.chisquare against percent / 100 held out and the rest
    ref = sps.chisquare(counts, [0.2 * n, 0.8 * n])
    assert srm["pValue"] == pytest.approx(ref.pvalue, rel=1e-9)


def test_the_lifecycle_refuses_rollback_ship_and_toggle(store: DuckDBStore) -> None:
    """A holdout ends only by being stopped; each refusal names the field and what is allowed."""
    registry = register(store, _holdout())
    for target, variant in ((Status.ROLLED_BACK, None), (Status.SHIPPED, "everyone-else")):
        with pytest.raises(TransitionError, match="is a holdout, which is never") as caught:
            change_status(registry, HOLDOUT, target, by="t", reason="r", variant=variant)
        assert caught.value.field == "status"
    with pytest.raises(ToggleError, match="forcedVariant: 'holdout-growth' is a holdout"):
        set_toggle(registry, HOLDOUT, "held-out", by="t", reason="r")
    assert registry.get(HOLDOUT).status is Status.RUNNING
    stopped = change_status(registry, HOLDOUT, Status.STOPPED, by="t", reason="planned end")
    assert stopped.status is Status.STOPPED


def test_the_scheduler_takes_the_holdouts_looks_and_acts_on_none(store: DuckDBStore) -> None:
    """Driven by the scheduler through its whole plan (a clear lift, a breached guardrail,
    autoDeploy): both looks are taken and recorded, and the holdout is still running with no
    status change, so its held-out units stay held out."""
    registry = register(store, _holdout(evaluation={"maxPeeks": 2, "minSampleSize": 4000,
                                                    "schedule": "daily_0900_utc"}))  # fmt: skip
    rng = np.random.default_rng(8)
    for d in range(2):
        send(store, registry.get(HOLDOUT), Traffic(d * 6000, 6000, RATES), day(T0, d), rng)
    clock = FakeClock(T0 + timedelta(hours=1))
    scheduler = Scheduler(store, registry, clock=clock, sleep=clock.sleep, poll_seconds=3600)
    records = scheduler.run(until=T0 + timedelta(days=3))
    assert [(r.number, r.action) for r in records] == [(1, "continue"), (2, "stop")]
    assert registry.get(HOLDOUT).status is Status.RUNNING
    assert registry.changes(HOLDOUT) == []


def test_the_share_held_out_cannot_change_while_the_holdout_is_live(store: DuckDBStore) -> None:
    """Changing a running (or paused) holdout's percent would move units between its groups:
    refused, naming design.percent, both values and what to do instead."""
    from splitlab.config import load_experiment
    from splitlab.evaluation import update_definition

    registry = register(store, _holdout())
    wider = _holdout(design={"type": "holdout", "percent": 30, "scope": {"tags": ["growth"]}})
    for status in (Status.RUNNING, Status.PAUSED):
        if status is Status.PAUSED:
            change_status(registry, HOLDOUT, Status.PAUSED, by="t", reason="r")
        with pytest.raises(TransitionError) as caught:
            update_definition(
                registry, load_experiment({**wider, "status": status.value}), by="t", reason="r"
            )
        assert caught.value.field == "design.percent"
        assert "(registered 20, got 30)" in str(caught.value)
        assert "start a new one" in str(caught.value)
    assert registry.get(HOLDOUT).design == load_experiment(_holdout()).design
