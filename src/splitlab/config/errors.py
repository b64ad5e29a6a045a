"""Errors raised when an experiment definition is invalid.

SplitlabError            (splitlab.errors)
└── ConfigError          every problem of one definition, each with path, value, expected
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from splitlab.errors import SplitlabError


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a definition: where (JSON path), what was found, what was expected."""

    path: str
    value: Any
    expected: str

    def __str__(self) -> str:
        return f"{self.path}: expected {self.expected} (got {_render(self.value)})"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "value": _jsonable(self.value), "expected": self.expected}


class ConfigError(SplitlabError):
    """An experiment definition was refused; `.problems` lists every reason."""

    code = "invalid_definition"

    def __init__(self, problems: list[Problem], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"invalid experiment definition{where}: {len(problems)} problem(s)\n{lines}"
        )

    def details(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.problems]


_MISSING = "<missing>"


def _render(value: Any) -> str:
    if value is _MISSING:
        return "nothing"
    text = json.dumps(_jsonable(value))
    return text if len(text) <= 80 else text[:77] + "..."


def _jsonable(value: Any) -> Any:
    if value is _MISSING:
        return None
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)
    return value


MISSING = _MISSING
