"""Fixtures of the evaluation tests: a registry in a real DuckDB file and small definitions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from splitlab.config import Experiment, load_experiment
from splitlab.store.duckdb_store import DuckDBStore
from splitlab.store.registry import Registry

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def definition(**overrides: Any) -> dict[str, Any]:
    """A small two-variant definition; keyword arguments replace top-level keys."""
    raw: dict[str, Any] = {
        "experimentId": "exp-eval",
        "name": "Evaluation test",
        "status": "draft",
        "trafficAllocation": 1.0,
        "variants": ["control", "treatment"],
        "assignment": {"strategy": "consistent_hash", "hashKey": "userId", "salt": "s-1"},
        "metrics": {
            "primary": {"name": "checkout", "type": "conversion", "direction": "increase"},
            "guardrails": [{"name": "error_rate", "threshold": 0.02, "action": "rollback"}],
        },
        "evaluation": {"maxPeeks": 3, "minSampleSize": 1000},
        "rollback": {"enabled": True, "conditions": ["guardrail_breach", "srm_detected"]},
    }
    raw.update(overrides)
    return raw


@pytest.fixture
def experiment() -> Experiment:
    """The small definition, loaded."""
    return load_experiment(definition())


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    """A registry in a fresh DuckDB file (its own connection and lock)."""
    conn = duckdb.connect(str(tmp_path / "registry.duckdb"))
    yield Registry(conn)
    conn.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    """A real DuckDB store in a temporary directory."""
    with DuckDBStore(tmp_path / "events.duckdb", load_interval_s=0.05) as s:
        yield s


def register(store: DuckDBStore, raw: dict[str, Any]) -> Registry:
    """A registry in `store`'s file holding the definition `raw`."""
    registry = Registry.for_store(store)
    registry.create(load_experiment(raw), at=T0)
    return registry
