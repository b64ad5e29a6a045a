"""The article's simple targeting lists: ``include: ["region:US"]``, ``exclude: ["bot:true"]``.

Semantics (also in ``docs/targeting.md``): include entries naming the same attribute are
OR-ed, different attributes AND-ed; any matching exclude entry excludes. Values compare as
strings, the attribute rendered canonically (``true``/``false``, ``1``, ``2.5``). A missing
attribute matches no entry: it fails an include and never triggers an exclude.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["compile_rules", "render_value", "validate_rules"]

_Problem = tuple[str, Any, str]


def validate_rules(include: Any, exclude: Any, path: str = "$.targeting") -> list[_Problem]:
    """Return every problem in the include / exclude lists as (JSON path, value, expected)."""
    problems: list[_Problem] = []
    for name, entries in (("include", include), ("exclude", exclude)):
        here = f"{path}.{name}"
        if not isinstance(entries, list | tuple):
            problems.append((here, entries, "a list of 'attribute:value' strings"))
            continue
        for i, entry in enumerate(entries):
            attribute, sep, _ = entry.partition(":") if isinstance(entry, str) else ("", "", "")
            if not sep or not attribute.strip() or attribute != attribute.strip():
                expected = "'attribute:value' with a non-empty attribute name, e.g. 'region:US'"
                problems.append((f"{here}[{i}]", entry, expected))
    return problems


def compile_rules(
    include: Sequence[str], exclude: Sequence[str]
) -> Callable[[Mapping[str, Any]], bool]:
    """Turn include / exclude lists into a predicate over attributes (True = targeted).

    Raises ``ConditionError`` (a ``ValueError``) when an entry is malformed.
    """
    problems = validate_rules(include, exclude)
    if problems:
        from splitlab.config.conditions import ConditionError

        raise ConditionError(problems)
    wanted = _group(include)
    unwanted = _group(exclude)

    def targeted(attributes: Mapping[str, Any]) -> bool:
        for key, get, values in wanted:
            value = attributes.get(key) if get is None else get(attributes)
            if value.__class__ is str:  # the common case, inlined
                if value not in values:
                    return False
            elif not _matches(value, values):
                return False
        for key, get, values in unwanted:
            value = attributes.get(key) if get is None else get(attributes)
            if _matches(value, values):
                return False
        return True

    return targeted


def render_value(value: Any) -> str | None:
    """The canonical text of an attribute value, or None when it has none (null, objects)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


_Getter = Callable[[Mapping[str, Any]], Any]


def _group(entries: Sequence[str]) -> list[tuple[str, _Getter | None, frozenset[str]]]:
    """(attribute, getter for a dotted path or None for a plain key, accepted texts)."""
    by_attribute: dict[str, set[str]] = {}
    for entry in entries:
        attribute, _, value = entry.partition(":")
        by_attribute.setdefault(attribute, set()).add(value)
    return [(a, _getter(a) if "." in a else None, frozenset(v)) for a, v in by_attribute.items()]


def _getter(path: str) -> _Getter:
    parts = path.split(".")

    def get(attributes: Mapping[str, Any]) -> Any:
        current: Any = attributes
        for part in parts:
            if not isinstance(current, Mapping):
                return None
            current = current.get(part)
        return current

    return get


def _matches(value: Any, values: frozenset[str]) -> bool:
    cls = value.__class__
    if cls is str:
        return value in values
    if cls is bool:
        return ("true" if value else "false") in values
    if value is None:
        return False
    if isinstance(value, list | tuple):
        return any(render_value(e) in values for e in value)
    return render_value(value) in values
