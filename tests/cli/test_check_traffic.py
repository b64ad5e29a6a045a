"""`splitlab check` ramps up from the experiment's own trafficAllocation (or --traffic)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from splitlab.cli.main import cli
from splitlab.config import load_experiment
from splitlab.store.duckdb_store import DuckDBStore
from tests.evaluation.conftest import T0, definition
from tests.evaluation.simulate import Traffic, send

HEALTHY = {
    "checkout": {"control": 0.1, "treatment": 0.1},
    "error_rate": {"control": 0.01, "treatment": 0.01},
}


def _database(folder: Path, allocation: float, units: int) -> str:
    """A healthy run of units u0..u<units - 1> on a running definition whose
    trafficAllocation is `allocation`, registered with the CLI."""
    raw = definition(status="running", trafficAllocation=allocation)
    (folder / "exp.json").write_text(json.dumps(raw))
    path = str(folder / "splitlab.duckdb")
    created = CliRunner().invoke(
        cli, ["experiments", "create", str(folder / "exp.json"), "--db", path]
    )
    assert created.exit_code == 0, created.output
    with DuckDBStore(path) as store:
        send(store, load_experiment(raw), Traffic(0, units, HEALTHY), T0, np.random.default_rng(3))
    return path


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A definition at 1% traffic (the article's dry run): 6,000 visitors, of whom the 1%
    in the experiment split evenly enough for the launch SRM check."""
    return _database(tmp_path_factory.mktemp("check"), 0.01, 6000)


@pytest.fixture(scope="module")
def db_at_25(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A definition already ramped up to 25% traffic: of 24,000 visitors the hash puts 3023
    in control and 2963 in treatment (scipy.stats.chisquare p = 0.44, so the SRM passes)."""
    return _database(tmp_path_factory.mktemp("check25"), 0.25, 24_000)


def _check(db: str, *options: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["check", "exp-eval", "--db", db, "--json", *options])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.output)
    return report


def test_a_running_25_percent_experiment_ramps_up_from_25_percent(db_at_25: str) -> None:
    """Without --traffic the check starts from the definition's trafficAllocation: at 25% it
    recommends 50% (not "from 1% to 5%"), with no note about a difference."""
    report = _check(db_at_25)
    assert (report["traffic"], report["nextTraffic"]) == (0.25, 0.5)
    assert report["recommendation"] == "Ready: raise traffic from 25% to 50% (target 100%)."
    text = CliRunner().invoke(cli, ["check", "exp-eval", "--db", db_at_25])
    assert "raise traffic from 25% to 50%" in text.output and "1%" not in text.output


def test_a_one_percent_dry_run_ramps_up_to_five_percent(db: str) -> None:
    """A definition at 1% (the article's dry run) is checked at 1% and recommends 5%."""
    report = _check(db)
    assert (report["traffic"], report["nextTraffic"]) == (0.01, 0.05)
    assert report["recommendation"] == "Ready: raise traffic from 1% to 5% (target 100%)."


def test_a_given_traffic_that_differs_from_the_definition_is_noted(db_at_25: str) -> None:
    """--traffic overrides the definition's allocation, and the answer says they differ."""
    report = _check(db_at_25, "--traffic", "0.05")
    assert (report["traffic"], report["nextTraffic"]) == (0.05, 0.25)
    assert "trafficAllocation is 25%, not the 5% checked" in report["recommendation"]


@pytest.mark.parametrize(
    ("traffic", "target", "expected"),
    [("0.05", "1.0", 0.25), ("0.25", "0.25", None), ("0.25", "0.4", 0.4)],
)
def test_the_ramp_up_goes_step_by_step_to_the_target(
    db: str, traffic: str, target: str, expected: float | None
) -> None:
    """--traffic sets the allocation checked; the next step follows the ladder, capped."""
    report = _check(db, "--traffic", traffic, "--target", target)
    assert (report["traffic"], report["nextTraffic"]) == (float(traffic), expected)


def test_help_says_the_default_is_the_definitions_allocation() -> None:
    """`check --help` says --traffic defaults to the definition's trafficAllocation."""
    result = CliRunner().invoke(cli, ["check", "--help"])
    assert "trafficAllocation" in " ".join(result.output.split())
