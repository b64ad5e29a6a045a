"""The log line of an automatic change says what happened, not "None -> None".

A canary step or a bandit update changes the definition, not the status, so the registry's
"from -> to" form had nothing to show; the line carries the change's reason instead.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from splitlab.config import load_experiment
from splitlab.evaluation import automatic, lifecycle
from splitlab.store import DuckDBStore
from splitlab.store.registry import Registry

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CANARY = {
    "experimentId": "exp-canary",
    "status": "draft",
    "variants": ["baseline", "canary"],
    "assignment": {"salt": "s"},
    "metrics": {"primary": {"name": "request_error", "type": "conversion"}},
    "design": {
        "type": "canary",
        "ramp": [{"percent": 5, "minMinutes": 10}, {"percent": 25, "minMinutes": 10}],
        "metrics": [{"name": "request_error", "kind": "proportion", "tolerance": 0.01}],
    },
}


def test_an_automatic_change_logs_its_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with DuckDBStore(str(tmp_path / "s.duckdb")) as store:
        registry = Registry.for_store(store)
        lifecycle.register(registry, load_experiment(CANARY), by="t", reason="n", now=T0)
        lifecycle.change_status(registry, "exp-canary", "running", by="t", reason="go", now=T0)
        wire = registry.get("exp-canary").to_wire()
        wire["design"]["step"] = 1
        wire.pop("trafficAllocation", None)
        with caplog.at_level(logging.INFO, logger="splitlab.store.registry"):
            automatic.apply_automatic_change(
                registry, load_experiment(wire), kind="canary_step", by="canary monitor",
                reason="advancing to 25 %", now=T0,
            )  # fmt: skip
    lines = [r.getMessage() for r in caplog.records]
    assert "exp-canary canary_step by canary monitor: advancing to 25 %" in lines
    assert not any("None -> None" in line for line in lines)
