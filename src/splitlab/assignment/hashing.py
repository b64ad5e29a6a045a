"""The bucketing algorithm: one SHA-256 digest, two independent 48-bit integers.

Everything here is specified exactly in ``docs/assignment.md`` and pinned by the vectors in
``spec/assignment-cases.json``; the JavaScript SDK (``sdk/js``) implements the same steps.

* Input: the UTF-8 bytes of ``"splitlab/v1|" + experimentId + "|" + salt + "|" + unit``.
* Digest: SHA-256 (32 bytes).
* Split integer ``s``: bytes 0-5 read big-endian, in ``[0, 2**48)``.
* Gate integer ``g``: bytes 6-11 read big-endian, in ``[0, 2**48)``.
* Exposed when ``g < ceil(trafficAllocation * 2**48)``.
* Variant ``k`` (0-based) when ``edge[k] <= s < edge[k + 1]``, with ``edge[0] = 0``,
  ``edge[n] = 2**48`` and ``edge[k] = ceil(c_k / c_n * 2**48)``, ``c_k`` the left-to-right
  IEEE-754 double sum of the first ``k`` weights.

All decisions compare integers; floats appear only in computing the thresholds, with
operations (sum, division, multiplication by a power of two, ceiling) that every IEEE-754
language rounds identically.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from collections.abc import Sequence

__all__ = [
    "BUCKETS",
    "LAYER_PREFIX",
    "PREFIX",
    "allocation_threshold",
    "bucket_of",
    "edge_keys",
    "experiment_prefix",
    "gate_key",
    "hash_input",
    "hash_integers",
    "layer_edge",
    "layer_input",
    "variant_edges",
    "variant_index",
]

#: Version tag that starts every hashed string; changing the algorithm means changing it.
PREFIX = "splitlab/v1"
#: Number of distinct buckets: both integers are 48 bits wide (exact in a JS double).
BITS = 48
BUCKETS = 1 << BITS
#: Version tag of a layer's hashed string (never an experiment's: no id and salt collide).
LAYER_PREFIX = "splitlab/layer/v1"


def hash_input(experiment_id: str, salt: str, unit: str) -> bytes:
    """The exact bytes hashed for `unit` in an experiment (UTF-8, fields joined by ``|``)."""
    return f"{PREFIX}|{experiment_id}|{salt}|{unit}".encode()


def experiment_prefix(experiment_id: str, salt: str) -> bytes:
    """The constant head of every hashed string of one experiment (the unit is appended)."""
    return f"{PREFIX}|{experiment_id}|{salt}|".encode()


def hash_integers(experiment_id: str, salt: str, unit: str) -> tuple[int, int]:
    """The gate integer and the split integer of `unit`, each in ``[0, 2**48)``."""
    digest = hashlib.sha256(hash_input(experiment_id, salt, unit)).digest()
    return int.from_bytes(digest[6:12], "big"), int.from_bytes(digest[0:6], "big")


def bucket_of(value: int) -> float:
    """A 48-bit integer as a number in ``[0, 1)``; exact, for display and documentation."""
    return value / BUCKETS


def allocation_threshold(traffic_allocation: float) -> int:
    """The gate: a unit is exposed when its gate integer is below this.

    ``ceil(a * 2**48)`` makes ``g < threshold`` exactly equivalent to ``g / 2**48 < a``.
    """
    if not 0.0 <= traffic_allocation <= 1.0:
        raise ValueError(f"traffic allocation must be in [0, 1] (got {traffic_allocation!r})")
    return math.ceil(traffic_allocation * BUCKETS)


def variant_edges(weights: Sequence[float]) -> tuple[int, ...]:
    """The inner edges ``edge[1] .. edge[n-1]`` of the split for `weights` (any positive scale).

    Variant ``k`` owns ``[edge[k], edge[k+1])``; the outer edges 0 and ``2**48`` are implied,
    so a split integer just below ``2**48`` always lands in the last variant.
    """
    if len(weights) < 1 or any(not (w > 0.0 and math.isfinite(w)) for w in weights):
        raise ValueError(f"weights must be positive finite numbers (got {list(weights)!r})")
    cumulative: list[float] = []
    running = 0.0
    for weight in weights:
        running += weight  # naive left-to-right sum: what every language computes
        cumulative.append(running)
    total = cumulative[-1]
    return tuple(math.ceil(c / total * BUCKETS) for c in cumulative[:-1])


def variant_index(edges: Sequence[int], split: int) -> int:
    """The 0-based variant owning the split integer `split`, given inner `edges`."""
    return bisect_right(edges, split)


def gate_key(threshold: int) -> bytes | None:
    """The gate threshold as 6 big-endian bytes, or None when everyone passes (``2**48``).

    For byte strings of equal length lexicographic order is big-endian numeric order, so
    ``digest[6:12] < gate_key(t)`` exactly when the gate integer is below ``t``.
    """
    return None if threshold >= BUCKETS else threshold.to_bytes(6, "big")


def edge_keys(edges: Sequence[int]) -> tuple[bytes, ...]:
    """Inner edges as byte keys that a whole 32-byte digest can be bisected against.

    A digest compares below a 6-byte key exactly when its first 6 bytes (the split integer)
    do, so ``bisect_right(edge_keys(edges), digest) == variant_index(edges, split)`` with no
    slicing or int conversion. An edge of ``2**48`` (reachable only through float rounding
    of tiny trailing weights) becomes 33 bytes 0xff, above every digest.
    """
    return tuple(e.to_bytes(6, "big") if e < BUCKETS else b"\xff" * 33 for e in edges)


def layer_input(layer_id: str, unit: str) -> bytes:
    """The exact bytes hashed to place `unit` in a layer: ``splitlab/layer/v1|<id>|<unit>``.

    The layer integer is bytes 0-5 of their SHA-256, big-endian; a range ``[start, end)`` of
    the layer's buckets takes the units with ``layer_edge(start) <= s < layer_edge(end)``.
    """
    return f"{LAYER_PREFIX}|{layer_id}|{unit}".encode()


def layer_edge(bucket: int, buckets: int = 10_000) -> int:
    """Where layer bucket `bucket` starts on the 48-bit line: ``ceil(bucket / buckets * 2**48)``.

    One IEEE-754 division (correctly rounded in every language), an exact multiplication by a
    power of two and a ceiling, as :func:`allocation_threshold` computes; ``layer_edge(0)``
    is 0 and ``layer_edge(buckets)`` is ``2**48``.
    """
    if not 0 <= bucket <= buckets:
        raise ValueError(f"layer bucket must be in [0, {buckets}] (got {bucket!r})")
    return math.ceil(bucket / buckets * BUCKETS)
