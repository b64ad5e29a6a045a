"""The bucketing algorithm against the language-neutral vectors and its own edge rules."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from bisect import bisect_right
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from splitlab.assignment.hashing import (
    BUCKETS,
    allocation_threshold,
    bucket_of,
    edge_keys,
    gate_key,
    hash_input,
    hash_integers,
    variant_edges,
    variant_index,
)

ROOT = Path(__file__).resolve().parents[2]
CASES: dict[str, Any] = json.loads((ROOT / "spec" / "assignment-cases.json").read_text("utf-8"))
#: The digest bytes around the probed integer: all zeros and all ones, the two extremes.
FILLS = (bytes(26), b"\xff" * 26)


@pytest.mark.parametrize("case", CASES["hashes"], ids=lambda c: c["unit"])
def test_hash_vectors(case: dict[str, Any]) -> None:
    """The hashed string, its UTF-8 bytes, the digest and both integers match the vectors."""
    data = hash_input(case["experimentId"], case["salt"], case["unit"])
    assert data.decode("utf-8") == case["input"]
    assert data.hex() == case["inputUtf8Hex"]
    assert hashlib.sha256(data).hexdigest() == case["sha256"]
    gate, split = hash_integers(case["experimentId"], case["salt"], case["unit"])
    assert (split, gate) == (case["split"], case["gate"])
    assert (bucket_of(split), bucket_of(gate)) == (case["splitBucket"], case["gateBucket"])


@pytest.mark.parametrize("case", CASES["allocations"], ids=lambda c: str(c["trafficAllocation"]))
def test_allocation_vectors(case: dict[str, Any]) -> None:
    """The gate threshold and the exposure of gate values on and beside it match the vectors."""
    threshold = allocation_threshold(case["trafficAllocation"])
    assert threshold == case["threshold"]
    key = gate_key(threshold)
    for probe in case["gates"]:
        assert (probe["gate"] < threshold) is probe["exposed"]
        for fill in FILLS:
            digest = fill[:6] + probe["gate"].to_bytes(6, "big") + fill[:20]
            assert (key is None or digest[6:12] < key) is probe["exposed"]


@pytest.mark.parametrize("case", CASES["weights"], ids=lambda c: str(c["weights"]))
def test_weight_vectors(case: dict[str, Any]) -> None:
    """Edges of each weight set, and split values on and beside each edge, match the vectors."""
    edges = variant_edges([float(w) for w in case["weights"]])
    assert list(edges) == case["edges"]
    keys = edge_keys(edges)
    for probe in case["splits"]:
        assert variant_index(edges, probe["split"]) == probe["variantIndex"]
        for fill in FILLS:
            digest = probe["split"].to_bytes(6, "big") + fill[:26]
            assert bisect_right(keys, digest) == probe["variantIndex"]


def test_edges_are_half_open() -> None:
    """A split value on an edge belongs to the variant above it, one below to the variant below."""
    edges = variant_edges([1.0, 1.0, 1.0])
    for k, edge in enumerate(edges, start=1):
        assert variant_index(edges, edge) == k
        assert variant_index(edges, edge - 1) == k - 1


def test_top_value_lands_in_last_variant_and_never_reaches_one() -> None:
    """Defect 3: the largest split value maps below 1.0 and into the last variant."""
    for weights in ([1.0, 1.0], [0.1, 0.2, 0.7], [1.0] * 7):
        edges = variant_edges(weights)
        assert variant_index(edges, BUCKETS - 1) == len(weights) - 1
        assert variant_index(edges, 0) == 0
    assert bucket_of(BUCKETS - 1) < 1.0
    assert allocation_threshold(1.0) == BUCKETS  # every gate value (< 2**48) passes


def test_zero_allocation_exposes_nobody() -> None:
    """Allocation 0 gives threshold 0, below which no gate value lies."""
    assert allocation_threshold(0.0) == 0
    assert gate_key(0) == bytes(6)


def test_gate_is_exactly_bucket_below_allocation() -> None:
    """g < threshold holds exactly when g / 2**48 < allocation, for values around the edge."""
    for allocation in (0.01, 0.25, 1 / 3, 0.7):
        threshold = allocation_threshold(allocation)
        for g in (threshold - 2, threshold - 1, threshold, threshold + 1):
            assert (g < threshold) is (bucket_of(g) < allocation)


def test_edge_of_two_to_the_48_sits_above_every_digest() -> None:
    """An inner edge rounded up to 2**48 (tiny trailing weight) leaves the last variant empty."""
    edges = variant_edges([1.0, 1e-17])
    assert edges == (BUCKETS,)
    assert bisect_right(edge_keys(edges), b"\xff" * 32) == 0


@given(st.lists(st.floats(min_value=1e-6, max_value=1e6), min_size=1, max_size=12))
def test_edges_are_monotone(weights: list[float]) -> None:
    """Edges never decrease and stay within [0, 2**48]."""
    edges = variant_edges(weights)
    assert len(edges) == len(weights) - 1
    assert all(0 <= a <= b <= BUCKETS for a, b in zip((0, *edges), (*edges, BUCKETS), strict=True))


@given(st.integers(min_value=0, max_value=BUCKETS - 1), st.binary(min_size=26, max_size=26))
def test_byte_keys_agree_with_integers(split: int, rest: bytes) -> None:
    """Bisecting a whole digest against edge keys equals bisecting its split integer."""
    edges = variant_edges([0.1, 0.2, 0.3, 0.4])
    digest = split.to_bytes(6, "big") + rest
    assert bisect_right(edge_keys(edges), digest) == variant_index(edges, split)


@pytest.mark.parametrize("bad", [-0.01, 1.01, float("nan")])
def test_allocation_outside_unit_interval_is_refused(bad: float) -> None:
    """A traffic allocation outside [0, 1] raises, naming the value."""
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        allocation_threshold(bad)


def test_non_positive_weights_are_refused() -> None:
    """Zero or negative weights raise with the weights in the message."""
    with pytest.raises(ValueError, match="positive"):
        variant_edges([0.5, 0.0])


def test_vectors_file_is_what_the_generator_writes() -> None:
    """spec/assignment-cases.json is exactly the output of its generator (not hand-edited)."""
    path = ROOT / "scripts" / "generate_assignment_cases.py"
    spec = importlib.util.spec_from_file_location("generate_assignment_cases", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build() == CASES
