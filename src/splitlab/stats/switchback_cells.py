"""The cell table of a switchback experiment: one row per (unit, period) cell.

A switchback randomises cells: the variant of switchback unit ``u`` (a region, or the one
global unit) in period ``k`` is drawn independently for every cell. The store reduces the
events to one aggregate per cell and metric (docs/switchback.md, "Cell outcomes"); this module
holds that table and its JSON form, which rides in the sums document (``"cells"``) so that a
recorded look can be replayed.

The table is the full grid of the analysis window: ``units`` x ``periods`` cells, unit-major,
so cell ``i`` is unit ``i // periods`` in period ``first_period + i % periods``. Cells without
events are in it with outcome 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from splitlab.stats.errors import SumsError, SumsProblem

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SwitchbackCells:
    """The cells of a switchback's analysis window with their variants and outcomes."""

    #: The switchback units in grid order: attribute values, or ``(None,)`` for a global unit.
    unit_names: tuple[str | None, ...]
    #: Index of the first period of the window (periods counted from the design's origin).
    first_period: int
    #: Number of periods in the window (T).
    periods: int
    #: The variant of every cell, unit-major (``len == units * periods``).
    variants: tuple[str, ...]
    #: Metric name -> the cell outcome Y of every cell (docs/switchback.md, "Cell outcomes").
    values: Mapping[str, tuple[float, ...]]
    #: Ratio metrics: metric name -> the cell total D of the denominator.
    denominators: Mapping[str, tuple[float, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        size = len(self.unit_names) * self.periods
        if len(self.variants) != size:
            raise SumsError(
                f"cells: {len(self.variants)} variants for {len(self.unit_names)} unit(s) x "
                f"{self.periods} period(s); expected {size}"
            )
        for kind, table in (("values", self.values), ("denominators", self.denominators)):
            for name, column in table.items():
                if len(column) != size:
                    raise SumsError(
                        f"cells.{kind}.{name}: {len(column)} values; expected {size} (one per cell)"
                    )

    @property
    def size(self) -> int:
        return len(self.variants)

    @property
    def unit_count(self) -> int:
        return len(self.unit_names)

    def unit_index(self) -> IntArray:
        """The unit (0-based, grid order) of every cell."""
        return np.repeat(np.arange(self.unit_count, dtype=np.int64), self.periods)

    def period_index(self) -> IntArray:
        """The period index (from the design's origin) of every cell."""
        return np.tile(np.arange(self.periods, dtype=np.int64), self.unit_count) + int(
            self.first_period
        )

    def variant_array(self) -> npt.NDArray[np.str_]:
        return np.asarray(self.variants, dtype=str)

    def outcome(self, metric: str) -> FloatArray:
        return np.asarray(self.values[metric], dtype=np.float64)

    def denominator(self, metric: str) -> FloatArray | None:
        found = self.denominators.get(metric)
        return None if found is None else np.asarray(found, dtype=np.float64)

    def counts(self, variants: Sequence[str]) -> dict[str, float]:
        """Cells per variant (every variant of `variants` present, 0 when it has none)."""
        out = dict.fromkeys(variants, 0.0)
        for v in self.variants:
            out[v] = out.get(v, 0.0) + 1.0
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "unitNames": list(self.unit_names),
            "firstPeriod": self.first_period,
            "periods": self.periods,
            "variants": list(self.variants),
            "values": {k: list(v) for k, v in self.values.items()},
        }
        if self.denominators:
            out["denominators"] = {k: list(v) for k, v in self.denominators.items()}
        return out

    @classmethod
    def from_dict(
        cls, data: Any, where: str, problems: list[SumsProblem]
    ) -> SwitchbackCells | None:
        """Read the JSON form; every problem goes to `problems` (None when there are any)."""
        before = len(problems)
        if not isinstance(data, Mapping):
            problems.append(SumsProblem(where, data, "an object (the switchback cell table)"))
            return None
        names = data.get("unitNames")
        if not isinstance(names, list) or not all(n is None or isinstance(n, str) for n in names):
            problems.append(SumsProblem(f"{where}.unitNames", names, "a list of strings (or null)"))
        first, periods = data.get("firstPeriod"), data.get("periods")
        if isinstance(first, bool) or not isinstance(first, int):
            problems.append(SumsProblem(f"{where}.firstPeriod", first, "an integer"))
        if isinstance(periods, bool) or not isinstance(periods, int) or periods < 0:
            problems.append(SumsProblem(f"{where}.periods", periods, "an integer >= 0"))
        variants = data.get("variants")
        if not isinstance(variants, list) or not all(isinstance(v, str) for v in variants):
            problems.append(SumsProblem(f"{where}.variants", variants, "a list of variant names"))
        columns: dict[str, dict[str, tuple[float, ...]]] = {"values": {}, "denominators": {}}
        for kind in columns:
            table = data.get(kind, {})
            if not isinstance(table, Mapping):
                problems.append(SumsProblem(f"{where}.{kind}", table, "an object"))
                continue
            for name, column in table.items():
                if not isinstance(column, list) or not all(_finite(x) for x in column):
                    problems.append(
                        SumsProblem(f"{where}.{kind}.{name}", "...", "a list of finite numbers")
                    )
                    continue
                columns[kind][name] = tuple(float(x) for x in column)
        if len(problems) > before:
            return None
        assert isinstance(names, list) and isinstance(variants, list)  # checked above
        assert isinstance(first, int) and isinstance(periods, int)
        try:
            return cls(
                tuple(names), first, periods, tuple(variants), columns["values"],
                columns["denominators"],
            )  # fmt: skip
        except SumsError as exc:
            problems.append(SumsProblem(where, "...", str(exc)))
            return None


def _finite(x: Any) -> bool:
    return not isinstance(x, bool) and isinstance(x, int | float) and math.isfinite(x)
