"""Events with known per-unit values for the capping tests (tests/store, stats, evaluation).

Each unit is exposed once; its post-exposure value is split over one or two metric events
(so the store must sum them before capping) and its pre-exposure value (the CUPED
covariate) is one event a day before. The per-unit arrays are returned alongside, so the
tests compute the reference with numpy on exactly the rows the store sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from splitlab.config import Experiment, load_experiment
from splitlab.tracking.events import Event

T0 = 1_780_000_000_000
DAY = 86_400_000


def capped_experiment(
    cap: dict[str, Any] | None,
    *,
    covariate_cap: dict[str, Any] | None = None,
    cuped: bool = False,
    experiment_id: str = "cap",
    min_sample_size: int = 1000,
    evaluation: dict[str, Any] | None = None,
) -> Experiment:
    """Two arms, one continuous ``revenue`` metric with the given cap."""
    metric: dict[str, Any] = {"name": "revenue", "type": "continuous", "cuped": cuped}
    if cap is not None:
        metric["cap"] = cap
    if covariate_cap is not None:
        metric["covariateCap"] = covariate_cap
    return load_experiment(
        {
            "experimentId": experiment_id,
            "status": "running",
            "variants": ["control", "treatment"],
            "assignment": {"salt": "cap-salt"},
            "evaluation": {
                "cupedLookbackDays": 7,
                "minSampleSize": min_sample_size,
                **(evaluation or {}),
            },
            "metrics": {"primary": metric},
        }
    )


@dataclass
class Units:
    """The per-unit rows: arm (0 control, 1 treatment), value and covariate."""

    arm: np.ndarray
    y: np.ndarray
    x: np.ndarray


def unit_events(
    units: Units, experiment_id: str = "cap", start: int = 0, t0: int = T0
) -> list[Event]:
    """Events that give `units` (unit ids from `start`) their values in the store; ``units.y``
    is set to the sum of the two events' values exactly as the store adds them."""
    arms = ["control", "treatment"]
    events: list[Event] = []
    for u in range(len(units.y)):
        unit, variant, ts = f"u{start + u}", arms[int(units.arm[u])], t0 + u
        events.append(Event(f"e{start + u}", "exposure", experiment_id, variant, unit, ts))
        y = float(units.y[u])
        if y != 0.0:  # two events summing to y (a unit without events counts 0)
            half = round(y / 2, 3)
            events.append(Event(f"m{start + u}a", "metric", experiment_id, variant, unit,
                                ts + 1000, "revenue", half))  # fmt: skip
            events.append(Event(f"m{start + u}b", "metric", experiment_id, variant, unit,
                                ts + 2000, "revenue", y - half))  # fmt: skip
            units.y[u] = half + (y - half)
        x = float(units.x[u])
        if x != 0.0:
            events.append(Event(f"p{start + u}", "metric", "earlier", variant, unit,
                                ts - DAY, "revenue", x))  # fmt: skip
    return events


def heavy_units(rng: np.random.Generator, n: int, ties: bool = True) -> Units:
    """Lognormal values (sigma 1.5) correlated with the covariate, some exact zeros and,
    with `ties`, values rounded to whole numbers so the percentile falls on ties."""
    arm = rng.integers(0, 2, n)
    z = rng.normal(size=n)
    x = np.exp(1.0 + 1.5 * z)
    y = np.exp(1.0 + 1.5 * (0.7 * z + 0.71 * rng.normal(size=n))) * (1 + 0.1 * arm)
    y[rng.random(n) < 0.2] = 0.0
    if ties:
        x, y = np.round(x), np.round(y)
    return Units(arm, y, x)
