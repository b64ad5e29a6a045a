"""`splitlab assign FILE UNIT [--attr key=value]... [--json]` from the shell."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from splitlab.assignment import ExperimentAssignmentService
from splitlab.cli.assign import parse_attribute
from splitlab.cli.main import cli
from splitlab.config import load_experiment
from tests.assignment.assignment_helpers import definition
from tests.conftest import ARTICLE_EXAMPLE

US_FREE = ["--attr", "region=US", "--attr", "accountType=free"]


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["assign", *args])


def test_prints_variant_and_reason() -> None:
    """The text output names the variant the library computes and the reason."""
    experiment = load_experiment(ARTICLE_EXAMPLE)
    service = ExperimentAssignmentService([experiment])
    attributes = {"region": "US", "accountType": "free"}
    for unit in ("user-1", "user-2", "user-3"):
        result = run(str(ARTICLE_EXAMPLE), unit, *US_FREE)
        expected = service.assign(unit, experiment.experiment_id, attributes)
        assert result.exit_code == 0, result.output
        shown = expected.variant or "(no variant)"
        assert result.output == f"{shown}  reason: {expected.reason.value}\n"


def test_json_output_is_camel_case() -> None:
    """--json prints {experimentId, unitId, variant, reason}."""
    result = run(str(ARTICLE_EXAMPLE), "user-1", *US_FREE, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "experimentId": "exp-checkout-flow-v3",
        "unitId": "user-1",
        "variant": "variant-a",
        "reason": "assigned",
    }


def test_targeting_applies_from_the_command_line() -> None:
    """Without the include attributes the unit is not targeted; bot=true excludes."""
    result = run(str(ARTICLE_EXAMPLE), "user-1", "--json")
    assert json.loads(result.output)["reason"] == "not_targeted"
    result = run(str(ARTICLE_EXAMPLE), "user-1", *US_FREE, "--attr", "bot=true", "--json")
    assert json.loads(result.output)["reason"] == "not_targeted"


def test_hash_key_attribute_is_reported_as_the_unit(tmp_path: Path) -> None:
    """With hashKey accountId, --attr accountId=... is the unit hashed and printed."""
    path = tmp_path / "exp.json"
    path.write_text(json.dumps(definition(assignment={"hashKey": "accountId"})))
    result = run(str(path), "user-1", "--attr", "accountId=acme", "--json")
    payload = json.loads(result.output)
    assert payload["unitId"] == "acme"
    direct = json.loads(run(str(path), "acme", "--json").output)
    assert direct["variant"] == payload["variant"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bot=true", ("bot", True)),
        ("age=30", ("age", 30)),
        ("score=2.5", ("score", 2.5)),
        ("region=US", ("region", "US")),
        ("zip=02134", ("zip", "02134")),
        ('name="true"', ("name", "true")),
        ("tags=[1,2]", ("tags", [1, 2])),
        ("empty=", ("empty", "")),
        ("eq=a=b", ("eq", "a=b")),
    ],
)
def test_attribute_values_are_json_decoded_when_valid(text: str, expected: Any) -> None:
    """VALUE is JSON when it parses as JSON, else the raw text."""
    assert parse_attribute(text) == expected


@pytest.mark.parametrize("bad", ["region", "=US"])
def test_malformed_attribute_is_a_usage_error(bad: str) -> None:
    """An --attr without key=value exits 2 with a message naming the value."""
    result = run(str(ARTICLE_EXAMPLE), "user-1", "--attr", bad)
    assert result.exit_code == 2
    assert repr(bad) in result.output


def test_invalid_definition_exits_3_without_traceback(tmp_path: Path) -> None:
    """A broken definition prints the problem and exits 3, never a traceback."""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(definition(trafficAllocation=3)))
    proc = subprocess.run(
        [sys.executable, "-m", "splitlab", "assign", str(path), "user-1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 3
    assert "$.trafficAllocation" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


SWITCHBACK = {"type": "switchback", "unit": "region", "periodSeconds": 3600,
              "burnInSeconds": 600, "origin": "2026-01-01T00:00:00+05:30"}  # fmt: skip


@pytest.mark.parametrize(
    "at", ["1767268800000", "2026-01-01T12:00:00Z", "2026-01-01T17:30:00+05:30"]
)
def test_at_gives_the_switchback_period_in_ms_or_iso(tmp_path: Path, at: str) -> None:
    """--at takes epoch ms or ISO with an offset; both name the same instant and period."""
    path = tmp_path / "sb.json"
    path.write_text(json.dumps(definition(design=SWITCHBACK)))
    result = run(str(path), "user-1", "--attr", "region=EU", "--at", at, "--json")
    assert result.exit_code == 0, result.output
    expected = ExperimentAssignmentService([load_experiment(path)]).assign(
        "user-1", "exp-test", {"region": "EU"}, at=1_767_268_800_000
    )
    assert json.loads(result.output) == {
        "experimentId": "exp-test", "unitId": "user-1", "variant": expected.variant,
        "reason": "assigned", "period": 17, "periodStart": 1_767_267_000_000,
        "switchbackUnit": "EU",
    }  # fmt: skip
    text = run(str(path), "user-1", "--attr", "region=EU", "--at", at)
    assert text.output == (
        f"{expected.variant}  reason: assigned  period: 17 (from 2026-01-01T11:30:00.000+00:00)\n"
    )


@pytest.mark.parametrize(
    ("at", "words"),
    [
        ("2026-01-01T12:00:00", "'2026-01-01T12:00:00' has no UTC offset"),
        ("soon", "(got 'soon')"),
        ("99999999999999999", "(got '99999999999999999')"),
    ],
)
def test_a_bad_at_exits_2_naming_the_option(tmp_path: Path, at: str, words: str) -> None:
    path = tmp_path / "sb.json"
    path.write_text(json.dumps(definition(design=SWITCHBACK)))
    result = run(str(path), "user-1", "--attr", "region=EU", "--at", at)
    assert result.exit_code == 2
    assert "Invalid value for '--at': expected epoch milliseconds" in result.output
    assert words in result.output
    assert "Traceback" not in result.output


DEMO_SWITCHBACK = Path(__file__).parents[2] / "src/splitlab/demo/exp-dispatch-batching.json"


@pytest.mark.parametrize(
    ("at", "hint"),
    [
        ("1790000000", True),  # epoch seconds by mistake
        ("-1", False),
        ("946684799999", True),  # one ms before 2000-01-01
        ("1999-12-31T23:59:59Z", False),
    ],
)
def test_at_outside_the_assign_range_is_a_usage_error(at: str, hint: bool) -> None:
    """--at takes the range of /v1/assign's timestamp: 946684800000 .. 8.64e15 ms."""
    result = run(str(DEMO_SWITCHBACK), "u1", "--attr", "region=ams", f"--at={at}")
    assert result.exit_code == 2
    assert "Invalid value for '--at'" in result.output
    assert "from 946684800000 (2000-01-01T00:00:00Z) to 8640000000000000" in result.output
    assert f"(got {at!r})" in result.output
    assert ("multiply by 1000" in result.output) is hint


@pytest.mark.parametrize("at", ["946684800000", "1767268800000", "2026-01-01T12:00:00Z"])
def test_at_inside_the_range_assigns(at: str) -> None:
    result = run(str(DEMO_SWITCHBACK), "u1", "--attr", "region=ams", f"--at={at}", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["reason"] == "assigned"


def test_cluster_without_its_attribute_is_missing_unit_id(tmp_path: Path) -> None:
    """A cluster design never hashes UNIT itself: no --attr accountId, no cluster."""
    raw = definition(
        assignment={"hashKey": "accountId"}, design={"type": "cluster", "analysisUnit": "userId"}
    )
    path = tmp_path / "exp.json"
    path.write_text(json.dumps(raw))
    result = run(str(path), "user-1", "--json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    assert (got["variant"], got["reason"]) == (None, "missing_unit_id")
