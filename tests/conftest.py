"""Shared fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTICLE_EXAMPLE = ROOT / "examples" / "exp-checkout-flow-v3.json"


@pytest.fixture
def article_raw() -> dict[str, Any]:
    """The article's configuration template, as parsed JSON."""
    data: dict[str, Any] = json.loads(ARTICLE_EXAMPLE.read_text())
    return data
