"""The quantile parts of an arm's sums: reading them from JSON and adding two arms' sketches.

Kept beside :mod:`splitlab.stats.sums`, which uses them for ``ArmSums.sketch`` and
``ArmSums.clustered`` (docs/statistics.md, "Quantile metrics").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from splitlab.stats.errors import SumsError, SumsProblem
from splitlab.stats.sketch import Sketch

T = TypeVar("T")


def read_part(
    parse: Callable[[Any, str], T], data: Any, where: str, problems: list[SumsProblem]
) -> T | None:
    """An optional part read by `parse`, its ValueError recorded as a problem (with the path
    and the expectation the message names)."""
    if data is None:
        return None
    if not isinstance(data, Mapping):
        problems.append(SumsProblem(where, data, "an object"))
        return None
    try:
        return parse(data, where)
    except ValueError as exc:
        path, _, expected = str(exc).partition(": expected ")
        problems.append(SumsProblem(path or where, data, expected or str(exc)))
        return None


def add_sketches(a: Sketch | None, n_a: float, b: Sketch | None, n_b: float) -> Sketch | None:
    """Sketches merge exactly; an arm without one adds only when it is empty (``n`` = 0)."""
    if a is not None and b is not None:
        return a + b
    if a is None and b is None:
        return None
    if (n_a if a is None else n_b) == 0:
        return a if a is not None else b
    raise SumsError("cannot add sums with a sketch to sums without one")
