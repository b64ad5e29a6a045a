"""End to end: simulated traffic -> DuckDBStore -> look -> decision, ledger and status."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from splitlab.assignment import ExperimentAssignmentService, Reason
from splitlab.config import Status
from splitlab.evaluation import PeekLimitError, replay_look, run_look
from splitlab.store.duckdb_store import DuckDBStore
from splitlab.store.registry import Registry
from splitlab.tracking.events import Event

from .conftest import T0, definition, register
from .simulate import Traffic, day, ms, send

NO_ERRORS = {"control": 0.01, "variant-a": 0.01, "variant-b": 0.01, "treatment": 0.01}


def _three_arms(**overrides: Any) -> dict[str, Any]:
    raw = definition(
        variants=["control", "variant-a", "variant-b"],
        evaluation={"maxPeeks": 3, "minSampleSize": 2000},
        status="running",
    )
    raw.update(overrides)
    return raw


def _looks_over_three_days(
    store: DuckDBStore, registry: Registry, rates: dict[str, dict[str, float]], seed: int
) -> list[str]:
    """Send a day of traffic before each of three looks; return the three decisions."""
    rng = np.random.default_rng(seed)
    experiment = registry.get("exp-eval")
    actions = []
    # 5% more than a third of the planned units per day: the plan is complete at look 3.
    planned = experiment.evaluation.min_sample_size * len(experiment.variant_names)
    per_day = int(planned * 1.05 / 3)
    for d in range(3):
        send(store, experiment, Traffic(d * per_day, per_day, rates), day(T0, d), rng)
        cutoff = day(T0, d + 1)
        record = run_look(store, registry, "exp-eval", cutoff=cutoff, now=cutoff)
        actions.append(record.action)
    return actions


def test_true_effect_ships_the_right_variant_at_the_planned_look(store: DuckDBStore) -> None:
    """variant-b converts 14% vs 10%: the final look ships variant-b (proposed: autoDeploy off)."""
    registry = register(store, _three_arms())
    rates = {
        "checkout": {"control": 0.10, "variant-a": 0.10, "variant-b": 0.14},
        "error_rate": NO_ERRORS,
    }
    actions = _looks_over_three_days(store, registry, rates, seed=11)
    assert actions[-1] == "ship"
    last = registry.looks("exp-eval")[-1].to_dict()
    assert last["decision"]["variant"] == "variant-b"
    assert any("Proposed" in r for r in last["decision"]["reasons"])
    assert registry.get("exp-eval").status is Status.RUNNING


def test_auto_deploy_ships_and_everyone_gets_the_winner(store: DuckDBStore) -> None:
    """With autoDeploy the winning look sets status shipped; assign() then serves variant-b."""
    raw = _three_arms(
        rollback={"enabled": True, "conditions": ["guardrail_breach"], "autoDeploy": True}
    )
    registry = register(store, raw)
    rates = {
        "checkout": {"control": 0.10, "variant-a": 0.10, "variant-b": 0.14},
        "error_rate": NO_ERRORS,
    }
    actions = _looks_over_three_days(store, registry, rates, seed=12)
    assert actions[-1] == "ship"
    experiment = registry.get("exp-eval")
    assert (experiment.status, experiment.shipped_variant) == (Status.SHIPPED, "variant-b")
    answer = ExperimentAssignmentService([experiment]).assign("anyone", "exp-eval")
    assert (answer.variant, answer.reason) == ("variant-b", Reason.SHIPPED)
    change = registry.changes("exp-eval")[-1]
    assert (change.to_value, change.look) == ("shipped", 3)


def test_a_a_experiment_stops_at_the_final_look(store: DuckDBStore) -> None:
    """Equal arms: continue, continue, then stop (no effect) at the last planned look."""
    registry = register(store, definition(status="running"))
    rates = {"checkout": {"control": 0.1, "treatment": 0.1}, "error_rate": NO_ERRORS}
    actions = _looks_over_three_days(store, registry, rates, seed=5)
    assert actions == ["continue", "continue", "stop"]
    assert registry.get("exp-eval").status is Status.RUNNING


def test_srm_halts_and_rolls_back_then_assign_returns_control(store: DuckDBStore) -> None:
    """treatment loses 5% of exposures: halt on SRM, status rolled_back, control for everyone."""
    registry = register(store, definition(status="running"))
    experiment = registry.get("exp-eval")
    rates = {"checkout": {"control": 0.1, "treatment": 0.1}, "error_rate": NO_ERRORS}
    traffic = Traffic(0, 20_000, rates, lose_exposures={"treatment": 0.05})
    send(store, experiment, traffic, T0, np.random.default_rng(3))
    record = run_look(store, registry, "exp-eval", cutoff=day(T0, 1), now=day(T0, 1))
    assert record.action == "halt"
    doc = record.to_dict()
    assert doc["results"]["srm"]["detected"] is True
    assert doc["actions"][0]["to"] == "rolled_back"
    after = registry.get("exp-eval")
    assert after.status is Status.ROLLED_BACK
    change = registry.changes("exp-eval")[-1]
    assert change.look == 1 and change.details is not None
    assert change.details["condition"] == "srm_detected"
    answer = ExperimentAssignmentService([after]).assign("u1", "exp-eval")
    assert (answer.variant, answer.reason) == ("control", Reason.ROLLED_BACK)


def test_srm_without_the_condition_halts_but_keeps_running(store: DuckDBStore) -> None:
    """Without srm_detected in rollback.conditions an SRM halts but the status is unchanged."""
    raw = definition(status="running", rollback={"enabled": True, "conditions": []})
    registry = register(store, raw)
    rates = {"checkout": {"control": 0.1, "treatment": 0.1}}
    traffic = Traffic(0, 20_000, rates, lose_exposures={"treatment": 0.05})
    send(store, registry.get("exp-eval"), traffic, T0, np.random.default_rng(3))
    record = run_look(store, registry, "exp-eval", cutoff=day(T0, 1), now=day(T0, 1))
    assert record.action == "halt"
    assert registry.get("exp-eval").status is Status.RUNNING


def test_guardrail_breach_rolls_back_with_value_and_threshold(store: DuckDBStore) -> None:
    """treatment's error rate 8% vs 1% breaches the 0.02 guardrail: rolled_back, with numbers."""
    registry = register(store, definition(status="running"))
    rates = {
        "checkout": {"control": 0.1, "treatment": 0.1},
        "error_rate": {"control": 0.01, "treatment": 0.08},
    }
    send(store, registry.get("exp-eval"), Traffic(0, 4000, rates), T0, np.random.default_rng(8))
    record = run_look(store, registry, "exp-eval", cutoff=day(T0, 1), now=day(T0, 1))
    assert record.action == "rollback"
    assert registry.get("exp-eval").status is Status.ROLLED_BACK
    change = registry.changes("exp-eval")[-1]
    assert change.details is not None and change.look == 1
    (breach,) = change.details["guardrails"]
    assert (breach["metric"], breach["variant"], breach["threshold"]) == (
        "error_rate",
        "treatment",
        0.02,
    )
    assert breach["value"] > 0.05 and breach["lowerBound"] > 0.02


