"""`splitlab allocate`: from a definition and a clusters CSV to a definition with a table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from splitlab.assignment import ExperimentAssignmentService, Reason
from splitlab.cli.main import cli
from splitlab.config import load_experiment
from tests.allocation.helpers import BASE
from tests.conftest import ROOT

TIERS = ("EU-large", "EU-small", "US-large", "US-small")


def write_inputs(tmp: Path, rows: int = 60) -> tuple[Path, Path]:
    definition = tmp / "exp.json"
    definition.write_text(json.dumps({**BASE, "segments": []}), encoding="utf-8")
    clusters = tmp / "tenants.csv"
    lines = ["tenantId,tier,arr"] + [
        f"t-{i:02d},{TIERS[i % 4]},{1000 + 37 * ((i * 13) % 60)}" for i in range(rows)
    ]
    clusters.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return definition, clusters


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["allocate", *args])


def test_stratified_table_written_and_served(tmp_path: Path) -> None:
    """The output loads, records method, seed and strata, and the service serves its table."""
    definition, clusters = write_inputs(tmp_path)
    out = tmp_path / "out.json"
    result = run(str(definition), "--clusters", str(clusters), "--seed", "7",
                 "--stratum", "tier", "-o", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "stratified allocation, seed 7: 60 clusters in 4 strata" in result.stderr
    assert "fewer than 2 clusters" not in result.stderr
    exp = load_experiment(out)
    assert exp.design is not None and exp.design.type == "cluster"
    allocation = exp.design.allocation
    assert allocation is not None
    assert (allocation.method, allocation.seed, allocation.column) == ("stratified", 7, "tier")
    # no stratum attribute by default: the store reads the strata from the table
    assert allocation.stratum_attribute is None and exp.segments == []
    assert len(allocation.table) == 60
    svc = ExperimentAssignmentService([exp])
    for tenant, variant in allocation.table.items():
        got = svc.assign("someone", exp.id, {"tenantId": tenant})
        assert (got.variant, got.reason) == (variant, Reason.ASSIGNED)
    again = run(str(definition), "--clusters", str(clusters), "--seed", "7", "--stratum", "tier")
    assert json.loads(again.stdout) == json.loads(out.read_text())


def test_stratum_attribute_only_when_asked(tmp_path: Path) -> None:
    """--stratum-attribute records the attribute and declares it as a segment."""
    definition, clusters = write_inputs(tmp_path)
    out = tmp_path / "out.json"
    result = run(str(definition), "--clusters", str(clusters), "--seed", "7", "--stratum",
                 "tier", "--stratum-attribute", "plan", "-o", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    exp = load_experiment(out)
    assert exp.design is not None and exp.design.allocation is not None
    assert exp.design.allocation.stratum_attribute == "plan" and exp.segments == ["plan"]


def test_pair_matched_leaves_the_smallest_out(tmp_path: Path) -> None:
    """61 tenants matched on arr: 30 pairs and the one with the smallest arr left out."""
    definition, clusters = write_inputs(tmp_path, rows=61)
    result = run(str(definition), "--clusters", str(clusters), "--seed", "3", "--match-on", "arr")
    assert result.exit_code == 0, result.output
    allocation = json.loads(result.stdout)["design"]["allocation"]
    assert allocation["method"] == "pair_matched" and allocation["column"] == "arr"
    assert len(set(allocation["strata"].values())) == 30
    assert "left out" in result.stderr


def test_thin_strata_are_named(tmp_path: Path) -> None:
    """A stratum too small for a within-stratum variance is named on stderr."""
    definition, _ = write_inputs(tmp_path)
    clusters = tmp_path / "thin.csv"
    rows = [f"t{i},big" for i in range(8)] + ["t8,tiny", "t9,tiny"]
    clusters.write_text("tenantId,tier\n" + "\n".join(rows) + "\n", encoding="utf-8")
    result = run(str(definition), "--clusters", str(clusters), "--seed", "1", "--stratum", "tier")
    assert result.exit_code == 0, result.output
    assert "cannot estimate their variance and leaves them out): tiny" in result.stderr


def test_errors_name_the_file_line_and_column(tmp_path: Path) -> None:
    """A missing column, a non-number and a classic design each exit 3 with a clear message."""
    definition, clusters = write_inputs(tmp_path)
    missing = run(str(definition), "--clusters", str(clusters), "--seed", "1", "--stratum", "size")
    assert missing.exit_code == 3 and "expected a column 'size'" in missing.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("tenantId,arr\nt-1,12\nt-2,lots\n", encoding="utf-8")
    result = run(str(definition), "--clusters", str(bad), "--seed", "1", "--match-on", "arr")
    assert result.exit_code == 3
    assert "line 3: column 'arr': expected a finite number (got 'lots')" in result.stderr
    classic = tmp_path / "classic.json"
    classic.write_text(json.dumps({k: v for k, v in BASE.items() if k != "design"}))
    result = run(str(classic), "--clusters", str(clusters), "--seed", "1")
    assert result.exit_code == 3 and "$.design: expected a cluster design" in result.stderr
    both = run(str(definition), "--clusters", str(clusters), "--seed", "1",
               "--stratum", "tier", "--match-on", "arr")  # fmt: skip
    assert both.exit_code == 2


def test_the_documented_example_draws_what_docs_allocation_md_says(tmp_path: Path) -> None:
    """docs/allocation.md's worked example: 60 tenants, 4 strata, each split evenly, 11 of
    the 22 large tenants in each arm, for seed 20270115."""
    out = tmp_path / "out.json"
    result = run(str(ROOT / "examples" / "exp-enterprise-pricing.json"), "--clusters",
                 str(ROOT / "examples" / "tenants.csv"), "--seed", "20270115",
                 "--stratum", "segment", "-o", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    allocation = json.loads(out.read_text())["design"]["allocation"]
    split: dict[tuple[str, str], int] = {}
    for tenant, variant in allocation["table"].items():
        key = (allocation["strata"][tenant], variant)
        split[key] = split.get(key, 0) + 1
    assert split == {
        (stratum, arm): half
        for stratum, half in (("EU-large", 5), ("EU-small", 10), ("US-large", 6), ("US-small", 9))
        for arm in ("current-price", "new-price")
    }
    assert allocation["table"]["tenant-01"] == "new-price"
