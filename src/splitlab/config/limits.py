"""The size limits of an experiment definition, and nesting checks that never recurse.

Every limit is documented in ``docs/configuration.md`` (fields) and ``docs/targeting.md``
(conditions). The checks here walk JSON with an explicit stack, so a hostile document
(5,000 nested ``$and``) is refused with a path instead of a ``RecursionError``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "MAX_CONDITION_DEPTH",
    "MAX_CONDITION_NODES",
    "MAX_DOCUMENT_DEPTH",
    "MAX_REGEX_LENGTH",
    "deepest_path",
    "text_too_deep",
]

#: Arrays and objects nested in one definition, counting the top-level object as 1.
MAX_DOCUMENT_DEPTH = 64
#: Arrays and objects nested in one targeting condition, counting the condition as 1.
MAX_CONDITION_DEPTH = 32
#: JSON values (objects, arrays, keys' values, list items, scalars) in one condition.
MAX_CONDITION_NODES = 10_000
#: Characters in one ``$regex`` / ``$regexi`` pattern.
MAX_REGEX_LENGTH = 1_000

# A JSON string (escapes included; an unterminated one runs to the end) or a bracket.
_TOKENS = re.compile(r'"(?:[^"\\]|\\[\s\S])*"?|[\[\]{}]')


def text_too_deep(text: str, limit: int = MAX_DOCUMENT_DEPTH) -> tuple[int, int] | None:
    """(line, column) of the first bracket nested deeper than `limit` in JSON text, or None.

    A linear scan that skips strings, run before ``json.loads`` so that the parser never
    meets nesting it would recurse into. Lines and columns count from 1.
    """
    if text.count("[") + text.count("{") <= limit:
        return None
    depth = 0
    for token in _TOKENS.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > limit:
                start = token.start()
                line = text.count("\n", 0, start) + 1
                return line, start - (text.rfind("\n", 0, start) + 1) + 1
        elif char in "]}":
            depth -= 1
    return None


def _step(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    text = str(key)
    if re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$]*", text):
        return f"{path}.{text}"
    return f"{path}[{json.dumps(text)}]"


def deepest_path(value: Any, limit: int, path: str = "$") -> str | None:
    """The path of the first array or object nested deeper than `limit` in `value`, or None.

    `value` itself counts as depth 1 when it is an array or an object. Iterative.
    """
    stack: list[tuple[Any, str, int]] = [(value, path, 1)]
    while stack:
        current, where, depth = stack.pop()
        if isinstance(current, Mapping):
            children: Any = current.items()
        elif isinstance(current, list | tuple):
            children = enumerate(current)
        else:
            continue
        if depth > limit:
            return where
        # reversed, so that the first offender in document order is found first
        items = [(child, _step(where, key), depth + 1) for key, child in children]
        stack.extend(reversed(items))
    return None


def count_nodes(value: Any, limit: int) -> int:
    """How many JSON values `value` holds (itself included), counting at most `limit` + 1."""
    count = 0
    stack: list[Any] = [value]
    while stack and count <= limit:
        current = stack.pop()
        count += 1
        if isinstance(current, Mapping):
            stack.extend(current.values())
        elif isinstance(current, list | tuple):
            stack.extend(current)
    return count
