"""End to end: switchback events -> DuckDBStore -> run_look -> results with the design block."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from splitlab.evaluation import replay_look, run_look
from splitlab.evaluation.look import results_view
from splitlab.store.duckdb_store import DuckDBStore
from splitlab.store.switchback_standin import switchback_variant
from splitlab.tracking.events import Event

from .conftest import register

ORIGIN = datetime(2026, 3, 2, tzinfo=UTC)
HOUR = 3_600_000
REGIONS = ["r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"]


def _definition() -> dict[str, Any]:
    return {
        "experimentId": "exp-sb",
        "status": "running",
        "variants": ["control", "dispatch-v2"],
        "assignment": {"salt": "sb"},
        "design": {"type": "switchback", "unit": "region", "periodSeconds": 3600,
                   "burnInSeconds": 600, "origin": "2026-03-02T00:00:00Z"},
        "metrics": {
            "primary": {"name": "deliveries", "type": "continuous", "event": "delivery",
                        "aggregation": "count", "direction": "increase"},
            "secondary": [{"name": "minutes", "type": "ratio", "numerator": "delivery_minutes",
                           "denominator": "delivery", "direction": "decrease"}],
        },
        "evaluation": {"maxPeeks": 2, "minSampleSize": 200, "sequential": {"method": "none"}},
    }  # fmt: skip


def _traffic(store: DuckDBStore, exp: Any, rng: np.random.Generator, hours: int) -> None:
    """Deliveries per region and hour; dispatch-v2 delivers 50% more, from 10 minutes in."""
    events: list[Event] = []
    origin = int(ORIGIN.timestamp() * 1000)
    serial = 0
    for k in range(hours):
        for region in REGIONS:
            variant = switchback_variant(exp, region, k)
            rate = 20 * (1.5 if variant == "dispatch-v2" else 1.0)
            for _ in range(int(rng.poisson(rate))):
                serial += 1
                ts = origin + k * HOUR + int(rng.integers(0, HOUR))
                user = f"c{int(rng.integers(5000))}"
                events.append(Event(f"d{serial}", "metric", "exp-sb", variant, user, ts,
                                    "delivery", 1.0, None, region))  # fmt: skip
                events.append(Event(f"m{serial}", "metric", "exp-sb", variant, user, ts,
                                    "delivery_minutes", float(rng.gamma(9, 4)), None, region))  # fmt: skip
    store.ingest(events)


def test_a_switchback_look_runs_cells_stats_and_decision(store: DuckDBStore) -> None:
    registry = register(store, _definition())
    exp = registry.get("exp-sb")
    _traffic(store, exp, np.random.default_rng(3), hours=168)
    cutoff = ORIGIN + timedelta(hours=168)
    record = run_look(store, registry, "exp-sb", cutoff=cutoff, now=cutoff)
    view = results_view(record)
    design = view["design"]
    assert design["type"] == "switchback" and design["unit"] == "region"
    assert design["units"] == 8 and design["periods"] == 168
    assert sum(design["cells"].values()) == 8 * 168
    assert design["estimator"] == "horvitz_thompson"
    assert design["periodSeconds"] == 3600 and design["burnInSeconds"] == 600
    assert any("only 8 switchback units" in w for w in view["warnings"])
    assert view["srm"]["counts"] == design["cells"]
    deliveries = view["metrics"][0]["comparisons"][0]
    assert deliveries["estimable"] and deliveries["significant"]
    assert deliveries["absolute"]["lower"] > 0
    # 50 of 60 minutes are kept: 20 * 0.5 * 50/60 = 8.33 more deliveries per cell.
    assert deliveries["absolute"]["lower"] < 8.33 < deliveries["absolute"]["upper"]
    assert any(n.startswith("regression with period fixed effects") for n in deliveries["notes"])
    assert record.action == "ship" and record.variant == "dispatch-v2"
    # The sums with their cell table are in the ledger, and the look replays to the same bytes.
    assert view["ledger"]["inputs"]["sums"]["cells"]["periods"] == 168
    assert replay_look(record) == record.document
