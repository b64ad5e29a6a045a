"""docs/metrics.md's worked examples are what examples/metric_kinds.py prints: every
definition block is the script's metric, every output block the script's lines for the look,
and the shortened ``curves`` JSON the look's own block (so the doc's numbers come from a run
and stay in step with the engine)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from examples import metric_kinds as mk

from tests.conftest import ROOT

DOC = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")


def _block(marker: str) -> str:
    """The fenced block right after ``<!-- marker -->`` (its indentation removed)."""
    found = re.search(rf"<!-- {re.escape(marker)} -->\n( *)```\w*\n(.*?)\n *```", DOC, re.S)
    assert found, f"docs/metrics.md has no block marked {marker!r}"
    indent = found.group(1)
    return "\n".join(line.removeprefix(indent) for line in found.group(2).splitlines())


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return mk.look(Path(tmp_path_factory.mktemp("metric-kinds")) / "kinds.duckdb")


@pytest.mark.parametrize("kind", list(mk.METRICS))
def test_the_definition_shown_is_the_one_run(kind: str) -> None:
    assert json.loads(_block(f"definition: {kind}")) == mk.METRICS[kind]


@pytest.mark.parametrize("kind", list(mk.METRICS))
def test_the_output_shown_is_what_the_look_says(kind: str, view: dict[str, Any]) -> None:
    assert _block(f"example: {kind}").splitlines() == mk.report(view, [kind])[kind]


def test_the_curves_json_shown_is_the_looks_block_shortened(view: dict[str, Any]) -> None:
    assert json.loads(_block("example: curves")) == mk.short_curves(view)


def test_the_page_is_linked_from_the_readme() -> None:
    assert "](docs/metrics.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
