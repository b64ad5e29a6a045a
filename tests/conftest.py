"""Shared fixtures."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # imported by the fixture: a run of other tests skips the server's imports
    from splitlab.demo.setup import DemoResult

ROOT = Path(__file__).resolve().parent.parent
ARTICLE_EXAMPLE = ROOT / "examples" / "exp-checkout-flow-v3.json"


def pytest_collection_finish(session: pytest.Session) -> None:
    """Move what importing and collecting the tests left alive (most of the session's objects:
    modules, test items) to the permanent generation, as ``splitlab.server.gctune`` does for
    the server: every later full collection, automatic or a library's ``gc.collect()``, then
    walks only the objects made since, not all of them (measured: 7.3 s of full collections
    in tests/evaluation, store, assignment and config, most of it in test_holdouts.py)."""
    gc.collect()
    gc.freeze()


@pytest.fixture
def article_raw() -> dict[str, Any]:
    """The article's configuration template, as parsed JSON."""
    data: dict[str, Any] = json.loads(ARTICLE_EXAMPLE.read_text())
    return data


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    """The dashboard tests' demo, built once per session with its store closed: the server and
    browser suites each open a copy (tests/demo_template.py)."""
    from tests.demo_template import build_template

    return build_template(tmp_path_factory.mktemp("demo-template"))
