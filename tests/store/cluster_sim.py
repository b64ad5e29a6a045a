"""Seeded users within accounts (a cluster design), and their sums over clusters in pandas.

The simulation exercises every rule of the cluster summary: windows, CUPED look-backs with
other experiments' events, metric events before exposure and of unexposed users, repeated
exposures, users exposed to two variants, accounts whose users were served different variants,
exposures without a ``clusterId`` (alone, or before one with it), users whose later exposure
names another account, and segment attributes that differ between users of an account.
Values are multiples of 1/4 below 100, and exposure times distinct, so that the reference
and both stores agree without ties.

:func:`reference_sums` is the independent computation: plain pandas group-bys, written from
the rules in docs/storage.md ("Cluster designs"), not from the SQL.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from splitlab.config import load_experiment
from splitlab.config.models import Experiment
from splitlab.tracking.events import Event

EXPERIMENT_ID = "cl-exp"
VARIANTS = ("control", "treatment")
T_BASE = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY = 86_400_000
HOUR = 3_600_000
LOOKBACK_DAYS = 7
NAMES = ("purchase", "revenue", "clicks", "orders")
MISSING = "(none)"


def experiment() -> Experiment:
    """Accounts randomised, users analysed: conversion, continuous, count, ratio, CUPED."""
    return load_experiment(
        {
            "experimentId": EXPERIMENT_ID,
            "name": "Cluster sums",
            "status": "running",
            "trafficAllocation": 1.0,
            "variants": list(VARIANTS),
            "assignment": {"strategy": "consistent_hash", "hashKey": "accountId", "salt": "cl"},
            "design": {"type": "cluster", "analysisUnit": "userId"},
            "segments": ["country"],
            "evaluation": {"minSampleSize": 10, "cupedLookbackDays": LOOKBACK_DAYS},
            "metrics": {
                "primary": {"name": "purchase", "type": "conversion", "cuped": True,
                            "windowHours": 48},
                "secondary": [
                    {"name": "revenue", "type": "continuous", "cuped": True},
                    {"name": "clicks", "type": "continuous", "aggregation": "count",
                     "windowHours": 72, "cuped": True},
                    {"name": "rev_per_order", "type": "ratio", "numerator": "revenue",
                     "denominator": "orders", "cuped": True},
                ],
            },
        }
    )  # fmt: skip


def simulate(rng: np.random.Generator, accounts: int = 300) -> list[Event]:
    """Events of users in `accounts` accounts (see the module docstring)."""
    events: list[Event] = []
    counter = [0]

    def eid(prefix: str) -> str:
        counter[0] += 1
        return f"{prefix}-{counter[0]}"

    sizes = 1 + rng.poisson(3.0, accounts)
    # distinct exposure times for every user: no ties anywhere
    slots = rng.permutation(int(sizes.sum()) * 4) * 60_000
    slot = iter(slots.tolist())
    user = 0
    for a in range(accounts):
        account = f"acct-{a}"
        variant = VARIANTS[int(rng.integers(2))]
        lift = 0.25 * int(rng.integers(0, 8))  # an account-level effect shared by its users
        mixed = rng.random() < 0.03  # one of its users is served the other variant
        for j in range(int(sizes[a])):
            unit = f"user-{user}"
            user += 1
            t0 = T_BASE + next(slot)
            served = VARIANTS[1 - VARIANTS.index(variant)] if mixed and j == 1 else variant
            attrs = None if rng.random() < 0.1 else {"country": ["US", "DE", "JP"][j % 3]}
            cluster: str | None = account
            kind = rng.random()
            if kind < 0.03:
                cluster = None  # this user's only exposure has no clusterId
            elif kind < 0.06:  # a first exposure without it, a later one with it
                events.append(Event(eid("x"), "exposure", EXPERIMENT_ID, served, unit,
                                    t0 - 7_000, attributes={"country": "FR"}))  # fmt: skip
            events.append(
                Event(eid("x"), "exposure", EXPERIMENT_ID, served, unit, t0,
                      attributes=attrs, cluster_id=cluster)
            )  # fmt: skip
            later = t0 + int(rng.integers(1, 5 * DAY))
            if rng.random() < 0.2:  # exposed again: same variant, maybe another account
                other = f"acct-{(a + 1) % accounts}" if rng.random() < 0.2 else account
                events.append(Event(eid("x"), "exposure", EXPERIMENT_ID, served, unit, later,
                                    attributes={"country": "BR"}, cluster_id=other))  # fmt: skip
            if rng.random() < 0.02:  # exposed to the other variant too
                flip = VARIANTS[1 - VARIANTS.index(served)]
                events.append(Event(eid("x"), "exposure", EXPERIMENT_ID, flip, unit,
                                    later + 1, cluster_id=account))  # fmt: skip
            events += _metric_events(rng, eid, unit, served, t0, lift)
    for u in range(15):  # metric events of users never exposed
        events.append(Event(eid("m"), "metric", EXPERIMENT_ID, "control", f"ghost-{u}",
                            T_BASE + u * HOUR, "revenue", 1.0))  # fmt: skip
    order = rng.permutation(len(events))
    return [events[i] for i in order]


def _metric_events(
    rng: np.random.Generator, eid: Any, unit: str, variant: str, t0: int, lift: float
) -> list[Event]:
    out: list[Event] = []
    for _ in range(int(rng.poisson(4.0))):
        name = NAMES[int(rng.integers(len(NAMES)))]
        offset = int(rng.integers(-10 * DAY, 6 * DAY))  # some before exposure, past windows
        value = 0.25 * int(rng.integers(0, 200)) + lift
        experiment_id = EXPERIMENT_ID if offset >= 0 or rng.random() < 0.5 else "other-exp"
        claimed = variant if rng.random() > 0.03 else "control"
        out.append(Event(eid("m"), "metric", experiment_id, claimed, unit, t0 + offset,
                         name, value))  # fmt: skip
    return out


def frames(events: list[Event]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The exposures and the metric events as data frames."""
    exposures = pd.DataFrame(
        [
            (e.unit_id, e.variant, e.timestamp, e.cluster_id,
             (e.attributes or {}).get("country", MISSING))
            for e in events
            if e.type == "exposure" and e.experiment_id == EXPERIMENT_ID
        ],
        columns=["unit", "variant", "ts", "cluster", "country"],
    )  # fmt: skip
    metrics = pd.DataFrame(
        [
            (e.unit_id, e.experiment_id, e.variant, e.metric, e.value, e.timestamp)
            for e in events
            if e.type == "metric"
        ],
        columns=["unit", "experiment", "variant", "metric", "value", "ts"],
    )
    return exposures, metrics


