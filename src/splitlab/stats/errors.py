"""Errors of the statistics engine.

SplitlabError                (splitlab.errors)
└── StatsError               an analysis that cannot be done as asked
    ├── SumsError            sufficient statistics that are malformed or do not fit
    └── LookError            a look beyond the planned `maxPeeks`
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from splitlab.errors import SplitlabError


class StatsError(SplitlabError):
    """An analysis that cannot be done as asked."""

    code = "stats_error"


@dataclass(frozen=True, slots=True)
class SumsProblem:
    """One problem of a sums document: the JSON path, the value found, what was expected."""

    path: str
    value: Any
    expected: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "value": _json_safe(self.value), "expected": self.expected}

    def __str__(self) -> str:
        return f"{self.path}: expected {self.expected} (got {_shown(self.value)})"


class SumsError(StatsError, ValueError):
    """Sufficient statistics that are malformed, or that do not match the experiment.

    A malformed document lists every problem in ``problems`` (each with its JSON path), so
    a file can be fixed in one pass; :meth:`details` gives them as ``{path, value, expected}``.
    """

    code = "invalid_sums"

    def __init__(self, message: str = "", problems: Sequence[SumsProblem] = ()) -> None:
        self.problems = list(problems)
        if self.problems and not message:
            if len(self.problems) == 1:
                message = str(self.problems[0])
            else:
                lines = "\n".join(f"  - {p}" for p in self.problems)
                message = f"invalid sums: {len(self.problems)} problems\n{lines}"
        super().__init__(message)

    def details(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.problems]


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return type(value).__name__


def _shown(value: Any) -> str:
    if isinstance(value, list | dict):
        return "a list" if isinstance(value, list) else "an object"
    return json.dumps(_json_safe(value))


class LookError(StatsError):
    """A look beyond the planned number of looks (`evaluation.maxPeeks`)."""

    code = "look_not_allowed"
