"""Switchback definitions and simulated events shared by the store and ClickHouse tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from splitlab.config import Experiment
from splitlab.store.switchback_standin import switchback_variant
from splitlab.tracking.events import Event

HOUR = 3_600_000
ORIGIN = datetime(2026, 3, 2, tzinfo=UTC)
O_MS = int(ORIGIN.timestamp() * 1000)
BURN = 600_000


def definition(unit: str | None = "region") -> dict[str, Any]:
    return {
        "experimentId": "sb",
        "status": "running",
        "variants": ["control", "fast"],
        "assignment": {"salt": "sb-salt"},
        "design": {"type": "switchback", "unit": unit, "periodSeconds": 3600,
                   "burnInSeconds": 600, "origin": "2026-03-02T00:00:00Z"},
        "metrics": {
            "primary": {"name": "orders", "type": "continuous", "aggregation": "count"},
            "secondary": [
                {"name": "buyers", "type": "conversion", "event": "orders"},
                {"name": "revenue", "type": "continuous", "aggregation": "sum"},
                {"name": "biggest", "type": "continuous", "event": "revenue",
                 "aggregation": "max"},
                {"name": "aov", "type": "ratio", "numerator": "revenue", "denominator": "orders"},
            ],
        },
    }  # fmt: skip


def simulate(exp: Experiment, rng: np.random.Generator, regions: list[str | None]) -> list[Event]:
    """Orders and revenue over 30 hours from 2:20 on; some claim a wrong variant."""
    events: list[Event] = []
    start = O_MS + 2 * HOUR + 20 * 60_000
    for i in range(3000):
        ts = start + int(rng.integers(0, 30 * HOUR))
        region = regions[int(rng.integers(len(regions)))]
        k = (ts - O_MS) // HOUR
        variant = switchback_variant(exp, region if exp.design.unit else None, k)  # type: ignore[union-attr]
        if rng.random() < 0.02:
            variant = "control" if variant == "fast" else "fast"
        user = f"u{int(rng.integers(200))}"
        value = float(rng.gamma(2.0, 10.0))
        events.append(Event(f"o{i}", "metric", "sb", variant, user, ts, "orders", 1.0,
                            None, region))  # fmt: skip
        events.append(Event(f"r{i}", "metric", "sb", variant, user, ts, "revenue", value,
                            None, region))  # fmt: skip
        if i % 50 == 0:
            events.append(Event(f"x{i}", "exposure", "sb", variant, user, ts, None, None, None,
                                region))  # fmt: skip
    return events
