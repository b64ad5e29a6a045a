"""Drawing an allocation table: seeded randomisation of a known list of clusters.

Pure functions: the same clusters, strata (or covariate), variants, weights and seed give
the same table, whatever the order the clusters are listed in (they are sorted by id
first), in every process. The random numbers come from numpy's ``Generator(PCG64(seed))``.

* :func:`stratified_allocation`: within each stratum (strata in sorted order), a random
  permutation of the stratum's clusters is split by the weights: variant j gets
  ``floor(n_k w_j)`` clusters and the ``r`` clusters left over go to ``r`` distinct variants
  drawn with probabilities proportional to the fractional parts ``n_k w_j - floor(n_k w_j)``
  (so with equal weights every arm gets the extra cluster equally often and each cluster's
  chance of each arm is exactly its weight).
* :func:`pair_matched_allocation`: clusters sorted by a covariate (largest first, ties by
  id), cut into consecutive matched sets of one cluster per variant, the variants randomly
  permuted within each set (the matched-pair design of Imai, King & Nall 2009, "The
  essential role of pair matching in cluster-randomized experiments", Statistical Science
  24(1)). When the count is not a multiple of the number of variants, the smallest clusters
  left over are left out of the table and reported.
* :func:`complete_allocation`: one permutation of every cluster split by the weights (one
  stratum).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from splitlab.stats.errors import StatsError

__all__ = [
    "AllocationError",
    "Drawn",
    "complete_allocation",
    "pair_matched_allocation",
    "split_counts",
    "stratified_allocation",
]


class AllocationError(StatsError, ValueError):
    """The clusters cannot be allocated as asked (duplicates, too few, a bad covariate...)."""

    code = "invalid_allocation"


@dataclass(frozen=True)
class Drawn:
    """A drawn table: cluster -> variant, cluster -> stratum (or matched set), left-out ids."""

    method: str
    seed: int
    table: dict[str, str]
    strata: dict[str, str] | None = None
    left_out: tuple[str, ...] = field(default=())


def _check_clusters(clusters: Sequence[str], variants: Sequence[str]) -> None:
    if len(variants) < 2:
        raise AllocationError(f"expected at least 2 variants (got {list(variants)})")
    seen: set[str] = set()
    for i, cluster in enumerate(clusters):
        if not isinstance(cluster, str) or not cluster:
            raise AllocationError(f"cluster {i + 1}: expected a non-empty id (got {cluster!r})")
        if cluster in seen:
            raise AllocationError(f"cluster {cluster!r}: expected each cluster once (duplicate)")
        seen.add(cluster)
    if len(clusters) < len(variants):
        raise AllocationError(
            f"expected at least one cluster per variant ({len(variants)}), "
            f"got {len(clusters)} clusters"
        )


def _normalised(weights: Sequence[float] | None, k: int) -> np.ndarray:
    if weights is None:
        return np.full(k, 1.0 / k)
    w: np.ndarray = np.asarray(weights, dtype=float)
    if w.shape != (k,) or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise AllocationError(f"expected {k} positive weights, one per variant (got {weights})")
    out: np.ndarray = w / w.sum()
    return out


def split_counts(n: int, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Clusters per variant out of `n`: floors of ``n w`` plus a random draw of the rest."""
    exact = n * weights
    counts = np.floor(exact + 1e-9).astype(np.int64)
    rest = n - int(counts.sum())
    if rest > 0:
        frac = np.clip(exact - counts, 0.0, None)
        if frac.sum() <= 0:  # only possible through rounding: spread it evenly
            frac = np.ones_like(frac)
        extra = rng.choice(len(weights), size=rest, replace=False, p=frac / frac.sum())
        counts[extra] += 1
    return counts


def _permuted_split(
    ids: list[str], variants: Sequence[str], weights: np.ndarray, rng: np.random.Generator
) -> dict[str, str]:
    counts = split_counts(len(ids), weights, rng)
    labels = np.repeat(np.arange(len(variants)), counts)
    order = rng.permutation(len(ids))
    return {ids[int(i)]: variants[int(label)] for i, label in zip(order, labels, strict=True)}


def stratified_allocation(
    clusters: Sequence[str],
    strata: Sequence[str],
    variants: Sequence[str],
    seed: int,
    weights: Sequence[float] | None = None,
) -> Drawn:
    """Seeded stratified randomisation: a permutation within each stratum split by weights."""
    _check_clusters(clusters, variants)
    if len(strata) != len(clusters):
        raise AllocationError(
            f"expected one stratum per cluster ({len(clusters)}), got {len(strata)}"
        )
    w = _normalised(weights, len(variants))
    rng = np.random.Generator(np.random.PCG64(seed))
    by_stratum: dict[str, list[str]] = {}
    for cluster, stratum in zip(clusters, strata, strict=True):
        if not isinstance(stratum, str) or not stratum:
            raise AllocationError(
                f"cluster {cluster!r}: expected a non-empty stratum (got {stratum!r})"
            )
        by_stratum.setdefault(stratum, []).append(cluster)
    table: dict[str, str] = {}
    for stratum in sorted(by_stratum):
        table.update(_permuted_split(sorted(by_stratum[stratum]), variants, w, rng))
    labels = dict(zip(clusters, strata, strict=True))
    ordered = sorted(table)
    return Drawn(
        "stratified", seed, {c: table[c] for c in ordered}, {c: labels[c] for c in ordered}
    )


def complete_allocation(
    clusters: Sequence[str],
    variants: Sequence[str],
    seed: int,
    weights: Sequence[float] | None = None,
) -> Drawn:
    """Seeded complete randomisation: one permutation of every cluster split by weights."""
    _check_clusters(clusters, variants)
    w = _normalised(weights, len(variants))
    rng = np.random.Generator(np.random.PCG64(seed))
    table = _permuted_split(sorted(clusters), variants, w, rng)
    return Drawn("complete", seed, {c: table[c] for c in sorted(table)})


def pair_matched_allocation(
    clusters: Sequence[str],
    covariate: Sequence[float],
    variants: Sequence[str],
    seed: int,
) -> Drawn:
    """Seeded matched-set randomisation on a numeric covariate (pairs with two variants)."""
    _check_clusters(clusters, variants)
    if len(covariate) != len(clusters):
        raise AllocationError(
            f"expected one covariate value per cluster ({len(clusters)}), got {len(covariate)}"
        )
    for cluster, x in zip(clusters, covariate, strict=True):
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
            raise AllocationError(
                f"cluster {cluster!r}: expected a finite number to match on (got {x!r})"
            )
    k = len(variants)
    # Largest first, ties by id: the clusters left over (when k does not divide the count)
    # are the smallest ones, which weigh least in the comparison.
    ranked = sorted(zip(clusters, covariate, strict=True), key=lambda cx: (-cx[1], cx[0]))
    sets = len(ranked) // k
    kept, left_out = ranked[: sets * k], tuple(c for c, _ in ranked[sets * k :])
    rng = np.random.Generator(np.random.PCG64(seed))
    width = len(str(sets))
    noun = "pair" if k == 2 else "set"
    table: dict[str, str] = {}
    strata: dict[str, str] = {}
    for s in range(sets):
        members = [c for c, _ in kept[s * k : (s + 1) * k]]
        label = f"{noun}-{s + 1:0{width}d}"
        for cluster, v in zip(members, rng.permutation(k), strict=True):
            table[cluster] = variants[int(v)]
            strata[cluster] = label
    ordered = sorted(table)
    return Drawn(
        "pair_matched",
        seed,
        {c: table[c] for c in ordered},
        {c: strata[c] for c in ordered},
        left_out,
    )
