"""The evaluation commands against a real database file, through click's test runner."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from splitlab.cli.main import cli
from splitlab.config import load_experiment
from splitlab.store.duckdb_store import DuckDBStore

from .conftest import T0, definition
from .simulate import Traffic, day, send


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A database with one registered running experiment and a guardrail-breaching day."""
    raw = definition(status="running", evaluation={"maxPeeks": 2, "minSampleSize": 1000})
    path = tmp_path / "exp.json"
    path.write_text(json.dumps(raw))
    db_path = str(tmp_path / "splitlab.duckdb")
    result = _run("experiments", "create", str(path), "--db", db_path)
    assert result.exit_code == 0, result.output
    rates = {
        "checkout": {"control": 0.1, "treatment": 0.1},
        "error_rate": {"control": 0.01, "treatment": 0.08},
    }
    with DuckDBStore(db_path) as store:
        send(store, load_experiment(raw), Traffic(0, 4000, rates), T0, np.random.default_rng(8))
    return db_path


def test_experiments_list_shows_the_registered_definition(db: str) -> None:
    """`experiments list` names the experiment and its status; --json gives the definition."""
    assert "exp-eval\trunning" in _run("experiments", "list", "--db", db).output
    data = json.loads(_run("experiments", "list", "--db", db, "--json").output)
    assert data[0]["experimentId"] == "exp-eval"


def test_evaluate_exit_code_gates_on_the_decision(db: str) -> None:
    """A breached guardrail exits 12 (rollback); --json is the results JSON with the rollback."""
    cutoff = day(T0, 1).isoformat()
    result = _run("evaluate", "exp-eval", "--db", db, "--cutoff", cutoff, "--json")
    assert result.exit_code == 12
    doc = json.loads(result.output)
    assert doc["decision"]["action"] == "rollback"
    assert doc["actions"][0]["to"] == "rolled_back"
    assert {"experimentId", "look", "srm", "decision", "metrics"} <= set(doc)
    assert doc["ledger"]["seq"] == 1 and "results" not in doc
    shown = _run("evaluate", "exp-eval", "--db", db, "--show", "1", "--json")
    assert shown.output == result.output
    status = json.loads(_run("status", "exp-eval", "--db", db, "--json").output)
    assert status["status"] == "rolled_back"
    assert status["history"][-1]["look"] == 1


def test_evaluate_refuses_a_look_past_max_peeks_with_exit_3(db: str) -> None:
    """After the planned looks, evaluate exits 3 with the reason; --peek still works (exit 0)."""
    early = T0.isoformat()  # before the traffic: too little data, so each look continues
    for _ in range(2):
        result = _run("evaluate", "exp-eval", "--db", db, "--cutoff", early)
        assert result.exit_code == 0 and "Decision: CONTINUE" in result.output
    refused = CliRunner().invoke(cli, ["evaluate", "exp-eval", "--db", db])
    assert refused.exit_code == 3 and "maxPeeks: all 2 planned looks" in refused.output
    peek = _run("evaluate", "exp-eval", "--db", db, "--peek")
    assert peek.exit_code == 0 and "READ-ONLY PEEK" in peek.output
    history = _run("evaluate", "exp-eval", "--db", db, "--history")
    assert "peek after 2" in history.output


def test_status_and_toggle_commands_change_and_audit(db: str) -> None:
    """status pauses with who/why; an invalid transition exits 3; toggle forces and clears."""
    paused = _run("status", "exp-eval", "paused", "--db", db, "--reason", "hold", "--by", "ana")
    assert paused.exit_code == 0 and "running -> paused" in paused.output
    bad = CliRunner().invoke(
        cli, ["status", "exp-eval", "draft", "--db", db, "--reason", "x", "--by", "ana"]
    )
    assert bad.exit_code == 3 and "cannot change from 'paused' to 'draft'" in bad.output
    forced = _run("toggle", "exp-eval", "control", "--db", db, "--reason", "r", "--by", "b")
    assert "everyone now gets control" in forced.output
    cleared = _run("toggle", "exp-eval", "--clear", "--db", db, "--reason", "r", "--by", "b")
    assert "toggle cleared" in cleared.output
    shown = _run("status", "exp-eval", "--db", db)
    assert "toggle" in shown.output and "hold" in shown.output


def test_check_reports_not_ready_with_exit_1(db: str) -> None:
    """The breaching dry run is not ready: exit 1, the failing check named."""
    result = CliRunner().invoke(cli, ["check", "exp-eval", "--db", db, "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ready"] is False and "guardrails" in report["failures"]


def test_scheduler_once_with_a_fixed_now_takes_the_due_look(db: str) -> None:
    """`scheduler --once --now` takes the latest daily_0900_utc look, and only once."""
    now = (datetime.now(UTC) + timedelta(days=1)).isoformat()  # a tick after registration
    result = _run("scheduler", "--db", db, "--once", "--now", now)
    assert result.exit_code == 0
    assert "exp-eval: look 1" in result.output
    again = _run("scheduler", "--db", db, "--once", "--now", now)
    assert "no look was due" in again.output


def test_experiments_update_ramps_traffic_and_refuses_design_changes(
    db: str, tmp_path: Path
) -> None:
    """`experiments update` applies a new trafficAllocation; a new salt after launch exits 3."""
    raw = definition(status="running", evaluation={"maxPeeks": 2, "minSampleSize": 1000})
    path = tmp_path / "ramp.json"
    path.write_text(json.dumps({**raw, "trafficAllocation": 0.25}))
    args = ["--db", db, "--reason", "ramp", "--by", "ana"]
    assert _run("experiments", "update", str(path), *args).exit_code == 0
    listed = json.loads(_run("experiments", "list", "--db", db, "--json").output)
    assert listed[0]["trafficAllocation"] == 0.25
    path.write_text(json.dumps({**raw, "assignment": {**raw["assignment"], "salt": "new"}}))
    refused = CliRunner().invoke(cli, ["experiments", "update", str(path), *args])
    assert refused.exit_code == 3 and "pre-registered design" in refused.output
