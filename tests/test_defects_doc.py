"""docs/defects.md names, for each of the article's 14 defects, tests that really exist."""

from __future__ import annotations

import ast
import re

import pytest

from tests.conftest import ROOT

DOC = (ROOT / "docs" / "defects.md").read_text(encoding="utf-8")
ROWS = {
    int(m.group(1)): re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", m.group(2))
    for m in re.finditer(r"^\| (\d+) \|(.*)$", DOC, re.MULTILINE)
}


def _test_names(path: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_every_defect_has_a_row_with_tests() -> None:
    """Defects 1 to 14 each have a row naming at least one test."""
    assert sorted(ROWS) == list(range(1, 15))
    assert all(ROWS.values())


@pytest.mark.parametrize("defect", sorted(ROWS))
def test_named_tests_exist(defect: int) -> None:
    """Every test a row names is a test function in the named file."""
    for path, name in ROWS[defect]:
        assert name in _test_names(path), f"defect {defect}: {path}::{name} does not exist"
