"""Fixtures of the store tests: a real DuckDB store in a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from splitlab.store import DuckDBStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    """A DuckDBStore whose background loader waits long (so tests see the replay paths)."""
    opened = DuckDBStore(tmp_path / "events.duckdb", load_interval_s=30.0)
    yield opened
    opened.close()
