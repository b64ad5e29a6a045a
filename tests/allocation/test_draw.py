"""Drawing allocation tables: reproducible from the seed, balanced within strata, pairs split."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from splitlab.stats.allocation import (
    AllocationError,
    complete_allocation,
    pair_matched_allocation,
    split_counts,
    stratified_allocation,
)

CLUSTERS = [f"t-{i:02d}" for i in range(60)]
STRATA = [("EU", "US")[i % 2] + ("-large" if i % 3 == 0 else "-small") for i in range(60)]
ARMS = ["control", "new-price"]


def test_same_seed_same_table_whatever_the_order() -> None:
    """The table is a function of the seed and the set of clusters, not of the file's order."""
    a = stratified_allocation(CLUSTERS, STRATA, ARMS, seed=42)
    order = np.random.default_rng(0).permutation(60)
    b = stratified_allocation([CLUSTERS[i] for i in order], [STRATA[i] for i in order], ARMS, 42)
    assert a.table == b.table and a.strata == b.strata
    c = stratified_allocation(CLUSTERS, STRATA, ARMS, seed=43)
    assert c.table != a.table


def test_pinned_draw() -> None:
    """A small draw pinned exactly, so that a change of generator or procedure is noticed.

    Computed by hand from numpy's Generator(PCG64(7)): with 2 equal arms and 4 clusters the
    counts are exactly 2 and 2 (no random remainder), so the only draw is permutation(4).
    """
    expected_order = np.random.Generator(np.random.PCG64(7)).permutation(4)
    ids = ["a", "b", "c", "d"]
    labels = ["x", "x", "y", "y"]
    want = {ids[int(i)]: labels[k] for k, i in enumerate(expected_order)}
    drawn = complete_allocation(["d", "b", "c", "a"], ["x", "y"], seed=7)
    assert drawn.table == want


def test_balance_within_every_stratum() -> None:
    """Each stratum's clusters split as evenly as the weights allow (counts differ by <= 1)."""
    drawn = stratified_allocation(CLUSTERS, STRATA, ARMS, seed=5)
    assert drawn.strata is not None
    per: dict[str, Counter[str]] = {}
    for cluster, variant in drawn.table.items():
        per.setdefault(drawn.strata[cluster], Counter())[variant] += 1
    assert len(per) == 4
    for counts in per.values():
        assert abs(counts["control"] - counts["new-price"]) <= 1


def test_weighted_split_counts() -> None:
    """With weights 1/4, 3/4 a stratum of 8 gets exactly 2 and 6; of 10, 2 or 3 and 7 or 8."""
    rng = np.random.Generator(np.random.PCG64(1))
    w = np.array([0.25, 0.75])
    assert split_counts(8, w, rng).tolist() == [2, 6]
    seen = {tuple(split_counts(10, w, rng).tolist()) for _ in range(200)}
    assert seen == {(2, 8), (3, 7)}


def test_each_cluster_gets_each_arm_with_its_weight() -> None:
    """Over 2,000 seeds a cluster of an odd stratum of 5 is in control with probability 1/2.

    The remainder cluster goes to a random arm, so control is not favoured. Band: 3 Monte
    Carlo standard errors of a binomial proportion, sqrt(0.25 / 2000) = 0.0112.
    """
    clusters = ["a", "b", "c", "d", "e"]
    hits = sum(
        complete_allocation(clusters, ARMS, seed=s).table["e"] == "control" for s in range(2000)
    )
    assert abs(hits / 2000 - 0.5) < 3 * np.sqrt(0.25 / 2000)


def test_pairs_are_split_and_matched_on_the_covariate() -> None:
    """Every pair holds both arms, pairs are neighbours in the covariate, the smallest left out."""
    revenue = [float((i * 37) % 61) for i in range(61)]
    ids = [f"t-{i:02d}" for i in range(61)]
    drawn = pair_matched_allocation(ids, revenue, ARMS, seed=9)
    assert drawn.strata is not None
    assert len(drawn.table) == 60
    smallest = ids[int(np.argmin(revenue))]
    assert drawn.left_out == (smallest,)
    pairs: dict[str, list[str]] = {}
    for cluster, label in drawn.strata.items():
        pairs.setdefault(label, []).append(cluster)
    assert len(pairs) == 30
    by_id = dict(zip(ids, revenue, strict=True))
    ranked = sorted(by_id.values(), reverse=True)
    for members in pairs.values():
        assert sorted(drawn.table[c] for c in members) == ARMS
        a, b = sorted((by_id[c] for c in members), reverse=True)
        assert ranked.index(b) == ranked.index(a) + 1  # neighbours in the sort order


def test_three_arms_make_matched_triples() -> None:
    """With 3 variants each matched set holds one cluster of each."""
    drawn = pair_matched_allocation(CLUSTERS[:9], list(range(9)), ["a", "b", "c"], seed=1)
    assert drawn.strata is not None
    sets: dict[str, list[str]] = {}
    for cluster, label in drawn.strata.items():
        sets.setdefault(label, []).append(drawn.table[cluster])
    assert all(sorted(v) == ["a", "b", "c"] for v in sets.values()) and len(sets) == 3


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: complete_allocation(["a", "a"], ARMS, 1), "duplicate"),
        (lambda: complete_allocation(["a"], ARMS, 1), "at least one cluster per variant"),
        (lambda: complete_allocation(["a", ""], ARMS, 1), "non-empty id"),
        (lambda: stratified_allocation(["a", "b"], ["x"], ARMS, 1), "one stratum per cluster"),
        (lambda: pair_matched_allocation(["a", "b"], [1.0, float("nan")], ARMS, 1), "finite"),
        (lambda: complete_allocation(["a", "b"], ARMS, 1, weights=[1, 0]), "positive weights"),
    ],
)
def test_bad_input_is_named(call: object, message: str) -> None:
    """Every refusal says what was wrong."""
    with pytest.raises(AllocationError, match=message):
        call()  # type: ignore[operator]
