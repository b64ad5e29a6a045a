"""The Python snippets of docs/evaluation.md and docs/server.md run as written and close their
store (an unclosed DuckDB connection ends the script with "nanobind: leaked ..." on stderr)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from splitlab.cli.main import cli
from tests.conftest import ARTICLE_EXAMPLE, ROOT

SNIPPET = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _snippets(doc: str) -> list[str]:
    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    return [s for s in SNIPPET.findall(text) if "DuckDBStore" in s]


@pytest.mark.parametrize("doc", ["evaluation.md", "server.md"])
def test_store_snippets_run_and_close_the_store(doc: str, tmp_path: Path) -> None:
    """Each snippet that opens a DuckDBStore runs against a database with the article's
    experiment, exits 0 and leaves nothing leaked on stderr."""
    db = tmp_path / "splitlab.duckdb"
    created = CliRunner().invoke(
        cli, ["experiments", "create", str(ARTICLE_EXAMPLE), "--db", str(db)]
    )
    assert created.exit_code == 0, created.output
    snippets = _snippets(doc)
    assert snippets, f"docs/{doc} has no DuckDBStore snippet"
    for code in snippets:
        run = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 0, run.stderr
        assert "leaked" not in run.stderr, run.stderr
