"""Building blocks of compiled conditions: tests on one attribute value.

Each builder returns a closure. The common case (a plain ``str``, ``int``, ``float`` or
``bool`` attribute) is answered by a check of the exact class and one set lookup or
comparison; everything else (arrays, ``None``, subclasses) takes the general path. The type
rules these implement are written down in ``docs/targeting.md``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from splitlab.config.versions import parse_version

Pred = Callable[[Any], bool]

__all__ = [
    "Pred",
    "any_element",
    "equal",
    "getter",
    "is_array",
    "is_number",
    "membership",
    "ordering",
    "type_name",
    "version",
]


def is_array(value: Any) -> bool:
    return isinstance(value, list | tuple)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def equal(a: Any, b: Any) -> bool:
    """JSON equality without coercion: 1 == 1.0, but True != 1 and "1" != 1."""
    if isinstance(a, str):
        return isinstance(b, str) and a == b
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float):
        return is_number(b) and a == b
    if a is None or b is None:
        return a is b
    if is_array(a):
        return is_array(b) and len(a) == len(b) and all(map(equal, a, b))
    if isinstance(a, Mapping):
        return isinstance(b, Mapping) and a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if is_array(value):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return "unknown"


def any_element(pred: Pred) -> Pred:
    """Mongo's array rule: the value matches, or (for an array) one of its elements does."""

    def test(value: Any) -> bool:
        if pred(value):
            return True
        return is_array(value) and any(pred(e) for e in value)

    return test


def _key(value: Any, fold: bool) -> tuple[str, Any] | None:
    """A hashable key that keeps JSON types apart (so True and 1 differ), or None."""
    if isinstance(value, str):
        return ("s", value.lower() if fold else value)
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", value)
    if value is None:
        return ("z", None)
    return None


def membership(items: Iterable[Any], fold: bool = False) -> Pred:
    """Whether a value (or, for an array, the array or one element) equals one of `items`.

    With `fold`, strings on both sides are lower-cased first.
    """
    items = list(items)
    keys: set[tuple[str, Any]] = set()
    others: list[Any] = []
    for item in items:
        key = _key(item, fold)
        if key is None:
            others.append(item)
        else:
            keys.add(key)

    def member(value: Any) -> bool:
        key = _key(value, fold)
        if key is not None:
            return key in keys
        return any(equal(value, other) for other in others)

    slow = any_element(member)
    strs = frozenset(i.lower() if fold else i for i in items if isinstance(i, str))
    nums = frozenset(i for i in items if is_number(i))
    bools = frozenset(i for i in items if isinstance(i, bool))
    if fold:

        def test_folded(value: Any) -> bool:
            cls = value.__class__
            if cls is str:
                return value.lower() in strs
            if cls is int or cls is float:
                return value in nums
            if cls is bool:
                return value in bools
            return slow(value)

        return test_folded
    by_class: dict[type, frozenset[Any]] = {str: strs, int: nums, float: nums, bool: bools}

    def test(value: Any) -> bool:
        found = by_class.get(value.__class__)
        return value in found if found is not None else slow(value)

    return test


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
    "$veq": operator.eq,
    "$vne": operator.ne,
    "$vgt": operator.gt,
    "$vgte": operator.ge,
    "$vlt": operator.lt,
    "$vlte": operator.le,
}


def ordering(op: str, x: Any) -> Pred:
    """`value OP x` when both are numbers or both are strings; any other pairing is False."""
    compare = _COMPARE[op]
    if is_number(x):

        def general_number(v: Any) -> bool:
            return is_number(v) and compare(v, x)

        slow = any_element(general_number)

        def test_number(v: Any) -> bool:
            cls = v.__class__
            return compare(v, x) if cls is int or cls is float else slow(v)

        return test_number

    def general_string(v: Any) -> bool:
        return isinstance(v, str) and compare(v, x)

    slow = any_element(general_string)

    def test_string(v: Any) -> bool:
        return compare(v, x) if v.__class__ is str else slow(v)

    return test_string


_UNSEEN = object()
_SEEN_LIMIT = 1024


def version(op: str, x: str) -> Pred:
    """Compare semantic versions; a value that is not a version string never matches."""
    want = parse_version(x)
    if want is None:  # pragma: no cover - validated before compiling
        raise ValueError(f"not a semantic version: {x!r}")
    compare = _COMPARE[op]

    def general(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        have = parse_version(value)
        return have is not None and compare(have, want)

    slow = any_element(general)

    seen: dict[str, Any] = {}  # this operator's own cache: a dict lookup beats lru_cache

    def test(value: Any) -> bool:
        if value.__class__ is str:
            have = seen.get(value, _UNSEEN)
            if have is _UNSEEN:
                if len(seen) >= _SEEN_LIMIT:
                    seen.clear()
                have = seen[value] = parse_version(value)
            return have is not None and compare(have, want)
        return slow(value)

    return test


def getter(path: str) -> Callable[[Mapping[str, Any]], Any]:
    """Read a dotted path; a missing step (or a non-object on the way) reads as None."""
    parts = path.split(".")

    def get(attributes: Mapping[str, Any]) -> Any:
        current: Any = attributes
        for part in parts:
            if isinstance(current, Mapping):
                current = current.get(part)
            elif (
                is_array(current) and part.isascii() and part.isdigit() and int(part) < len(current)
            ):
                current = current[int(part)]
            else:
                return None
        return current

    return get
