"""The time-to-event and retention parts of an arm's sums: small tables that add across looks'
shards like every other sum (docs/statistics.md, "Retention and time to event").

* :class:`SurvivalTable`: per distinct duration (hours since the unit's first exposure), how
  many units had their first event then (``events``) and how many were censored then
  (``censored``: still without an event at the cut-off or at the metric's horizon). That is
  all a Kaplan-Meier estimate, its Greenwood variance and the restricted mean survival time
  need (:mod:`splitlab.stats.survival`).
* :class:`RetentionCurve`: per day ``d`` after the first exposure, the units whose day ``d``
  had ended by the cut-off (``eligible``) and those of them with an event on day ``d``
  (``retained``); the dashboard draws it per arm.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def _floats(data: Mapping[str, Any], key: str, where: str, *, counts: bool) -> tuple[float, ...]:
    values = data.get(key)
    if not isinstance(values, list):
        raise ValueError(f"{where}.{key}: expected a list of numbers")
    out: list[float] = []
    for i, v in enumerate(values):
        ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        if not ok or (counts and (v < 0 or not float(v).is_integer())):
            what = "a whole number >= 0" if counts else "a finite number"
            raise ValueError(f"{where}.{key}[{i}]: expected {what}")
        out.append(float(v))
    return tuple(out)


def _same_length(where: str, first: str, columns: Mapping[str, Sequence[float]]) -> None:
    n = len(columns[first])
    for key, col in columns.items():
        if len(col) != n:
            raise ValueError(f"{where}.{key}: expected {n} entries, as many as {where}.{first}")


def _merge(
    a: Sequence[float],
    a_cols: Sequence[Sequence[float]],
    b: Sequence[float],
    b_cols: Sequence[Sequence[float]],
) -> tuple[tuple[float, ...], list[tuple[float, ...]]]:
    """Keys (sorted, distinct) and the columns added where both sides have a key."""
    merged: dict[float, list[float]] = {}
    for keys, cols in ((a, a_cols), (b, b_cols)):
        for i, key in enumerate(keys):
            row = merged.setdefault(key, [0.0] * len(cols))
            for j, col in enumerate(cols):
                row[j] += col[i]
    ordered = sorted(merged)
    width = len(a_cols)
    return tuple(ordered), [tuple(merged[k][j] for k in ordered) for j in range(width)]


@dataclass(frozen=True)
class SurvivalTable:
    """Durations (hours, sorted, distinct) with the events and censorings at each."""

    times: tuple[float, ...]
    events: tuple[float, ...]
    censored: tuple[float, ...]

    def __post_init__(self) -> None:
        if not len(self.times) == len(self.events) == len(self.censored):
            raise ValueError("survival table: times, events and censored differ in length")
        if any(b <= a for a, b in zip(self.times, self.times[1:], strict=False)):
            raise ValueError("survival table: times must be sorted and distinct")

    @property
    def units(self) -> float:
        return sum(self.events) + sum(self.censored)

    def __add__(self, other: SurvivalTable) -> SurvivalTable:
        times, (events, censored) = _merge(
            self.times, (self.events, self.censored), other.times, (other.events, other.censored)
        )
        return SurvivalTable(times, events, censored)

    @classmethod
    def from_durations(cls, durations: Sequence[float], observed: Sequence[bool]) -> SurvivalTable:
        """The table of per-unit durations and event flags (tests and notebooks)."""
        rows: dict[float, list[float]] = {}
        for t, seen in zip(durations, observed, strict=True):
            row = rows.setdefault(float(t), [0.0, 0.0])
            row[0 if seen else 1] += 1.0
        keys = sorted(rows)
        return cls(tuple(keys), tuple(rows[k][0] for k in keys), tuple(rows[k][1] for k in keys))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> SurvivalTable:
        cols = {
            k: _floats(data, k, where, counts=k != "times") for k in ("times", "events", "censored")
        }
        _same_length(where, "times", cols)
        try:
            return cls(cols["times"], cols["events"], cols["censored"])
        except ValueError:
            raise ValueError(f"{where}.times: expected sorted, distinct durations") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "times": list(self.times),
            "events": [int(e) for e in self.events],
            "censored": [int(c) for c in self.censored],
        }


@dataclass(frozen=True)
class RetentionCurve:
    """Per day after the first exposure: units eligible for that day and those retained."""

    days: tuple[int, ...]
    eligible: tuple[float, ...]
    retained: tuple[float, ...]

    def __post_init__(self) -> None:
        if not len(self.days) == len(self.eligible) == len(self.retained):
            raise ValueError("retention curve: days, eligible and retained differ in length")

    def __add__(self, other: RetentionCurve) -> RetentionCurve:
        days, (eligible, retained) = _merge(
            self.days, (self.eligible, self.retained), other.days, (other.eligible, other.retained)
        )
        return RetentionCurve(tuple(int(d) for d in days), eligible, retained)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> RetentionCurve:
        cols = {k: _floats(data, k, where, counts=True) for k in ("days", "eligible", "retained")}
        _same_length(where, "days", cols)
        return cls(tuple(int(d) for d in cols["days"]), cols["eligible"], cols["retained"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "days": list(self.days),
            "eligible": [int(e) for e in self.eligible],
            "retained": [int(r) for r in self.retained],
        }


def add_optional(a: Any, b: Any) -> Any:
    """Two optional tables added; a missing side is an empty one."""
    if a is None:
        return b
    if b is None:
        return a
    return a + b
