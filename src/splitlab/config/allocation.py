"""``design.allocation``: an explicit table of clusters and their variants.

With few, large clusters (60 enterprise tenants) hashing leaves the arms unbalanced by
chance: one arm may get most of the big tenants. A cluster design may then carry the
randomisation itself, drawn once from the known list of clusters by ``splitlab allocate``
(:mod:`splitlab.stats.allocation`)::

    "allocation": {
      "method": "stratified",            # or "pair_matched", "complete"
      "seed": 20261204,                  # the draw is reproducible from it
      "table": {"t-001": "control", "t-002": "new-price", ...},
      "strata": {"t-001": "EU-large", "t-002": "EU-large", ...},
      "column": "segment",               # what the strata were made from (a record)
      "stratumAttribute": "segment"      # optional: an exposure attribute carrying it
    }

The store labels each cluster with its stratum from ``strata`` and keeps one slice of
cluster sums per stratum, named :func:`stratum_slice` (``"@stratum=<label>"``), so that the
stratified analysis needs no attribute on the exposures.

A cluster in the table gets its variant (reason ``assigned``); a cluster outside the table
is not in the experiment (reason ``not_allocated``). docs/allocation.md describes it for
users.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field

from splitlab.config.errors import Problem
from splitlab.config.models_base import Model, Name

#: Clusters in one allocation table (and strata entries): explicit tables are for few,
#: large clusters; beyond this, hashing balances the arms well enough.
MAX_ALLOCATION_CLUSTERS = 10_000
#: The largest seed: 2^53 - 1, exact in every JSON parser (JavaScript's numbers included).
MAX_SEED = 2**53 - 1

AllocationMethod = Literal["stratified", "pair_matched", "complete"]

#: The prefix of the slices of ``ExperimentSums.segments`` that hold one stratum's (or matched
#: set's) cluster sums, made by the store from ``design.allocation.strata``. A segment
#: attribute starts with a letter, so ``"@stratum=..."`` never collides with a segment's slice.
STRATUM_SLICE_PREFIX = "@stratum="


def stratum_slice(label: str) -> str:
    """The name of the slice of stratum (or matched set) `label`: ``"@stratum=<label>"``."""
    return STRATUM_SLICE_PREFIX + label


class Allocation(Model):
    """The randomisation of a cluster experiment, drawn once and written down."""

    #: ``stratified``: a random permutation within each stratum, split by the weights;
    #: ``pair_matched``: clusters sorted by a covariate, matched sets of one cluster per
    #: variant, the variants permuted within each set; ``complete``: one permutation of all
    #: clusters split by the weights.
    method: AllocationMethod
    #: The seed of numpy's ``Generator(PCG64(seed))`` that drew the table.
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)]
    #: Cluster id (the ``assignment.hashKey`` value) -> variant name.
    table: Annotated[dict[Name, Name], Field(min_length=1, max_length=MAX_ALLOCATION_CLUSTERS)]
    #: Cluster id -> stratum (stratified) or matched set (pair_matched); every cluster of
    #: the table has one. Absent for ``complete``.
    strata: Annotated[dict[Name, Name], Field(max_length=MAX_ALLOCATION_CLUSTERS)] | None = None
    #: The column of the clusters file the strata or the pairs were made from (a record).
    column: Name | None = None
    #: Optional: an exposure attribute whose value is the cluster's stratum (a declared
    #: segment). The stratified analysis reads the store's per-stratum slices made from
    #: ``strata`` (:func:`stratum_slice`) and falls back to this segment's slices only for
    #: sums without them (e.g. sums computed elsewhere and uploaded).
    stratum_attribute: Name | None = None

    def stratum_of(self, cluster: str) -> str | None:
        """The stratum (or matched set) of `cluster`; None outside the table or unstratified."""
        return None if self.strata is None else self.strata.get(cluster)


def _key(path: str, key: str) -> str:
    return f"{path}[{json.dumps(key)}]"


def _listed(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(i) for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def check_allocation(
    raw: Mapping[str, Any], allocation: Mapping[str, Any], problems: list[Problem]
) -> None:
    """Cross-field rules of ``design.allocation`` (read defensively from the raw mapping)."""
    path = "$.design.allocation"
    table = allocation.get("table")
    if not isinstance(table, Mapping):
        return
    table = {k: v for k, v in table.items() if isinstance(k, str) and isinstance(v, str)}
    names = _variant_names(raw)
    if names:
        for cluster, variant in table.items():
            if variant not in names:
                expected = "one of the variants " + ", ".join(repr(n) for n in names)
                problems.append(Problem(_key(f"{path}.table", cluster), variant, expected))
        unused = [n for n in names if n not in set(table.values())]
        if table and unused:
            problems.append(
                Problem(
                    f"{path}.table",
                    f"{len(table)} clusters",
                    f"every variant given at least one cluster (none for {_listed(unused)})",
                )
            )
    traffic = raw.get("trafficAllocation", 1.0)
    if isinstance(traffic, int | float) and not isinstance(traffic, bool) and traffic != 1:
        problems.append(
            Problem(
                "$.trafficAllocation",
                traffic,
                "1 with an allocation table (the table decides which clusters are in; "
                "leave a cluster out of the table instead)",
            )
        )
    _check_forced_overlap(raw, table, problems)
    _check_strata(allocation, table, names, problems)
    attribute = allocation.get("stratumAttribute")
    segments = raw.get("segments")
    declared = segments if isinstance(segments, list) else []
    if isinstance(attribute, str) and attribute not in declared:
        problems.append(
            Problem(
                f"{path}.stratumAttribute",
                attribute,
                "one of the declared segments (add it to 'segments', so that the store keeps "
                "its slices; or leave stratumAttribute out: the store reads the strata from "
                "the table)",
            )
        )


def _variant_names(raw: Mapping[str, Any]) -> list[str]:
    variants = raw.get("variants")
    if not isinstance(variants, list):
        return []
    out: list[str] = []
    for v in variants:
        name = v if isinstance(v, str) else v.get("name") if isinstance(v, Mapping) else None
        if isinstance(name, str):
            out.append(name)
    return out


def _check_forced_overlap(
    raw: Mapping[str, Any], table: Mapping[str, str], problems: list[Problem]
) -> None:
    assignment = raw.get("assignment")
    forced = assignment.get("forced") if isinstance(assignment, Mapping) else None
    if not isinstance(forced, Mapping):
        return
    for variant, units in forced.items():
        if not isinstance(units, list):
            continue
        for j, unit in enumerate(units):
            if isinstance(unit, str) and unit in table:
                problems.append(
                    Problem(
                        f"$.assignment.forced.{variant}[{j}]",
                        unit,
                        "a QA unit outside the allocation table (this cluster is randomised "
                        "by the table; a forced variant would override its draw)",
                    )
                )


def _check_strata(
    allocation: Mapping[str, Any],
    table: Mapping[str, str],
    names: list[str],
    problems: list[Problem],
) -> None:
    path = "$.design.allocation.strata"
    method = allocation.get("method")
    strata = allocation.get("strata")
    if method == "complete":
        if strata is not None:
            problems.append(
                Problem(
                    path,
                    f"{len(strata) if isinstance(strata, Mapping) else strata}",
                    "nothing for method 'complete' (use method 'stratified' for strata)",
                )
            )
        return
    if method not in ("stratified", "pair_matched"):
        return
    if strata is None:
        kind = "stratum" if method == "stratified" else "matched set"
        problems.append(
            Problem(path, None, f"a {kind} for every cluster of the table (method {method!r})")
        )
        return
    if not isinstance(strata, Mapping):
        return
    missing = [c for c in table if c not in strata]
    if missing:
        problems.append(
            Problem(
                path,
                f"{len(strata)} clusters",
                f"a stratum for every cluster of the table (missing: {_listed(missing)})",
            )
        )
    for cluster in strata:
        if isinstance(cluster, str) and cluster not in table:
            problems.append(Problem(_key(path, cluster), strata[cluster], "a cluster of the table"))
    if method == "pair_matched":
        _check_sets(strata, table, names, problems)


def _check_sets(
    strata: Mapping[str, Any], table: Mapping[str, str], names: list[str], problems: list[Problem]
) -> None:
    """Each matched set holds exactly one cluster of each variant."""
    arms = sorted(names) if names else sorted(set(table.values()))
    sets: dict[str, list[str]] = {}
    for cluster, label in strata.items():
        if isinstance(label, str) and cluster in table:
            sets.setdefault(label, []).append(table[cluster])
    for label, variants in sets.items():
        if sorted(variants) != arms:
            problems.append(
                Problem(
                    "$.design.allocation.strata",
                    label,
                    f"every matched set to hold one cluster of each variant {arms} "
                    f"(matched set {label!r} holds {sorted(variants)})",
                )
            )
