"""Seeded simulated events that exercise every rule of the summary SQL.

Values are multiples of 1/4 below 100, so every sum and sum of squares is exact in float64
and the two stores' results can be compared for equality, whatever order they add in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splitlab.config import load_experiment
from splitlab.config.models import Experiment
from splitlab.tracking.events import Event

EXPERIMENT_ID = "ch-exp"
OTHER_ID = "other-exp"
VARIANTS = ("control", "a", "b")
T_BASE = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY = 86_400_000
HOUR = 3_600_000


def experiment() -> Experiment:
    """An experiment with every metric type, aggregation, window and CUPED combination."""
    return load_experiment(
        {
            "experimentId": EXPERIMENT_ID,
            "name": "ClickHouse parity",
            "status": "running",
            "trafficAllocation": 1.0,
            "variants": list(VARIANTS),
            "assignment": {"strategy": "consistent_hash", "salt": "ch"},
            "segments": ["country", "tier", "mobile"],
            "evaluation": {"minSampleSize": 100, "cupedLookbackDays": 7},
            "metrics": {
                "primary": {"name": "purchase", "type": "conversion", "cuped": True,
                            "windowHours": 48},
                "secondary": [
                    {"name": "revenue", "type": "continuous", "cuped": True},
                    {"name": "clicks", "type": "continuous", "aggregation": "count",
                     "windowHours": 72, "cuped": True},
                    {"name": "basket", "type": "continuous", "aggregation": "max"},
                    {"name": "rev_per_order", "type": "ratio", "numerator": "revenue",
                     "denominator": "orders", "cuped": True},
                    {"name": "orders_per_visit", "type": "ratio", "numerator": "orders",
                     "denominator": "visits", "windowHours": 24},
                ],
                "guardrails": [
                    {"name": "errors", "type": "continuous", "threshold": 0.5},
                ],
            },
        }
    )  # fmt: skip


METRIC_NAMES = ("purchase", "revenue", "clicks", "basket", "orders", "visits", "errors")


@dataclass
class _Ids:
    next: int = 0

    def __call__(self, prefix: str) -> str:
        self.next += 1
        return f"{prefix}-{self.next}"


def simulate(rng: np.random.Generator, units: int = 1500) -> list[Event]:
    """Events of `units` units: exposures (some repeated, some in two variants), metric events
    before and after exposure and outside windows, other experiments' events, never-exposed
    units and claimed variants that differ from the exposure."""
    ids = _Ids()
    events: list[Event] = []
    for u in range(units):
        unit = f"user-{u}"
        variant = VARIANTS[int(rng.integers(3))]
        t0 = T_BASE + int(rng.integers(0, 10 * DAY))
        exposed = rng.random() > 0.05
        if exposed:
            attributes: dict[str, str | int | float | bool] | None = {
                "country": ["US", "DE", "J'P \\x"][int(rng.integers(3))],
                "tier": int(rng.integers(1, 4)),
                "mobile": bool(rng.random() < 0.5),
            }
            if rng.random() < 0.1:
                del attributes["country"]
            draw = rng.random()
            if draw < 0.05:
                attributes = {}
            elif draw < 0.1:  # no attributes at all (NULL), as a later exposure may have
                attributes = None
            events.append(
                Event(ids("x"), "exposure", EXPERIMENT_ID, variant, unit, t0, attributes=attributes)
            )
            if rng.random() < 0.2:  # a later exposure: same variant, other attributes
                later = t0 + int(rng.integers(1, 3 * DAY))
                events.append(
                    Event(ids("x"), "exposure", EXPERIMENT_ID, variant, unit, later,
                          attributes={"country": "FR", "tier": 9, "mobile": False})
                )  # fmt: skip
            if rng.random() < 0.04:  # exposed to a second variant: excluded from the sums
                other = VARIANTS[(VARIANTS.index(variant) + 1) % 3]
                events.append(
                    Event(ids("x"), "exposure", EXPERIMENT_ID, other, unit,
                          t0 + int(rng.integers(-DAY, DAY)))
                )  # fmt: skip
        for _ in range(int(rng.poisson(6))):
            metric = METRIC_NAMES[int(rng.integers(len(METRIC_NAMES)))]
            ts = t0 + int(rng.integers(-9 * DAY, 5 * DAY))
            value = float(rng.integers(0, 400)) / 4
            claimed = variant if rng.random() > 0.05 else VARIANTS[int(rng.integers(3))]
            experiment_id = EXPERIMENT_ID if rng.random() > 0.15 else OTHER_ID
            events.append(
                Event(ids("m"), "metric", experiment_id, claimed, unit, ts, metric, value)
            )
    return events


def batches(
    rng: np.random.Generator, events: list[Event], size: int = 250, duplicate_share: float = 0.1
) -> list[list[Event]]:
    """`events` shuffled (out of order: metric events before their exposures), cut into
    batches, with `duplicate_share` of them sent a second time in a later batch."""
    order = rng.permutation(len(events))
    again = rng.choice(len(events), int(len(events) * duplicate_share), replace=False)
    stream = [events[i] for i in order] + [events[i] for i in rng.permutation(again)]
    return [stream[i : i + size] for i in range(0, len(stream), size)]
