"""docs/sql-metrics.md's refused query: the page shows the command that makes ``broken.json``
from the worked example's definition, and validating it prints what the page shows."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from splitlab.cli.main import cli
from tests.test_sql_metrics_doc import EXAMPLE, console_block, words

SED = "sed \"s|FROM orders|FROM read_parquet('/etc/passwd')|\" exp-checkout-revenue.json > broken.json"


@pytest.mark.skipif(shutil.which("sed") is None, reason="needs sed, as the page's reader does")
def test_the_broken_definition_is_made_and_refused_as_the_page_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert console_block(SED) == ""
    shutil.copy(EXAMPLE / "exp-checkout-revenue.json", tmp_path)
    shutil.copy(EXAMPLE / "sources.json", tmp_path)
    subprocess.run(SED, shell=True, cwd=tmp_path, check=True)
    monkeypatch.chdir(tmp_path)
    command = "splitlab validate --sources sources.json broken.json"
    result = CliRunner().invoke(cli, command.split()[1:], terminal_width=100)
    assert result.exit_code == 3, result.output
    assert words(result.output) == words(console_block(command))
