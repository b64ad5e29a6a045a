"""`splitlab check` takes the dry run to be at 1% traffic unless told, and ramps up from there."""

from __future__ import annotations

import json
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


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A healthy dry run (u0..u5999 split 3028 / 2972 by the hash: chi-square p = 0.47) of a
    definition whose trafficAllocation is still 100%."""
    folder = tmp_path_factory.mktemp("check")
    raw = definition(status="running", trafficAllocation=1.0)
    (folder / "exp.json").write_text(json.dumps(raw))
    path = str(folder / "splitlab.duckdb")
    created = CliRunner().invoke(
        cli, ["experiments", "create", str(folder / "exp.json"), "--db", path]
    )
    assert created.exit_code == 0, created.output
    with DuckDBStore(path) as store:
        send(store, load_experiment(raw), Traffic(0, 6000, HEALTHY), T0, np.random.default_rng(3))
    return path


def _check(db: str, *options: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["check", "exp-eval", "--db", db, "--json", *options])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.output)
    return report


def test_the_dry_run_traffic_defaults_to_one_percent(db: str) -> None:
    """Without --traffic the check is of a 1% dry run and recommends 5% next, whatever the
    definition's trafficAllocation says (and notes the difference)."""
    report = _check(db)
    assert (report["traffic"], report["nextTraffic"]) == (0.01, 0.05)
    assert "raise traffic from 1% to 5%" in report["recommendation"]
    assert "trafficAllocation is 100%, not the 1% checked" in report["recommendation"]


@pytest.mark.parametrize(
    ("traffic", "target", "expected"),
    [("0.05", "1.0", 0.25), ("0.25", "0.25", None), ("0.25", "0.4", 0.4)],
)
def test_the_ramp_up_goes_step_by_step_to_the_target(
    db: str, traffic: str, target: str, expected: float | None
) -> None:
    """--traffic sets the dry run's allocation; the next step follows the ladder, capped."""
    report = _check(db, "--traffic", traffic, "--target", target)
    assert (report["traffic"], report["nextTraffic"]) == (float(traffic), expected)


def test_help_shows_the_one_percent_default() -> None:
    """`check --help` states the 1% default of --traffic."""
    result = CliRunner().invoke(cli, ["check", "--help"])
    assert "default: 0.01" in result.output
