"""`splitlab evaluate --show` and `splitlab status` print the eligible units of a retention
metric and the RMST of a time-to-event metric, from a look recorded on a real store (the
worked example of docs/metrics.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from examples import metric_kinds as mk

from splitlab.cli.main import cli

ID = mk.EXPERIMENT["experimentId"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = Path(tmp_path_factory.mktemp("curves-cli")) / "kinds.duckdb"
    return path, mk.look(path)


def _lines(view: dict) -> list[str]:
    retention = view["curves"]["day7_return"]["arms"]
    tte = view["curves"]["time_to_purchase"]["arms"]
    return [
        *(f"  {a['variant']}: {a['text']}" for a in retention),
        *(f"  {a['variant']}: RMST {a['rmstHours']:,.1f} h ({a['events']:,} events, "
          f"{a['censored']:,} censored of {a['units']:,} units)" for a in tte),
    ]  # fmt: skip


def test_evaluate_show_prints_eligible_units_and_rmst(db: tuple[Path, dict]) -> None:
    path, view = db
    result = CliRunner().invoke(cli, ["evaluate", ID, "--db", str(path), "--show", "1"],
                                env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 0, result.output
    for line in _lines(view):
        assert line in result.output
    assert "treatment - control: RMST difference" in result.output


def test_status_repeats_them_for_the_latest_look(db: tuple[Path, dict]) -> None:
    path, view = db
    result = CliRunner().invoke(cli, ["status", ID, "--db", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "At look 1 (data up to 2026-03-16T00:00:00" in result.output
    for line in _lines(view):
        assert line in result.output
