"""Events of a bandit for the store tests, and the per-batch sums computed again in pandas."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from splitlab.config import Experiment, load_experiment
from splitlab.tracking.events import Event

HOUR = 3_600_000
T0 = 1_772_438_400_000  # 2026-03-02T08:00:00Z
ARMS = ("a", "b", "c")


def bandit(reward: str = "buy") -> Experiment:
    """A 3-arm bandit whose reward is `buy` (conversion, 24 h) or `spend` (continuous sum, 12 h)."""
    return load_experiment(
        {
            "experimentId": "exp-bandit",
            "status": "running",
            "variants": list(ARMS),
            "assignment": {"strategy": "consistent_hash", "hashKey": "userId", "salt": "s"},
            "metrics": {
                "primary": {"name": "buy", "type": "conversion", "windowHours": 24},
                "secondary": [
                    {"name": "spend", "type": "continuous", "windowHours": 12, "aggregation": "sum"}
                ],
            },
            "design": {"type": "bandit", "reward": reward},
        }
    )


def events(rng: np.random.Generator, units: int = 1200) -> list[Event]:
    """Exposures over 3 days (some units exposed twice, some to two arms), reward events
    inside and outside each unit's windows, and events of another experiment."""
    out: list[Event] = []
    k = 0

    def add(kind: str, exp: str, variant: str, unit: str, ts: int, **kw: Any) -> None:
        nonlocal k
        k += 1
        out.append(Event(f"e{k}", kind, exp, variant, unit, int(ts), **kw))  # type: ignore[arg-type]

    for i in range(units):
        unit = f"u{i}"
        arm = ARMS[int(rng.integers(3))]
        t = T0 + int(rng.integers(0, 72 * HOUR))
        add("exposure", "exp-bandit", arm, unit, t)
        if rng.random() < 0.2:
            add("exposure", "exp-bandit", arm, unit, t + int(rng.integers(1, 5 * HOUR)))
        if rng.random() < 0.03:
            add("exposure", "exp-bandit", ARMS[(ARMS.index(arm) + 1) % 3], unit, t + HOUR)
        for _ in range(int(rng.integers(0, 3))):
            add("metric", "exp-bandit", arm, unit, t + int(rng.integers(-2 * HOUR, 36 * HOUR)),
                metric="buy", value=1.0)  # fmt: skip
        for _ in range(int(rng.integers(0, 4))):
            add("metric", "exp-bandit", arm, unit, t + int(rng.integers(-HOUR, 20 * HOUR)),
                metric="spend", value=float(rng.integers(1, 400)) / 4)  # fmt: skip
        if rng.random() < 0.1:
            add("metric", "other", arm, unit, t + HOUR, metric="buy", value=1.0)
    return out


def pandas_batches(
    experiment: Experiment, evs: Sequence[Event], boundaries: Sequence[int], cutoff: int
) -> tuple[list[dict[str, tuple[int, float, float]]], list[dict[str, int]]]:
    """The rules of splitlab.store.bandit_sql, computed again in pandas."""
    df = pd.DataFrame(
        [
            {"kind": e.type, "exp": e.experiment_id, "variant": e.variant, "unit": e.unit_id,
             "ts": e.timestamp, "metric": e.metric, "value": e.value}
            for e in evs
        ]
    )  # fmt: skip
    name = experiment.design.reward or "buy"  # type: ignore[union-attr]
    metric = next(m for _, m in experiment.metrics.all() if m.name == name)
    window = int(metric.window_hours * HOUR)  # type: ignore[operator]
    exp = df[(df.kind == "exposure") & (df.exp == "exp-bandit") & (df.ts <= cutoff)]
    first = (
        exp.sort_values("ts")
        .groupby("unit")
        .agg(t0=("ts", "min"), variant=("variant", "first"), k=("variant", "nunique"))
    )
    first = first[first.k == 1]
    ev = df[(df.kind == "metric") & (df.exp == "exp-bandit") & (df.metric == name)]
    ev = ev.merge(first[["t0"]], left_on="unit", right_index=True)
    ev = ev[(ev.ts >= ev.t0) & (ev.ts < ev.t0 + window) & (ev.ts <= cutoff)]
    if metric.type.value == "conversion":
        y = ev.groupby("unit").size().clip(upper=1).astype(float)
    else:
        y = ev.groupby("unit")["value"].sum()
    first["y"] = y.reindex(first.index).fillna(0.0)
    first["batch"] = [sum(t0 >= b for b in boundaries) for t0 in first.t0]
    first["closed"] = first.t0 + window <= cutoff
    rewards = [dict.fromkeys(ARMS, (0, 0.0, 0.0)) for _ in range(len(boundaries) + 1)]
    exposed = [dict.fromkeys(ARMS, 0) for _ in range(len(boundaries) + 1)]
    for (b, v), g in first.groupby(["batch", "variant"]):
        c = g[g.closed]
        rewards[int(b)][str(v)] = (len(c), float(c.y.sum()), float((c.y**2).sum()))
        exposed[int(b)][str(v)] = len(g)
    return rewards, exposed


def as_tuples(rewards: Sequence[dict[str, Any]]) -> list[dict[str, tuple[int, float, float]]]:
    return [{a: (x.n, x.sum, x.sum_sq) for a, x in batch.items()} for batch in rewards]