def test_look_past_max_peeks_is_refused_and_a_peek_decides_nothing(store: DuckDBStore) -> None:
    """After maxPeeks looks another is refused; a peek is recorded but changes no status."""
    raw = definition(status="running", evaluation={"maxPeeks": 2, "minSampleSize": 1000})
    registry = register(store, raw)
    calm = {"checkout": {"control": 0.1, "treatment": 0.1}, "error_rate": NO_ERRORS}
    send(store, registry.get("exp-eval"), Traffic(0, 600, calm), T0, np.random.default_rng(2))
    for n in (1, 2):
        run_look(store, registry, "exp-eval", cutoff=day(T0, n), now=day(T0, n))
    with pytest.raises(PeekLimitError, match=r"maxPeeks: all 2 planned looks"):
        run_look(store, registry, "exp-eval", cutoff=day(T0, 3), now=day(T0, 3))
    # A breach appears afterwards: the peek sees it but cannot act on it.
    bad = {"checkout": calm["checkout"], "error_rate": {"control": 0.01, "treatment": 0.08}}
    send(store, registry.get("exp-eval"), Traffic(600, 4000, bad), T0, np.random.default_rng(4))
    peek = run_look(store, registry, "exp-eval", peek=True, now=day(T0, 4))
    assert (peek.peek, peek.action, peek.number) == (True, "peek", 2)
    reasons = peek.to_dict()["decision"]["reasons"]
    assert "READ-ONLY PEEK" in reasons[0]
    assert any(r.startswith("(Not acted on) Guardrail error_rate is breached") for r in reasons)
    assert peek.to_dict()["actions"] == []
    assert registry.get("exp-eval").status is Status.RUNNING
    assert registry.planned_looks_taken("exp-eval") == 2


def test_every_past_look_replays_byte_for_byte(store: DuckDBStore) -> None:
    """Recomputing each recorded look from its stored inputs gives the identical JSON text."""
    raw = _three_arms(segments=["region"], evaluation={"maxPeeks": 3, "minSampleSize": 2000})
    registry = register(store, raw)
    experiment = registry.get("exp-eval")
    rates = {
        "checkout": {"control": 0.10, "variant-a": 0.11, "variant-b": 0.13},
        "error_rate": NO_ERRORS,
    }
    rng = np.random.default_rng(21)
    regions = {"region": ("US", "EU", "APAC")}
    for d in range(2):
        send(store, experiment, Traffic(d * 3000, 3000, rates, attributes=regions), day(T0, d), rng)
        run_look(store, registry, "exp-eval", cutoff=day(T0, d + 1), now=day(T0, d + 1))
    run_look(store, registry, "exp-eval", peek=True, now=day(T0, 3))
    records = registry.looks("exp-eval")
    assert len(records) == 3
    for record in records:
        assert replay_look(record) == record.document
    again = Registry.for_store(store).looks("exp-eval")
    assert [r.document for r in again] == [r.document for r in records]


def test_units_in_two_variants_halt_without_rollback(store: DuckDBStore) -> None:
    """3% of units also exposed to the other variant: halt on data quality, status unchanged."""
    registry = register(store, definition(status="running"))
    experiment = registry.get("exp-eval")
    rates = {"checkout": {"control": 0.1, "treatment": 0.1}, "error_rate": NO_ERRORS}
    send(store, experiment, Traffic(0, 4000, rates), T0, np.random.default_rng(6))
    service = ExperimentAssignmentService([experiment])
    extra = []
    for i in range(0, 4000, 33):  # about 3% of the units
        first = service.assign(f"u{i}", "exp-eval").variant
        other = "treatment" if first == "control" else "control"
        extra.append(Event(f"dup-{i}", "exposure", "exp-eval", other, f"u{i}", ms(T0) + 10**6))
    store.ingest(extra)
    record = run_look(store, registry, "exp-eval", cutoff=day(T0, 1), now=day(T0, 1))
    doc = record.to_dict()
    assert record.action == "halt"
    assert doc["dataQuality"]["multiExposedUnits"] == len(extra)
    assert any("more than one variant" in r for r in doc["decision"]["reasons"])
    assert doc["decision"]["reasons"][-1].startswith("Halted on data quality")
    assert doc["actions"] == [] and registry.get("exp-eval").status is Status.RUNNING
