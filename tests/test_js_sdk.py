"""The JavaScript SDK's own tests (`node --test sdk/js/test`), so `make test` covers them."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

NODE = shutil.which("node")


def node_test(*paths: str) -> tuple[int, dict[str, int], str]:
    """Run `node --test` on `paths`; the exit status, the summary counts and the output tail."""
    if NODE is None:
        pytest.fail("node is missing: run scripts/install-system-deps.sh (Debian's nodejs, 18+)")
    proc = subprocess.run(
        [NODE, "--test", *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    counts: dict[str, int] = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "#" and parts[2].isdigit():
            counts[parts[1]] = int(parts[2])
    return proc.returncode, counts, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_js_sdk_passes_its_tests() -> None:
    """The JS SDK passes its node tests, which read the same spec vectors as Python."""
    status, counts, tail = node_test("sdk/js/test/")
    assert status == 0, tail
    assert counts.get("fail") == 0


def test_js_sdk_runs_every_layer_vector() -> None:
    """sdk/js/test/layer-spec.test.js runs one test per vector of spec/layer-cases.json."""
    spec = json.loads((ROOT / "spec" / "layer-cases.json").read_text(encoding="utf-8"))
    vectors = len(spec["layerEdges"]) + len(spec["layerIntegers"]) + len(spec["cases"])
    status, counts, tail = node_test("sdk/js/test/layer-spec.test.js")
    assert status == 0, tail
    assert counts.get("fail") == 0
    # one test per vector, plus the check that no list of the file is left unrun
    assert counts.get("pass") == vectors + 1, counts
