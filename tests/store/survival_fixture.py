"""A DuckDB store holding the simulated retention / time-to-event events (module scope)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from splitlab.store import DuckDBStore

from .survival_data import simulate


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DuckDBStore, Any]]:
    events = simulate(np.random.default_rng(20261204))
    store = DuckDBStore(tmp_path_factory.mktemp("survival") / "events.duckdb")
    store.ingest(events)
    yield store, events
    store.close()
