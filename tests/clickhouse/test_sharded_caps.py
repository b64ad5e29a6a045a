"""The two rounds of a sharded percentile cap (:mod:`splitlab.store.clickhouse.sharded_caps`),
played in Python on values split over shards: the order statistic found equals numpy's
inverted-CDF quantile of all the values, with ties, empty shards and tiny samples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from splitlab.store.clickhouse import sharded_caps
from splitlab.store.clickhouse.sharded_caps import _bracket, _ranks, _select


def found(shards: list[np.ndarray], p: float) -> tuple[float, int]:
    """The cap the two rounds find, and how many values round 2 carries."""
    n = sum(len(s) for s in shards)
    r = max(math.ceil(n * p), 1)  # as the store computes it
    ordered = [np.sort(s) for s in shards]
    ranks = [_ranks(len(s)) for s in ordered]
    samples = [[float(s[k - 1]) for k in rank] for s, rank in zip(ordered, ranks, strict=True)]
    lo, hi = _bracket(r, ranks, samples)
    below = sum(int(np.sum(s <= lo)) for s in ordered) if lo is not None else 0
    inside: dict[float, int] = {}
    for s in ordered:
        for v in s[((s > lo) if lo is not None else True) & (s <= hi)]:
            inside[float(v)] = inside.get(float(v), 0) + 1
    return _select(r - below, inside), len(inside)


@pytest.mark.parametrize("sample", [1, 2, 4, 64])
def test_the_rounds_find_numpys_order_statistic(
    monkeypatch: pytest.MonkeyPatch, sample: int
) -> None:
    monkeypatch.setattr(sharded_caps, "SAMPLE", sample)
    rng = np.random.default_rng(20261205 + sample)
    for _ in range(300):
        shards = [
            rng.lognormal(0.0, 2.0, int(rng.integers(0, 60))) for _ in range(rng.integers(1, 4))
        ]
        if rng.random() < 0.5:  # ties
            shards = [np.round(s) for s in shards]
        if not sum(len(s) for s in shards):
            continue
        pooled = np.concatenate(shards)
        for p in (1e-8, rng.random(), 0.5, 0.99, 1 - 1e-8):
            # numpy, independently: the inverted-CDF quantile is an element of the data
            assert found(shards, p)[0] == np.quantile(pooled, p, method="inverted_cdf")


def test_round_two_carries_a_slice_of_the_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """With 64 sampled values of 20,000 per shard, round 2 carries about 2 n / 64 values per
    shard, not all of them."""
    monkeypatch.setattr(sharded_caps, "SAMPLE", 64)
    rng = np.random.default_rng(9)
    shards = [rng.normal(size=20_000), rng.normal(size=20_000)]
    cap, carried = found(shards, 0.99)
    assert cap == np.quantile(np.concatenate(shards), 0.99, method="inverted_cdf")
    assert carried < 4 * 2 * 20_000 // 64
