"""`splitlab analyze`: a readable table, strict JSON, clean errors with exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from splitlab.cli.main import cli
from tests.conftest import ARTICLE_EXAMPLE

SUMS = Path(__file__).parent / "data" / "checkout-sums.json"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["analyze", *args])
    return result.exit_code, result.stdout, result.stderr


def test_table_by_default() -> None:
    """Without --json: a table and the decision in words."""
    code, out, _ = _run(str(ARTICLE_EXAMPLE), "--sums", str(SUMS))
    assert code == 0
    assert "Decision: ship variant-a" in out and "checkout_completion_rate" in out


def test_json_output_is_the_results_json() -> None:
    """--json prints the results JSON (strict: no NaN)."""
    code, out, _ = _run(str(ARTICLE_EXAMPLE), "--sums", str(SUMS), "--json")
    assert code == 0
    data = json.loads(out, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert data["decision"]["action"] == "ship" and data["look"] == 3


def test_look_option_overrides_and_is_checked() -> None:
    """--look beyond maxPeeks: a one-line error, exit code 3, no traceback."""
    code, out, err = _run(str(ARTICLE_EXAMPLE), "--sums", str(SUMS), "--look", "6")
    assert code == 3
    assert "beyond the 5 planned looks" in err and "Traceback" not in out + err


def test_malformed_sums_are_a_clean_error(tmp_path: Path) -> None:
    """Bad JSON and bad fields: a message naming the problem, exit code 3."""
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = _run(str(ARTICLE_EXAMPLE), "--sums", str(bad))
    assert code == 3 and "not valid JSON" in err
    bad.write_text(json.dumps({"units": {"control": "many"}}))
    code, _, err = _run(str(ARTICLE_EXAMPLE), "--sums", str(bad))
    assert code == 3 and "$.units.control" in err


def test_help_describes_the_command() -> None:
    """The command has help text."""
    result = CliRunner().invoke(cli, ["analyze", "--help"])
    assert result.exit_code == 0 and "sufficient statistics" in result.stdout


def test_json_counts_are_integers() -> None:
    """--json writes unit counts (units, srm.counts, comparison units) as JSON integers."""
    code, out, _ = _run(str(ARTICLE_EXAMPLE), "--sums", str(SUMS), "--json")
    assert code == 0
    data = json.loads(out)
    counts = [*data["units"].values(), *data["srm"]["counts"].values()]
    counts += [
        n for metric in data["metrics"] for c in metric["comparisons"] for n in c["units"].values()
    ]
    assert counts and all(type(n) is int for n in counts), counts


def test_every_problem_of_a_bad_sums_file_is_reported(tmp_path: Path) -> None:
    """--sums with several problems: each is printed with its JSON path, exit code 3."""
    sums = json.loads(SUMS.read_text())
    sums["look"] = 0
    first = next(iter(sums["units"]))
    sums["units"][first] = -5
    metric = next(iter(sums["metrics"]))
    arm = next(iter(sums["metrics"][metric]))
    sums["metrics"][metric][arm]["sumSq"] = "lots"
    bad = tmp_path / "bad-sums.json"
    bad.write_text(json.dumps(sums))
    code, out, err = _run(str(ARTICLE_EXAMPLE), "--sums", str(bad))
    assert code == 3 and "Traceback" not in out + err
    for path in ("$.look", f"$.units.{first}", f"$.metrics.{metric}.{arm}.sumSq"):
        assert path in err, (path, err)
