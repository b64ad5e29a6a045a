"""Simulated events for the retention and time-to-event sums, and a pandas reference.

The reference follows the documented rules (docs/storage.md, "Retention and time to event")
on a table of the events with pandas; it shares no code with the stores' SQL, so agreement
is evidence that the SQL implements the rules.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from splitlab.config import Experiment, load_experiment
from splitlab.stats.survival_table import RetentionCurve, SurvivalTable
from splitlab.tracking.events import Event

T0 = 1_780_000_000_000
HOUR = 3_600_000
DAY = 24 * HOUR
#: The look's cut-off: 15 days after the first exposures start (they go on for 20 days).
CUTOFF = T0 + 15 * DAY
VARIANTS = ["control", "a", "b"]

DEFINITION: dict[str, Any] = {
    "experimentId": "ret",
    "status": "running",
    "variants": VARIANTS,
    "assignment": {"salt": "ret-salt"},
    "evaluation": {"cupedLookbackDays": 3},
    "segments": ["region"],
    "metrics": {
        "primary": {"name": "d7", "type": "retention", "event": "visit",
                    "retention": {"day": 7}},
        "secondary": [
            {"name": "week2", "type": "retention", "event": "visit",
             "retention": {"day": 7, "days": 7}},
            {"name": "d0_buy", "type": "retention", "event": "purchase",
             "retention": {"day": 0}},
            {"name": "time_to_buy", "type": "time_to_event", "event": "purchase",
             "horizonHours": 240},
            {"name": "time_to_visit", "type": "time_to_event", "event": "visit",
             "horizonHours": 36.5},
            {"name": "purchase", "type": "conversion"},
            {"name": "revenue", "type": "continuous", "event": "purchase", "cuped": True},
        ],
    },
}  # fmt: skip

RETENTION = {"d7": (7, 1), "week2": (7, 7), "d0_buy": (0, 1)}
TIME_TO_EVENT = {"time_to_buy": ("purchase", 240.0), "time_to_visit": ("visit", 36.5)}
EVENT_OF = {"d7": "visit", "week2": "visit", "d0_buy": "purchase"}


def experiment() -> Experiment:
    return load_experiment(DEFINITION)


def simulate(rng: np.random.Generator, units: int = 600) -> list[Event]:
    """Staggered exposures (some repeated, some in two variants, some after the cut-off);
    visits on various days before and after the exposure (some exactly on a day's edge),
    purchases at exponential times (some exactly at the horizon), events of another
    experiment and events after the cut-off."""
    events: list[Event] = []
    serial = 0

    def add(
        kind: str,
        exp: str,
        variant: str,
        unit: str,
        ts: int,
        name: str | None = None,
        value: float | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> None:
        nonlocal serial
        serial += 1
        events.append(Event(f"e{serial}", kind, exp, variant, unit, ts, name, value,
                            attributes))  # fmt: skip

    for u in range(units):
        unit = f"u{u}"
        arm = int(rng.integers(3))
        variant = VARIANTS[arm]
        t0 = T0 + int(rng.integers(0, 20 * DAY))
        if u % 17 == 0:
            t0 = CUTOFF - int(rng.integers(0, 3)) * DAY - 7 * DAY - 8 * DAY * int(u % 2)
        add("exposure", "ret", variant, unit, t0, attributes={"region": ["EU", "US"][u % 2]})
        roll = rng.random()
        if roll < 0.1:  # exposed again later, same variant: the first exposure counts
            add("exposure", "ret", variant, unit, t0 + int(rng.integers(1, 5 * DAY)))
        elif roll < 0.15:  # also exposed to another variant: left out
            other = VARIANTS[(arm + 1) % 3]
            add("exposure", "ret", other, unit, t0 + int(rng.integers(1, 5 * DAY)))
        # visits: a chance per day from 3 days before to 25 days after the exposure
        p = 0.25 + 0.05 * arm
        for day in range(-3, 26):
            if rng.random() < p:
                at = t0 + day * DAY + int(rng.integers(0, DAY))
                if rng.random() < 0.05:
                    at = t0 + day * DAY  # exactly at the start of the day
                add("metric", "ret", variant, unit, at, "visit", 1.0)
                if rng.random() < 0.3:  # a second visit the same day
                    add("metric", "ret", variant, unit, at + int(rng.integers(0, HOUR)),
                        "visit", 1.0)  # fmt: skip
        # purchases: the first at an exponential time, a few more after it
        first = int(rng.exponential(5 * DAY / (1 + 0.3 * arm)))
        if rng.random() < 0.05:
            first = 240 * HOUR  # exactly at the horizon: observed
        if rng.random() < 0.05:
            first = 36 * HOUR + HOUR // 2 + 1  # just past time_to_visit's horizon
        for extra in range(int(rng.integers(1, 4))):
            add("metric", "ret", variant, unit, t0 + first + extra * int(rng.integers(1, DAY)),
                "purchase", float(rng.integers(1, 50)))  # fmt: skip
        if rng.random() < 0.3:  # a purchase before the exposure (the CUPED pre-period)
            add("metric", "ret", variant, unit, t0 - int(rng.integers(1, 2 * DAY)), "purchase",
                5.0)  # fmt: skip
        if rng.random() < 0.3:  # another experiment's events: never this one's
            add("metric", "other", variant, unit, t0 + int(rng.integers(0, 3 * DAY)), "visit", 1.0)
            add("metric", "other", variant, unit, t0 + int(rng.integers(0, DAY)), "purchase", 3.0)
    # events of units never exposed
    for u in range(20):
        add("metric", "ret", "control", f"ghost{u}", T0 + u * DAY, "visit", 1.0)
    return events


def frames(events: list[Event], cutoff: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The analysed units (index unit: variant, t0, region) and this experiment's metric
    events of them (unit, name, age in ms), at or before `cutoff`."""
    rows = pd.DataFrame(
        [
            (e.type, e.experiment_id, e.variant, e.unit_id, e.timestamp, e.metric,
             (e.attributes or {}).get("region"))
            for e in events
        ],
        columns=["type", "exp", "variant", "unit", "ts", "name", "region"],
    )  # fmt: skip
    exposures = rows[(rows.type == "exposure") & (rows.exp == "ret") & (rows.ts <= cutoff)]
    exposures = exposures.sort_values("ts")
    per_unit = exposures.groupby("unit").agg(
        t0=("ts", "first"),
        variant=("variant", "first"),
        region=("region", "first"),
        arms=("variant", "nunique"),
    )
    units = per_unit[per_unit.arms == 1].drop(columns="arms")
    mine = rows[(rows.type == "metric") & (rows.exp == "ret") & (rows.ts <= cutoff)]
    joined = mine.merge(units[["t0"]], left_on="unit", right_index=True)
    joined["age"] = joined.ts - joined.t0
    return units, joined[["unit", "name", "age", "ts"]]


def retention_reference(
    units: pd.DataFrame, events: pd.DataFrame, name: str, cutoff: int
) -> pd.DataFrame:
    """Per unit: eligible and retained (0/1) for retention metric `name`."""
    day, days = RETENTION[name]
    start, end = day * DAY, (day + days) * DAY
    hits = events[(events.name == EVENT_OF[name]) & (events.age >= start) & (events.age < end)]
    out = units.copy()
    out["eligible"] = (out.t0 + end <= cutoff).astype(int)
    out["retained"] = out.index.isin(hits.unit).astype(int) * out.eligible
    return out


def curve_reference(
    units: pd.DataFrame, events: pd.DataFrame, name: str, cutoff: int, variant: str
) -> RetentionCurve:
    """The arm's retention curve for days 0 .. day + days - 1."""
    day, days = RETENTION[name]
    arm = units[units.variant == variant]
    ev = events[(events.name == EVENT_OF[name]) & events.unit.isin(arm.index) & (events.age >= 0)]
    eligible, retained = [], []
    for d in range(day + days):
        ok = arm[arm.t0 + (d + 1) * DAY <= cutoff]
        seen = ev[(ev.age >= d * DAY) & (ev.age < (d + 1) * DAY)].unit
        eligible.append(float(len(ok)))
        retained.append(float(ok.index.isin(seen).sum()))
    return RetentionCurve(tuple(range(day + days)), tuple(eligible), tuple(retained))


def survival_reference(
    units: pd.DataFrame, events: pd.DataFrame, name: str, cutoff: int, variant: str
) -> SurvivalTable:
    """The arm's survival table of time-to-event metric `name` (durations in hours)."""
    event, horizon = TIME_TO_EVENT[name]
    tau = round(horizon * HOUR)
    arm = units[units.variant == variant]
    ev = events[(events.name == event) & (events.age >= 0)]
    first = ev.groupby("unit").age.min().reindex(arm.index)
    limit = np.minimum(cutoff - arm.t0, tau)
    observed = first.notna() & (first <= limit)
    duration = np.where(observed, first.fillna(0), limit).astype(np.int64)
    return SurvivalTable.from_durations(list(duration / HOUR), list(observed))
