"""`splitlab holdouts`: a real database with a holdout and the experiments it covers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from splitlab.cli.main import cli


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _definition(experiment_id: str, **overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "experimentId": experiment_id,
        "status": "running",
        "variants": ["control", "treatment"],
        "assignment": {"strategy": "consistent_hash", "hashKey": "userId", "salt": experiment_id},
        "metrics": {"primary": {"name": "checkout", "type": "conversion"}},
    }
    raw.update(overrides)
    return raw


def _db(tmp_path: Path, *definitions: dict[str, Any]) -> str:
    files = []
    for raw in definitions:
        path = tmp_path / f"{raw['experimentId']}.json"
        path.write_text(json.dumps(raw), encoding="utf-8")
        files.append(str(path))
    db_path = str(tmp_path / "splitlab.duckdb")
    created = _run("experiments", "create", *files, "--db", db_path)
    assert created.exit_code == 0, created.output
    return db_path


def test_holdouts_table_and_json(tmp_path: Path) -> None:
    """One line per holdout, then its covered experiments with their statuses; --json is the
    API's list."""
    db = _db(
        tmp_path,
        _definition("holdout-growth", variants=["held-out", "everyone-else"],
                    design={"type": "holdout", "percent": 5, "scope": {"tags": ["growth"]}}),
        _definition("exp-a", tags=["growth"]),
        _definition("exp-b", tags=["growth"], status="draft"),
        _definition("exp-c", tags=["search"]),
    )  # fmt: skip
    table = _run("holdouts", "--db", db)
    assert table.exit_code == 0
    assert table.output.splitlines() == [
        "holdout-growth\trunning\t5% held out\texperiments tagged growth",
        "    exp-a\trunning",
        "    exp-b\tdraft",
    ]
    listed = json.loads(_run("holdouts", "--db", db, "--json").output)
    (row,) = listed["holdouts"]
    assert row["coveredExperimentIds"] == ["exp-a", "exp-b"]
    assert row["scope"] == {"tags": ["growth"]} and row["percent"] == 5.0


def test_no_holdouts_and_a_missing_database(tmp_path: Path) -> None:
    """Without holdouts it says so (exit 0); a mistyped --db path exits 3, one line."""
    db = _db(tmp_path, _definition("exp-a"))
    empty = _run("holdouts", "--db", db)
    assert (empty.exit_code, empty.output.strip()) == (
        0,
        "no holdouts (an experiment with design.type 'holdout')",
    )
    missing = CliRunner().invoke(cli, ["holdouts", "--db", str(tmp_path / "nope.duckdb")])
    assert missing.exit_code == 3
    assert "Traceback" not in missing.output


def test_create_names_a_registered_id_before_its_layer(tmp_path: Path) -> None:
    """`experiments create` with an id already registered says so, not a range conflict."""

    def layer(start: int, end: int) -> dict[str, Any]:
        return {"id": "checkout", "start": start, "end": end}

    db_path = _db(
        tmp_path,
        _definition("exp-a", layer=layer(0, 5000)),
        _definition("exp-b", layer=layer(5000, 8000)),
    )
    again = tmp_path / "again" / "exp-b.json"
    again.parent.mkdir()
    again.write_text(json.dumps(_definition("exp-b", layer=layer(4000, 8000))))
    result = CliRunner().invoke(cli, ["experiments", "create", str(again), "--db", db_path])
    assert result.exit_code == 3, result.output
    assert "already registered" in result.output
    assert "overlaps" not in result.output
