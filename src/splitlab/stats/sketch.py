"""A mergeable log-bucket histogram (DDSketch-style) for quantiles of skewed metrics.

A positive value ``x`` falls in bucket ``k = ceil(ln x / ln gamma)``, which covers
``(gamma**(k-1), gamma**k]``; a negative value in bucket ``k`` of ``-x`` on the negative side;
zero has its own count. With ``gamma = (1 + a) / (1 - a)`` the bucket's representative value
``2 gamma**k / (gamma + 1)`` is within a relative error ``a`` of every value in it (Masson,
Rim & Lee 2019, "DDSketch: a fast and fully-mergeable quantile sketch with relative-error
guarantees", VLDB). The counts are integers, so merging two sketches (over days, shards,
engines or intervals) is exact and order-free; the store computes the same bucket keys in SQL
(DuckDB and ClickHouse) with the same constant :data:`LOG_GAMMA`.

On the wire (``sketch`` in the sufficient statistics JSON)::

    {"relativeAccuracy": 0.01, "count": 1234, "zeros": 0,
     "positive": {"k": count, ...}, "negative": {"k": count, ...}}

with bucket keys as decimal strings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: The relative accuracy of every sketch in splitlab (1 %).
RELATIVE_ACCURACY = 0.01
#: ``gamma = (1 + a) / (1 - a)``.
GAMMA = (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)
#: ``ln gamma``, the divisor of the bucket key; SQL uses this exact literal (``repr``).
LOG_GAMMA = math.log(GAMMA)


def bucket_key(magnitude: float) -> int:
    """The bucket of a positive magnitude: ``ceil(ln x / ln gamma)``."""
    return math.ceil(math.log(magnitude) / LOG_GAMMA)


def bucket_keys(magnitudes: np.ndarray) -> np.ndarray:
    """:func:`bucket_key` of every positive magnitude (vectorised, as floats)."""
    with np.errstate(divide="ignore"):
        return np.asarray(np.ceil(np.log(magnitudes) / LOG_GAMMA))


def bucket_value(key: int) -> float:
    """The representative value of positive bucket ``key``: ``2 gamma**k / (gamma + 1)``."""
    return 2.0 * math.exp(key * LOG_GAMMA) / (GAMMA + 1.0)


def bucket_bounds(key: int) -> tuple[float, float]:
    """The positive bucket's range ``(gamma**(k-1), gamma**k]`` as (lower, upper)."""
    return math.exp((key - 1) * LOG_GAMMA), math.exp(key * LOG_GAMMA)


@dataclass(frozen=True, slots=True)
class Sketch:
    """Integer counts per log bucket; adding two sketches merges them exactly."""

    zeros: int = 0
    positive: Mapping[int, int] = field(default_factory=dict)
    negative: Mapping[int, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return self.zeros + sum(self.positive.values()) + sum(self.negative.values())

    def __add__(self, other: Sketch) -> Sketch:
        return Sketch(
            self.zeros + other.zeros,
            _merge(self.positive, other.positive),
            _merge(self.negative, other.negative),
        )

    @classmethod
    def from_values(cls, values: Iterable[float] | np.ndarray) -> Sketch:
        """The sketch of raw values (vectorised with numpy)."""
        x = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=float)
        if not np.all(np.isfinite(x)):
            raise ValueError("sketch: values must be finite numbers")
        pos, neg = x[x > 0], -x[x < 0]
        return cls(int(np.count_nonzero(x == 0)), _count_keys(pos), _count_keys(neg))

    def distinct(self) -> tuple[np.ndarray, np.ndarray]:
        """The representative values in increasing order, with their counts."""
        neg = sorted(self.negative.items(), key=lambda kv: -kv[0])
        pos = sorted(self.positive.items())
        values = [-bucket_value(k) for k, _ in neg]
        counts = [c for _, c in neg]
        if self.zeros:
            values.append(0.0)
            counts.append(self.zeros)
        values += [bucket_value(k) for k, _ in pos]
        counts += [c for _, c in pos]
        return np.asarray(values, dtype=float), np.asarray(counts, dtype=np.int64)

    def value_at_rank(self, rank: float) -> float:
        """The representative value of the bucket holding the 0-based ``rank`` (clamped)."""
        values, counts = self.distinct()
        if counts.size == 0:
            return math.nan
        cumulative = np.cumsum(counts)
        index = int(np.searchsorted(cumulative, min(max(rank, 0.0), cumulative[-1] - 1), "right"))
        return float(values[min(index, values.size - 1)])

    def quantile(self, p: float) -> float:
        """The ``p``-quantile (rank ``p (n - 1)``), within the relative accuracy."""
        return self.value_at_rank(p * (self.count - 1))

    def to_dict(self) -> dict[str, Any]:
        return {
            "relativeAccuracy": RELATIVE_ACCURACY,
            "count": self.count,
            "zeros": self.zeros,
            "positive": {str(k): c for k, c in sorted(self.positive.items())},
            "negative": {str(k): c for k, c in sorted(self.negative.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "sketch") -> Sketch:
        """Read the wire form; a ValueError names the field and what was expected."""
        accuracy = data.get("relativeAccuracy", RELATIVE_ACCURACY)
        if accuracy != RELATIVE_ACCURACY:
            raise ValueError(
                f"{where}.relativeAccuracy: expected {RELATIVE_ACCURACY} (got {accuracy!r})"
            )
        zeros = data.get("zeros", 0)
        if not isinstance(zeros, int) or isinstance(zeros, bool) or zeros < 0:
            raise ValueError(f"{where}.zeros: expected a count >= 0 (got {zeros!r})")
        return cls(
            zeros,
            _read_counts(data.get("positive", {}), f"{where}.positive"),
            _read_counts(data.get("negative", {}), f"{where}.negative"),
        )


def _merge(a: Mapping[int, int], b: Mapping[int, int]) -> dict[int, int]:
    out = dict(a)
    for k, c in b.items():
        out[k] = out.get(k, 0) + c
    return out


def _count_keys(magnitudes: np.ndarray) -> dict[int, int]:
    if magnitudes.size == 0:
        return {}
    keys = bucket_keys(magnitudes).astype(np.int64)
    unique, counts = np.unique(keys, return_counts=True)
    return {int(k): int(c) for k, c in zip(unique, counts, strict=True)}


def _read_counts(data: Any, where: str) -> dict[int, int]:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected an object of bucket -> count (got {data!r})")
    out: dict[int, int] = {}
    for key, count in data.items():
        try:
            k = int(key)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: expected integer bucket keys (got {key!r})") from None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError(f"{where}.{key}: expected a count >= 0 (got {count!r})")
        out[k] = count
    return out
