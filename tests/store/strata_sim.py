"""Allocation tables over the accounts of :mod:`tests.store.cluster_sim`, and the pandas
reference of their per-stratum sums over clusters.

The store labels each cluster with its stratum from ``design.allocation.strata`` (no
exposure attribute); :func:`reference_strata` computes the same slices with plain pandas
group-bys over the per-cluster totals of :func:`tests.store.cluster_sim.reference_sums`.
"""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd

from splitlab.config import load_experiment
from splitlab.config.allocation import stratum_slice
from splitlab.config.models import Experiment
from splitlab.tracking.events import Event

from .cluster_sim import VARIANTS, _per_cluster, _slice, experiment, per_unit

#: One label with a quote, a backslash and non-ASCII, so that both stores' quoting is exercised.
STRATA = ("EU-large", "EU-small", "US-large", "US-small: O'Brien \\ Zürich")


def account_variants(events: list[Event]) -> dict[str, str]:
    """Each account's variant: that of its earliest exposure carrying its id (the table the
    simulation drew; the few accounts with a user served the other variant keep it)."""
    first: dict[str, tuple[int, str]] = {}
    for e in events:
        if e.type == "exposure" and e.cluster_id is not None:
            seen = first.get(e.cluster_id)
            if seen is None or e.timestamp < seen[0]:
                first[e.cluster_id] = (e.timestamp, e.variant)
    return {account: variant for account, (_, variant) in sorted(first.items())}


def stratified_allocation(events: list[Event]) -> dict[str, Any]:
    """Four strata over the accounts; every tenth account is left out of the table (its
    clusters are in no stratum)."""
    variants = account_variants(events)
    kept = [a for a in variants if int(a.split("-")[1]) % 10 != 7]
    return {
        "method": "stratified",
        "seed": 5,
        "table": {a: variants[a] for a in kept},
        "strata": {a: STRATA[int(a.split("-")[1]) % 4] for a in kept},
    }


def paired_allocation(events: list[Event]) -> dict[str, Any]:
    """Matched sets of one control and one treatment account, in id order; the accounts
    left over are not in the table."""
    variants = account_variants(events)
    control = [a for a, v in variants.items() if v == VARIANTS[0]]
    treatment = [a for a, v in variants.items() if v == VARIANTS[1]]
    table: dict[str, str] = {}
    strata: dict[str, str] = {}
    for j, (c, t) in enumerate(zip(control, treatment, strict=False)):
        table[c], table[t] = VARIANTS[0], VARIANTS[1]
        strata[c] = strata[t] = f"pair-{j + 1:03d}"
    return {"method": "pair_matched", "seed": 6, "table": table, "strata": strata}


def with_allocation(allocation: dict[str, Any], **extra: Any) -> Experiment:
    """The cluster-sums experiment of :mod:`.cluster_sim` with `allocation` as its table
    (`extra` keys added to the allocation, e.g. ``stratumAttribute``)."""
    raw = experiment().model_dump(by_alias=True, exclude_none=True, mode="json")
    raw = copy.deepcopy(raw)
    raw["design"]["allocation"] = {**allocation, **extra}
    return load_experiment(raw)


def reference_clusters(events: list[Event], cutoff: int = 2**62) -> pd.DataFrame:
    """The per-cluster totals of the clusters kept in the sums (served one variant)."""
    clusters = _per_cluster(per_unit(events, cutoff))
    return clusters[~clusters.multi]


def reference_strata(
    events: list[Event], strata: dict[str, str], cutoff: int = 2**62
) -> dict[str, Any]:
    """Per stratum of `strata` holding a kept cluster, its sums over clusters (pandas)."""
    kept = reference_clusters(events, cutoff)
    label = kept.index.map(strata)
    return {stratum_slice(s): _slice(kept[label == s]) for s in sorted(set(label.dropna()))}
