"""docs/sql-metrics.md: its definitions and catalogs validate, its worked example is the one
in examples/sql_metrics/, and running that example prints the numbers the page shows."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from examples.sql_metrics import make_data

from splitlab.cli.main import cli
from splitlab.config import load_experiment
from splitlab.config.source_loading import load_sources, parse_sources
from splitlab.config.sql_checks import check_sql_metrics
from tests.conftest import ROOT

DOC = (ROOT / "docs" / "sql-metrics.md").read_text(encoding="utf-8")
EXAMPLE = ROOT / "examples" / "sql_metrics"


def json_blocks() -> list[Any]:
    return [json.loads(b) for b in re.findall(r"```json\n(.*?)```", DOC, flags=re.DOTALL)]


def console_block(command: str) -> str:
    """The output shown under ``$ <command>`` in the page (up to the next ``$`` or fence)."""
    for block in re.findall(r"```console\n(.*?)```", DOC, flags=re.DOTALL):
        lines = block.splitlines()
        for k, line in enumerate(lines):
            if line == f"$ {command}":
                out = []
                for rest in lines[k + 1 :]:
                    if rest.startswith("$ "):
                        break
                    out.append(rest)
                return "\n".join(out)
    raise AssertionError(f"no '$ {command}' in docs/sql-metrics.md")


def words(text: str) -> list[str]:
    """The words of `text`, without the table's box drawing: the page shows one terminal
    width's wrapping and table widths, the test runs at another."""
    return re.sub(r"[\u2500-\u257f]", " ", text).split()


def test_the_first_catalog_validates_and_the_metric_above_it_fits_it() -> None:
    metric, catalog_raw, *_ = json_blocks()
    catalog = parse_sources(catalog_raw, ROOT)
    assert set(catalog.sources) == {"warehouse", "billing", "house"}
    experiment = load_experiment(
        {
            "experimentId": "doc-metric",
            "variants": ["control", "treatment"],
            "assignment": {"salt": "doc"},
            "metrics": {"primary": metric},
        }
    )
    assert check_sql_metrics(experiment, catalog) == []


def test_the_worked_example_is_the_one_in_examples() -> None:
    blocks = json_blocks()
    catalog = json.loads((EXAMPLE / "sources.json").read_text())
    definition = json.loads((EXAMPLE / "exp-checkout-revenue.json").read_text())
    assert catalog in blocks and definition in blocks
    experiment = load_experiment(definition)
    assert check_sql_metrics(experiment, load_sources(EXAMPLE / "sources.json")) == []


def test_running_the_worked_example_prints_what_the_page_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_data.main(tmp_path / "shop")
    monkeypatch.chdir(tmp_path / "shop")
    monkeypatch.setenv("COLUMNS", "100")  # the width the page shows (rich reads it)
    runner = CliRunner()
    commands = [
        "splitlab validate --sources sources.json exp-checkout-revenue.json",
        "splitlab experiments create exp-checkout-revenue.json --db events.duckdb",
        "splitlab evaluate exp-checkout-revenue --db events.duckdb --sources sources.json"
        " --cutoff 2026-03-23T00:00:00Z",
    ]
    for command, code in zip(commands, (0, 0, 10), strict=True):
        result = runner.invoke(cli, command.split()[1:], terminal_width=100)
        assert result.exit_code == code, result.output
        shown = console_block(command)
        assert words(result.output) == words(shown)
