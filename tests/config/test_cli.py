"""`splitlab validate` and `splitlab schema` from the shell: clean messages, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from splitlab.cli.main import cli
from splitlab.config import experiment_schema_text
from tests.conftest import ARTICLE_EXAMPLE


def test_validate_accepts_the_article_example() -> None:
    """A valid file is reported valid with exit code 0."""
    result = CliRunner().invoke(cli, ["validate", str(ARTICLE_EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "valid (exp-checkout-flow-v3)" in result.output


def test_validate_lists_problems_and_exits_3(tmp_path: Path) -> None:
    """An invalid file lists each problem with its path and exits 3, without a traceback."""
    bad = json.loads(ARTICLE_EXAMPLE.read_text())
    bad["trafficAllocation"] = 7
    bad["variants"] = ["control"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    result = CliRunner().invoke(cli, ["validate", str(ARTICLE_EXAMPLE), str(path)])
    assert result.exit_code == 3
    assert "$.trafficAllocation" in result.output
    assert "$.variants" in result.output
    assert "Traceback" not in result.output


def test_validate_json_output(tmp_path: Path) -> None:
    """--json prints one record per file with structured problems."""
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    result = CliRunner().invoke(cli, ["validate", "--json", str(path)])
    assert result.exit_code == 3
    (record,) = json.loads(result.output)
    assert record["valid"] is False
    assert record["problems"][0]["path"] == "$"


def test_schema_prints_the_generated_schema() -> None:
    """`splitlab schema` prints exactly the generated schema."""
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    assert result.output == experiment_schema_text()


def test_python_dash_m_runs_the_cli() -> None:
    """`python -m splitlab` is the same command line as the console script."""
    proc = subprocess.run(
        [sys.executable, "-m", "splitlab", "validate", str(ARTICLE_EXAMPLE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "valid" in proc.stdout


def test_validate_on_truncated_json_names_file_line_column_and_expectation(
    tmp_path: Path,
) -> None:
    """A file cut short is reported with its name, the line and column, and what was expected."""
    text = ARTICLE_EXAMPLE.read_text()
    path = tmp_path / "cut.json"
    path.write_text(text[: text.rindex(",", 0, len(text) // 2) + 1])  # cut after a comma
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 3
    lines = result.output.splitlines()
    assert lines[0] == f"{path}: invalid (1 problem)"
    assert lines[1].startswith("  - line ") and ", column " in lines[1]
    assert "expected valid JSON: " in lines[1] and "cut short" in lines[1]


def test_validate_suggests_the_key_meant(tmp_path: Path) -> None:
    """A misspelt key is answered with "did you mean" and the problem count is singular."""
    raw = json.loads(ARTICLE_EXAMPLE.read_text())
    raw["trafficAlocation"] = raw.pop("trafficAllocation")
    path = tmp_path / "typo.json"
    path.write_text(json.dumps(raw))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 3
    assert f"{path}: invalid (1 problem)" in result.output
    assert "did you mean 'trafficAllocation'?" in result.output


def test_validate_refuses_5000_nested_and_without_a_traceback(tmp_path: Path) -> None:
    """A condition of 5,000 nested $and is one problem at its line and column, exit 3."""
    raw = json.loads(ARTICLE_EXAMPLE.read_text())
    raw["targeting"] = {"condition": "CONDITION"}
    condition = '{"$and": [' * 5000 + '{"a": 1}' + "]}" * 5000
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(raw).replace('"CONDITION"', condition))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 3, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "nested at most 64 arrays and objects deep" in result.output
    assert "Traceback" not in result.output and "RecursionError" not in result.output