def per_unit(events: list[Event], cutoff: int) -> pd.DataFrame:
    """One row per unit with a clusterId exposure: variant, multi, cluster, country, t0 and
    the metric columns y/x/d as the rules define them."""
    exposures, metrics = frames(events)
    exposures = exposures[(exposures.ts <= cutoff) & exposures.cluster.notna()]
    exposures = exposures.sort_values("ts")
    units = exposures.groupby("unit").agg(
        t0=("ts", "first"),
        variant=("variant", "first"),
        cluster=("cluster", "first"),
        country=("country", "first"),
        variants=("variant", "nunique"),
    )
    units["multi"] = units.variants > 1
    metrics = metrics[metrics.ts <= cutoff].join(units[["t0"]], on="unit", how="inner")
    age = metrics.ts - metrics.t0
    own = metrics.experiment == EXPERIMENT_ID
    pre = (age < 0) & (age >= -LOOKBACK_DAYS * DAY)

    def column(mask: pd.Series, how: str) -> pd.Series:
        chosen = metrics[mask]
        grouped = chosen.groupby("unit").value
        found = {"sum": grouped.sum, "count": grouped.count, "any": grouped.count}[how]()
        if how == "any":
            found = (found > 0).astype(float)
        return found.reindex(units.index, fill_value=0.0).astype(float)

    def named(name: str) -> pd.Series:
        return metrics.metric == name

    units["y0"] = column(named("purchase") & own & (age >= 0) & (age < 48 * HOUR), "any")
    units["x0"] = column(named("purchase") & pre, "any")
    units["y1"] = column(named("revenue") & own & (age >= 0), "sum")
    units["x1"] = column(named("revenue") & pre, "sum")
    units["y2"] = column(named("clicks") & own & (age >= 0) & (age < 72 * HOUR), "count")
    units["x2"] = column(named("clicks") & pre, "count")
    units["y3"] = column(named("revenue") & own & (age >= 0), "sum")
    units["d3"] = column(named("orders") & own & (age >= 0), "sum")
    units["x3"] = column(named("revenue") & pre, "sum")
    return units


