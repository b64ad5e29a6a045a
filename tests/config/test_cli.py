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
