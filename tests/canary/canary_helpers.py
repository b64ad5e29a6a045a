"""A canary definition and seeded request events for the canary tests (store, monitor, CLI)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np

from splitlab.config import load_experiment
from splitlab.config.models import Experiment
from splitlab.tracking.events import Event

EXPERIMENT_ID = "canary-checkout"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
MINUTE = 60_000
_ids = itertools.count()


def definition(**design: Any) -> dict[str, Any]:
    """A running canary: baseline vs canary, a ramp of 5 %, 25 %, 50 %, then promotion."""
    return {
        "experimentId": EXPERIMENT_ID,
        "name": "Checkout service v2 canary",
        "status": "running",
        "variants": ["baseline", "canary"],
        "assignment": {"salt": "canary-salt"},
        "metrics": {"primary": {"name": "errors", "type": "continuous"}},
        "design": {
            "type": "canary",
            "intervalMinutes": 5,
            "ramp": [
                {"percent": 5, "minMinutes": 10, "minRequests": 200},
                {"percent": 25, "minMinutes": 10, "minRequests": 200},
                {"percent": 50, "minMinutes": 10, "minRequests": 200},
                {"percent": 100},
            ],
            "metrics": [
                {"name": "errors", "kind": "proportion", "tolerance": 0.02,
                 "toleranceType": "absolute"},
                {"name": "latency", "kind": "quantile", "quantile": 0.99, "tolerance": 0.25},
                {"name": "latency_shift", "event": "latency", "kind": "mann_whitney",
                 "tolerance": 0.05},
            ],
            **design,
        },
    }  # fmt: skip


def canary_experiment(**design: Any) -> Experiment:
    return load_experiment(definition(**design))


def exposure(unit: str, variant: str, ts: int, experiment_id: str = EXPERIMENT_ID) -> Event:
    return Event(f"x{next(_ids)}", "exposure", experiment_id, variant, unit, ts)


def metric(
    unit: str, variant: str, ts: int, name: str, value: float, experiment_id: str = EXPERIMENT_ID
) -> Event:
    return Event(f"m{next(_ids)}", "metric", experiment_id, variant, unit, ts, name, value)


def requests(
    rng: np.random.Generator,
    units: dict[str, str],
    start_ms: int,
    minutes: float,
    per_unit: float,
    *,
    slow: float = 1.0,
    error_rate: float = 0.01,
) -> Iterator[Event]:
    """Each unit's requests in ``[start, start + minutes)``: an error flag (0/1) and a latency
    in whole milliseconds (exact in float sums); the canary's latency tail is ``slow`` times
    the baseline's."""
    span = int(minutes * MINUTE)
    for unit, variant in units.items():
        count = int(rng.poisson(per_unit))
        for ts in np.sort(rng.integers(start_ms, start_ms + span, count)):
            error = float(rng.random() < error_rate)
            latency = float(np.round(rng.lognormal(4.0, 0.5)))
            if variant == "canary" and rng.random() < 0.05:
                latency = float(np.round(latency * slow))
            yield metric(unit, variant, int(ts), "errors", error)
            yield metric(unit, variant, int(ts), "latency", latency)
