"""The JS SDK (sdk/js) in real headless Chromium: every spec vector, on the browser's hash path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser_sdk.page import BrowserPage
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

RUNNER = "tests/browser_sdk/run_vectors.js"

#: The lists of vectors in each spec file; each entry is one case.
GROUPS = {
    "assignment-cases.json": ["hashes", "allocations", "weights", "assignments"],
    "condition-cases.json": ["conditions", "invalidConditions", "rules", "invalidRules"],
    "switchback-cases.json": ["origins", "badOrigins", "periods", "hashes", "assignments"],
    "layer-cases.json": ["layerEdges", "layerIntegers", "experiments", "cases"],
}
#: The runner's group names for a file whose list names repeat another file's.
PREFIXES = {"switchback-cases.json": "switchback:", "layer-cases.json": "layer:"}


def file_counts() -> dict[str, int]:
    """The number of cases in each group, read from the spec files on disk."""
    counts: dict[str, int] = {}
    for name, groups in GROUPS.items():
        spec: dict[str, Any] = json.loads((ROOT / "spec" / name).read_text(encoding="utf-8"))
        assert set(groups) <= set(spec), f"spec/{name} lacks a group of {groups}"
        # every list in the file is a group of cases, so a new group cannot be left unrun
        assert {k for k, v in spec.items() if isinstance(v, list)} == set(groups)
        prefix = PREFIXES.get(name, "")
        counts.update({prefix + group: len(spec[group]) for group in groups})
    return counts


def test_every_spec_vector_passes_in_chromium(browser_page: BrowserPage) -> None:
    """Every vector of every spec file runs in the page and none disagrees with the SDK."""
    result = browser_page.run_module(RUNNER, "return await m.runVectors();")
    expected_counts = file_counts()
    assert result["mismatches"] == []
    assert result["counts"] == expected_counts
    assert result["count"] == sum(expected_counts.values())
    assert browser_page.errors == []


def test_the_page_hashes_without_node(browser_page: BrowserPage) -> None:
    """In the browser there is no `process`, so the SDK uses its portable SHA-256."""
    result = browser_page.run_module(
        "sdk/js/src/index.js",
        "return {native: m.nativeHash, process: typeof process,"
        " same: m.sha256 === m.sha256Portable};",
    )
    assert result == {"native": False, "process": "undefined", "same": True}


def test_a_wrong_expectation_is_reported(browser_page: BrowserPage) -> None:
    """The runner reports a vector whose expectation is altered, so a real mismatch would show."""
    script = """
        const v = await m.loadVectors();
        const a = v.assignment.assignments[0];
        a.variant = a.variant === "control" ? "variant-a" : "control";
        v.conditions.conditions[0].expected = !v.conditions.conditions[0].expected;
        v.assignment.hashes[0].sha256 = "00" + v.assignment.hashes[0].sha256.slice(2);
        return {out: m.runLoaded(v.assignment, v.conditions),
                names: [JSON.stringify(v.assignment.hashes[0].unit), a.name,
                        v.conditions.conditions[0].name]};
    """
    result = browser_page.run_module(RUNNER, script)
    mismatches = result["out"]["mismatches"]
    hashed, assigned, condition = result["names"]
    assert [(m["group"], m["name"]) for m in mismatches] == [
        ("hashes", hashed),
        ("assignments", assigned),
        ("conditions", condition),
    ]
