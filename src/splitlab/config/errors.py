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
    #: Where in the text, for problems found before the JSON could be read (1-based).
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.path if self.line is None else f"line {self.line}, column {self.column}"
        return f"{where}: expected {self.expected} (got {_render(self.value)})"

    def to_dict(self) -> dict[str, Any]:
        out = {"path": self.path, "value": _jsonable(self.value), "expected": self.expected}
        if self.line is not None:
            out |= {"line": self.line, "column": self.column}
        return out


def count(n: int, noun: str) -> str:
    """``1 problem``, ``3 problems``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


class ConfigError(SplitlabError):
    """An experiment definition was refused; `.problems` lists every reason."""

    code = "invalid_definition"

    def __init__(self, problems: list[Problem], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"invalid experiment definition{where}: {count(len(problems), 'problem')}\n{lines}"
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
