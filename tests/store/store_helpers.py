"""Simulated events and an independent, plain-Python computation of their sums.

The reference below walks the events unit by unit in Python and sums with numpy; it shares
no code with the SQL in :mod:`splitlab.store.summary_sql`, so agreement between the two is
evidence that the SQL implements the documented rules.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from splitlab.config import Experiment, load_experiment
from splitlab.config.models import Metric, MetricType
from splitlab.tracking.events import Event

T0 = 1_780_000_000_000
HOUR = 3_600_000
DAY = 24 * HOUR

DEFINITION: dict[str, Any] = {
    "experimentId": "sim",
    "status": "running",
    "variants": ["control", "a", "b"],
    "assignment": {"salt": "sim-salt"},
    "evaluation": {"cupedLookbackDays": 7},
    "segments": ["region"],
    "metrics": {
        "primary": {"name": "purchase", "type": "conversion"},
        "secondary": [
            {"name": "revenue", "type": "continuous", "aggregation": "sum", "cuped": True},
            {"name": "pageviews", "type": "continuous", "event": "pageview",
             "aggregation": "count", "cuped": True},
            {"name": "max_basket", "type": "continuous", "event": "basket",
             "aggregation": "max", "windowHours": 24},
            {"name": "aov", "type": "ratio", "numerator": "revenue", "denominator": "orders",
             "cuped": True},
        ],
        "guardrails": [
            {"name": "errors", "type": "conversion", "event": "error", "threshold": 0.01,
             "windowHours": 48},
        ],
    },
}  # fmt: skip

EVENT_NAMES = ["purchase", "revenue", "pageview", "basket", "orders", "error"]


def experiment() -> Experiment:
    return load_experiment(DEFINITION)


def simulate(rng: np.random.Generator, units: int = 400) -> list[Event]:
    """Exposures (some repeated, some in two variants) and metric events around them."""
    variants = ["control", "a", "b"]
    regions = ["US", "EU", "APAC"]
    events: list[Event] = []
    serial = 0

    def next_id() -> str:
        nonlocal serial
        serial += 1
        return f"ev-{serial}"

    for u in range(units):
        unit = f"unit-{u}"
        variant = variants[int(rng.integers(3))]
        t0 = T0 + int(rng.integers(0, 5 * DAY)) * 10 + u  # distinct times, no ties
        attributes: dict[str, str | int | float | bool] | None = {"region": regions[u % 3]}
        if u % 10 == 9:  # no attributes at first; a later exposure may carry some
            attributes = None
        events.append(Event(next_id(), "exposure", "sim", variant, unit, t0, None, None,
                            attributes))  # fmt: skip
        roll = rng.random()
        if roll < 0.3:  # exposed again, same variant, another region: the first one counts
            events.append(Event(next_id(), "exposure", "sim", variant, unit,
                                t0 + int(rng.integers(1, 3 * DAY)), None, None,
                                {"region": "other"}))  # fmt: skip
        elif roll < 0.36:  # exposed to a second variant: excluded
            other = variants[(variants.index(variant) + 1) % 3]
            events.append(Event(next_id(), "exposure", "sim", other, unit,
                                t0 + int(rng.integers(1, 3 * DAY))))  # fmt: skip
        for _ in range(int(rng.integers(0, 9))):
            name = EVENT_NAMES[int(rng.integers(len(EVENT_NAMES)))]
            ts = t0 + int(rng.integers(-10 * DAY, 6 * DAY))
            exp = "sim" if rng.random() < 0.85 else "other"
            claimed = variant if rng.random() < 0.9 else variants[int(rng.integers(3))]
            value = 1.0 if name in ("orders", "error") else round(float(rng.uniform(0, 100)), 2)
            events.append(Event(next_id(), "metric", exp, claimed, unit, ts, name, value))
    for u in range(20):  # never exposed
        events.append(Event(next_id(), "metric", "sim", "a", f"ghost-{u}", T0 + u * HOUR,
                            "purchase", 1.0))  # fmt: skip
    return events


@dataclass
class Unit:
    variant: str
    t0: int
    region: str
    multi: bool


def exposed_units(events: list[Event], cutoff: int) -> dict[str, Unit]:
    exposures: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        if e.type == "exposure" and e.experiment_id == "sim" and e.timestamp <= cutoff:
            exposures[e.unit_id].append(e)
    units = {}
    for unit, seen in exposures.items():
        first = min(seen, key=lambda e: e.timestamp)
        region = str((first.attributes or {}).get("region", "(none)"))
        multi = len({e.variant for e in seen}) > 1
        units[unit] = Unit(first.variant, first.timestamp, region, multi)
    return units


def _aggregate(metric: Metric, values: list[float]) -> float:
    if metric.type is MetricType.CONVERSION:
        return 1.0 if values else 0.0
    if metric.aggregation == "count":
        return float(len(values))
    if metric.aggregation == "max":
        return max(values) if values else 0.0
    return float(sum(values))


def expected_sums(
    events: list[Event], exp: Experiment, cutoff: int = 2**62, segment: str | None = None
) -> dict[str, Any]:
    """The sums JSON (units + metrics, optionally segments by region) computed in Python."""
    units = exposed_units(events, cutoff)
    by_unit: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        if e.type == "metric" and e.timestamp <= cutoff:
            by_unit[e.unit_id].append(e)
    lookback = exp.evaluation.cuped_lookback_days * DAY
    included = {k: u for k, u in units.items() if not u.multi}

    def post(unit: Unit, mine: list[Event], name: str, window: float | None) -> list[float]:
        return [
            e.value or 0.0
            for e in mine
            if e.metric == name and e.experiment_id == "sim" and e.timestamp >= unit.t0
            and (window is None or e.timestamp < unit.t0 + window * HOUR)
        ]  # fmt: skip

    def pre(unit: Unit, mine: list[Event], name: str) -> list[float]:
        return [
            e.value or 0.0
            for e in mine
            if e.metric == name and unit.t0 - lookback <= e.timestamp < unit.t0
        ]

    rows: dict[str, dict[str, list[float]]] = {}
    for key, unit in included.items():
        row: dict[str, list[float]] = defaultdict(list)
        mine = by_unit[key]
        for _, metric in exp.metrics.all():
            if metric.type is MetricType.RATIO:
                num, den = metric.numerator or "", metric.denominator or ""
                row[f"{metric.name}.y"] = [sum(post(unit, mine, num, metric.window_hours))]
                row[f"{metric.name}.d"] = [sum(post(unit, mine, den, metric.window_hours))]
                row[f"{metric.name}.x"] = [sum(pre(unit, mine, num))]
            else:
                name = metric.event_name
                row[f"{metric.name}.y"] = [
                    _aggregate(metric, post(unit, mine, name, metric.window_hours))
                ]
                row[f"{metric.name}.x"] = [_aggregate(metric, pre(unit, mine, name))]
        rows[key] = row

    def slice_sums(keys: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"units": {}, "metrics": {}}
        for variant in exp.variant_names:
            members = [k for k in keys if included[k].variant == variant]
            out["units"][variant] = float(len(members))
            for _, metric in exp.metrics.all():
                y = np.array([rows[k][f"{metric.name}.y"][0] for k in members], dtype=float)
                x = np.array([rows[k][f"{metric.name}.x"][0] for k in members], dtype=float)
                arm: dict[str, Any] = {"n": float(len(members)), "sum": y.sum(), "sumSq": y @ y}
                ratio = metric.type is MetricType.RATIO
                if ratio:
                    d = np.array([rows[k][f"{metric.name}.d"][0] for k in members], dtype=float)
                    arm["denominator"] = {"sum": d.sum(), "sumSq": d @ d, "sumProduct": y @ d}
                if metric.cuped:
                    arm["covariate"] = {"sum": x.sum(), "sumSq": x @ x, "sumProduct": y @ x}
                    if ratio:
                        arm["covariate"]["sumProductDenominator"] = x @ d
                out["metrics"].setdefault(metric.name, {})[variant] = arm
        return out

    result = slice_sums(list(included))
    if segment is not None:
        regions = sorted({u.region for u in included.values()})
        result["segments"] = {
            f"{segment}={r}": slice_sums([k for k, u in included.items() if u.region == r])
            for r in regions
        }
    return result


def data_quality(events: list[Event], cutoff: int = 2**62) -> dict[str, int]:
    """The data-quality counts computed in Python."""
    units = exposed_units(events, cutoff)
    own = [e for e in events if e.type == "metric" and e.experiment_id == "sim"
           and e.timestamp <= cutoff]  # fmt: skip
    return {
        "multiExposedUnits": sum(u.multi for u in units.values()),
        "unexposedMetricEvents": sum(e.unit_id not in units for e in own),
        "variantMismatchEvents": sum(
            e.unit_id in units and e.variant != units[e.unit_id].variant for e in own
        ),
        "preExposureMetricEvents": sum(
            e.unit_id in units and e.timestamp < units[e.unit_id].t0 for e in own
        ),
        "multiVariantClusters": 0,  # a classic experiment
        "missingClusterExposures": 0,
    }


def key_problems(con: Any) -> dict[str, int]:
    """Counts of every way the keys could be wrong (all zero when they are right)."""
    queries = {
        # a unit id with two keys, or a key shared by two unit ids
        "ids_with_two_keys": "SELECT count(*) FROM (SELECT unit_id FROM unit_keys "
        "GROUP BY unit_id HAVING count(*) > 1)",
        "keys_with_two_ids": "SELECT count(*) FROM (SELECT unit_key FROM unit_keys "
        "GROUP BY unit_key HAVING count(*) > 1)",
        # an event whose key is not its unit's key
        "wrong_event_keys": "SELECT count(*) FROM (SELECT unit_id, unit_key FROM exposures "
        "UNION ALL SELECT unit_id, unit_key FROM metric_events) e "
        "ANTI JOIN unit_keys k ON e.unit_id = k.unit_id AND e.unit_key = k.unit_key",
        # keys are dense: 1..n
        "gaps": "SELECT count(*) - max(unit_key) FROM unit_keys",
    }
    return {name: int(con.execute(sql).fetchone()[0]) for name, sql in queries.items()}
