"""The JavaScript SDK's own tests (`node --test sdk/js/test`), so `make test` covers them."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import ROOT

NODE = shutil.which("node")


def test_js_sdk_passes_its_tests() -> None:
    """The JS SDK passes its node tests, which read the same spec vectors as Python."""
    if NODE is None:
        pytest.fail("node is missing: run scripts/install-system-deps.sh (Debian's nodejs, 18+)")
    proc = subprocess.run(
        [NODE, "--test", "sdk/js/test/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    summary = [line for line in proc.stdout.splitlines() if line.startswith("# ")]
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "# fail 0" in summary