def _per_cluster(units: pd.DataFrame) -> pd.DataFrame:
    ordered = units.sort_values("t0")
    grouped = ordered.groupby("cluster")
    clusters = grouped.agg(
        variant=("variant", "first"),
        variants=("variant", "nunique"),
        any_multi=("multi", "any"),
        m=("t0", "size"),
        country=("country", "first"),  # the cluster's first exposure
        y0=("y0", "sum"), x0=("x0", "sum"), y1=("y1", "sum"), x1=("x1", "sum"),
        y2=("y2", "sum"), x2=("x2", "sum"), y3=("y3", "sum"), d3=("d3", "sum"),
        x3=("x3", "sum"),
    )  # fmt: skip
    clusters["multi"] = clusters.any_multi | (clusters.variants > 1)
    clusters["m"] = clusters.m.astype(float)
    return clusters


def _slice(clusters: pd.DataFrame) -> dict[str, Any]:
    names = ["purchase", "revenue", "clicks", "rev_per_order"]
    out: dict[str, Any] = {"units": {}, "metrics": {n: {} for n in names}, "clusterSizes": {}}
    for variant in VARIANTS:
        c = clusters[clusters.variant == variant]
        m = c.m.to_numpy()
        out["units"][variant] = len(c)
        out["clusterSizes"][variant] = {"n": len(c), "sum": m.sum(), "sumSq": (m * m).sum()}
        for i, name in enumerate(names):
            y = c[f"y{i}"].to_numpy()
            x = c[f"x{i}"].to_numpy()
            d = c["d3"].to_numpy() if i == 3 else m  # D_c: the ratio's denominator, else m_c
            out["metrics"][name][variant] = {
                "n": len(c), "sum": y.sum(), "sumSq": y @ y,
                "covariate": {"sum": x.sum(), "sumSq": x @ x, "sumProduct": y @ x,
                              "sumProductDenominator": x @ d},
                "denominator": {"sum": d.sum(), "sumSq": d @ d, "sumProduct": y @ d},
            }  # fmt: skip
    return out


def reference_sums(events: list[Event], cutoff: int = 2**62) -> dict[str, Any]:
    """The sums over clusters, overall and per country segment, computed in pandas."""
    clusters = _per_cluster(per_unit(events, cutoff))
    kept = clusters[~clusters.multi]
    result = _slice(kept)
    result["segments"] = {
        f"country={country}": _slice(kept[kept.country == country])
        for country in sorted(set(kept.country))
    }
    return result


def reference_quality(events: list[Event], cutoff: int = 2**62) -> dict[str, int]:
    """The data-quality counts of a cluster experiment, computed in pandas."""
    units = per_unit(events, cutoff)
    clusters = _per_cluster(units)
    exposures, metrics = frames(events)
    own = metrics[(metrics.experiment == EXPERIMENT_ID) & (metrics.ts <= cutoff)]
    first = units[["t0", "variant"]].rename(columns={"variant": "variant_first"})
    known = own.join(first, on="unit", how="inner")
    exposed = exposures[exposures.ts <= cutoff]
    return {
        "multiExposedUnits": int(units.multi.sum()),
        "unexposedMetricEvents": len(own) - len(known),
        "variantMismatchEvents": int((known.variant != known.variant_first).sum()),
        "preExposureMetricEvents": int((known.ts < known.t0).sum()),
        "multiVariantClusters": int(clusters.multi.sum()),
        "missingClusterExposures": int(exposed.cluster.isna().sum()),
        # each count's own denominator
        "analysisUnits": len(units),
        "exposures": len(exposed),
        "clusters": len(clusters),
        "metricEvents": len(own),
    }
