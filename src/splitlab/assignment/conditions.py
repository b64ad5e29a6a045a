"""The targeting condition language: MongoDB-style JSON conditions, as in GrowthBook's SDKs.

A condition is compiled once into a plain Python predicate (``compile_condition``) and then
called per unit; ``evaluate_condition`` does both in one call. The full semantics, including
the type-mismatch rule, are in ``docs/targeting.md``.

Malformed conditions are *definition* errors, never a runtime ``False``:

    SplitlabError                (splitlab.errors)
    └── ConditionError           also a ValueError; .problems lists (path, value, expected)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from splitlab.assignment.rules import compile_rules, validate_rules
from splitlab.assignment.versions import VersionKey, parse_version
from splitlab.errors import SplitlabError

__all__ = [
    "ConditionError",
    "Matcher",
    "Problem",
    "compile_condition",
    "compile_rules",
    "evaluate_condition",
    "validate_condition",
    "validate_rules",
]

#: One thing wrong with a condition: (JSON path, the value found there, what was expected).
Problem = tuple[str, Any, str]
#: A compiled condition: attributes in, "targeted?" out.
Matcher = Callable[[Mapping[str, Any]], bool]
_Pred = Callable[[Any], bool]  # a test on one attribute value

_LOGICAL = ("$and", "$or", "$nor", "$not")
_ORDERING = ("$gt", "$gte", "$lt", "$lte")
_VERSIONS = ("$veq", "$vne", "$vgt", "$vgte", "$vlt", "$vlte")
_LISTS = ("$in", "$nin", "$ini", "$nini", "$all", "$alli")
_TYPES = ("string", "number", "boolean", "array", "object", "null")
_OPERATORS = (
    "$eq", "$ne", *_ORDERING, *_LISTS, "$exists", "$type", "$regex", "$regexi", "$size",
    "$elemMatch", "$not", *_VERSIONS, "$inGroup", "$notInGroup",
)  # fmt: skip
_SIMPLE_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*\Z")


class ConditionError(SplitlabError, ValueError):
    """A malformed targeting condition; names the path, the bad value and what was expected."""

    code = "invalid_condition"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        self.path, self.value, self.expected = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(f"{self.path}: expected {self.expected} (got {_render(self.value)}){more}")

    def details(self) -> list[dict[str, Any]]:
        return [{"path": p, "value": v, "expected": e} for p, v, e in self.problems]


def _render(value: Any) -> str:
    text = json.dumps(value, default=repr)
    return text if len(text) <= 80 else text[:77] + "..."


# ---------------------------------------------------------------------------- public API


def evaluate_condition(
    condition: Mapping[str, Any],
    attributes: Mapping[str, Any],
    saved_groups: Mapping[str, Sequence[Any]] | None = None,
) -> bool:
    """Return whether `attributes` satisfy `condition`; raise ConditionError if it is malformed.

    This compiles the condition on every call; hot paths should keep the result of
    :func:`compile_condition` instead.
    """
    return compile_condition(condition, saved_groups)(attributes)


def compile_condition(
    condition: Mapping[str, Any], saved_groups: Mapping[str, Sequence[Any]] | None = None
) -> Matcher:
    """Validate `condition` and turn it into a fast predicate over attribute mappings.

    Regular expressions are compiled and operators dispatched once, here. Saved groups
    (for ``$inGroup`` / ``$notInGroup``) are bound now; an unknown group name is empty.
    """
    problems = validate_condition(condition)
    if problems:
        raise ConditionError(problems)
    return _Compiler(saved_groups or {}).condition(condition)


def validate_condition(condition: Any, path: str = "$") -> list[Problem]:
    """Return every problem in `condition` as (JSON path, bad value, expected); [] if valid.

    `path` is the JSON path of the condition itself, e.g. ``$.targeting.condition``.
    """
    problems: list[Problem] = []
    _check_condition(condition, path, problems)
    return problems


# ---------------------------------------------------------------------------- validation


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if _SIMPLE_KEY.match(key) else f"{path}[{json.dumps(key)}]"


def _is_array(value: Any) -> bool:
    return isinstance(value, list | tuple)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_operator_object(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(isinstance(k, str) and k.startswith("$") for k in value)
    )


def _check_condition(cond: Any, path: str, out: list[Problem]) -> None:
    if not isinstance(cond, Mapping):
        out.append((path, cond, "an object of attribute paths and $and/$or/$nor/$not"))
        return
    for key, value in cond.items():
        here = _child(path, str(key))
        if key in ("$and", "$or", "$nor"):
            if not _is_array(value):
                out.append((here, value, "a list of conditions"))
                continue
            for i, item in enumerate(value):
                _check_condition(item, f"{here}[{i}]", out)
        elif key == "$not":
            _check_condition(value, here, out)
        elif not isinstance(key, str) or not key or key.startswith("$"):
            out.append((here, key, "an attribute path or one of $and, $or, $nor, $not"))
        else:
            _check_value(value, here, out)


def _check_value(cond: Any, path: str, out: list[Problem]) -> None:
    """Check a condition on one attribute value: a plain value or an operator object."""
    if not isinstance(cond, Mapping) or not any(str(k).startswith("$") for k in cond):
        return  # a plain value: matched by equality, anything JSON is fine
    if not _is_operator_object(cond):
        out.append((path, cond, "only operators (keys starting with $) or only plain keys"))
        return
    for op, operand in cond.items():
        _check_operator(op, operand, _child(path, op), out)


def _check_operator(op: str, operand: Any, path: str, out: list[Problem]) -> None:
    expected: str | None = None
    if op in ("$eq", "$ne"):
        return
    if op in _ORDERING:
        if not (_is_number(operand) or isinstance(operand, str)):
            expected = "a number or a string"
    elif op in _LISTS:
        if not _is_array(operand):
            expected = "a list"
        elif op == "$all":
            for i, item in enumerate(operand):
                _check_value(item, f"{path}[{i}]", out)
    elif op == "$exists":
        if not isinstance(operand, bool):
            expected = "true or false"
    elif op == "$type":
        if operand not in _TYPES:
            expected = "one of " + ", ".join(_TYPES)
    elif op in ("$regex", "$regexi"):
        if not isinstance(operand, str):
            expected = "a regular expression string"
        else:
            try:
                _regex(operand, op == "$regexi")
            except re.error as exc:
                expected = f"a valid regular expression ({exc})"
    elif op == "$size":
        if _is_operator_object(operand):
            _check_value(operand, path, out)
        elif not (isinstance(operand, int) and not isinstance(operand, bool) and operand >= 0):
            expected = "a non-negative integer or an operator object"
    elif op == "$elemMatch":
        if _is_operator_object(operand):
            _check_value(operand, path, out)
        elif isinstance(operand, Mapping):
            _check_condition(operand, path, out)
        else:
            expected = "an object (a condition or operators for each element)"
    elif op == "$not":
        _check_value(operand, path, out)
    elif op in _VERSIONS:
        if not isinstance(operand, str) or parse_version(operand) is None:
            expected = "a semantic version string such as '1.2.3' or '2.0.0-rc.1'"
    elif op in ("$inGroup", "$notInGroup"):
        if not isinstance(operand, str) or not operand:
            expected = "a saved group name"
    else:
        note = " ($and/$or/$nor apply to whole conditions)" if op in _LOGICAL else ""
        out.append((path, op, "a known operator" + note + ": " + " ".join(_OPERATORS)))
        return
    if expected is not None:
        out.append((path, operand, expected))


@lru_cache(maxsize=1024)
def _regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE if ignore_case else 0)


# ---------------------------------------------------------------------------- values


def _equal(a: Any, b: Any) -> bool:
    """JSON equality without coercion: 1 == 1.0, but True != 1 and "1" != 1."""
    if isinstance(a, str):
        return isinstance(b, str) and a == b
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float):
        return _is_number(b) and a == b
    if a is None or b is None:
        return a is b
    if _is_array(a):
        return _is_array(b) and len(a) == len(b) and all(map(_equal, a, b))
    if isinstance(a, Mapping):
        return (
            isinstance(b, Mapping) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
        )
    return type(a) is type(b) and bool(a == b)


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


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if _is_array(value):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return "unknown"


def _membership(items: Iterable[Any], fold: bool) -> _Pred:
    """Whether a value equals one of `items` (strings lower-cased first when `fold`)."""
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
        return any(_equal(value, other) for other in others)

    return member


def _any_element(pred: _Pred) -> _Pred:
    """Mongo's array rule: the value matches, or (for an array) one of its elements does."""

    def test(value: Any) -> bool:
        if pred(value):
            return True
        return _is_array(value) and any(pred(e) for e in value)

    return test


def _all_of(preds: list[_Pred]) -> _Pred:
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        first, second = preds
        return lambda v: first(v) and second(v)
    return lambda v: all(p(v) for p in preds)


def _getter(path: str) -> Callable[[Mapping[str, Any]], Any]:
    """Read a dotted path; a missing step (or a non-object on the way) reads as None."""
    if "." not in path:
        return lambda attributes: attributes.get(path)
    parts = path.split(".")

    def get(attributes: Mapping[str, Any]) -> Any:
        current: Any = attributes
        for part in parts:
            if isinstance(current, Mapping):
                current = current.get(part)
            elif _is_array(current) and part.isdigit() and int(part) < len(current):
                current = current[int(part)]
            else:
                return None
        return current

    return get


# ---------------------------------------------------------------------------- compiling


class _Compiler:
    """Turns a validated condition into closures; holds the saved groups it binds."""

    def __init__(self, saved_groups: Mapping[str, Sequence[Any]]) -> None:
        self.saved_groups = saved_groups

    def condition(self, cond: Mapping[str, Any]) -> Matcher:
        parts: list[Matcher] = [self._entry(key, value) for key, value in cond.items()]
        if not parts:
            return lambda attributes: True
        if len(parts) == 1:
            return parts[0]
        return lambda attributes: all(p(attributes) for p in parts)

    def _entry(self, key: str, value: Any) -> Matcher:
        if key == "$not":
            inner = self.condition(value)
            return lambda attributes: not inner(attributes)
        if key in ("$and", "$or", "$nor"):
            subs = [self.condition(c) for c in value]
            if key == "$and":
                return lambda attributes: all(s(attributes) for s in subs)
            if not subs:  # GrowthBook: an empty $or is true, so an empty $nor is false
                return (lambda attributes: True) if key == "$or" else (lambda attributes: False)
            if key == "$or":
                return lambda attributes: any(s(attributes) for s in subs)
            return lambda attributes: not any(s(attributes) for s in subs)
        get = _getter(key)
        pred = self.value(value)
        return lambda attributes: pred(get(attributes))

    def value(self, cond: Any) -> _Pred:
        if not _is_operator_object(cond):
            return _any_element(lambda v: _equal(v, cond))
        return _all_of([self._operator(op, operand) for op, operand in cond.items()])

    def _operator(self, op: str, x: Any) -> _Pred:
        if op == "$eq":
            return _any_element(lambda v: _equal(v, x))
        if op == "$ne":
            eq = self._operator("$eq", x)
            return lambda v: not eq(v)
        if op in _ORDERING:
            return _any_element(_ordering(op, x))
        if op in ("$in", "$nin", "$ini", "$nini"):
            member = _membership(x, fold=op in ("$ini", "$nini"))
            found = _any_element(member)
            return found if op in ("$in", "$ini") else (lambda v: not found(v))
        if op in ("$all", "$alli"):
            fold = op == "$alli"
            tests = [self.value(i) if _is_operator_object(i) else _membership([i], fold) for i in x]
            return lambda v: _is_array(v) and all(any(t(e) for e in v) for t in tests)
        if op == "$exists":
            return (lambda v: v is not None) if x else (lambda v: v is None)
        if op == "$type":
            return lambda v: _type_name(v) == x
        if op in ("$regex", "$regexi"):
            search = _regex(x, op == "$regexi").search
            return _any_element(lambda v: isinstance(v, str) and search(v) is not None)
        if op == "$size":
            size = self.value(x)
            return lambda v: _is_array(v) and size(len(v))
        if op == "$elemMatch":
            if _is_operator_object(x):
                each = self.value(x)
            else:
                sub = self.condition(x)
                each = lambda e: isinstance(e, Mapping) and sub(e)  # noqa: E731
            return lambda v: _is_array(v) and any(each(e) for e in v)
        if op == "$not":
            inner = self.value(x)
            return lambda v: not inner(v)
        if op in _VERSIONS:
            return _any_element(_version(op, x))
        # $inGroup / $notInGroup (validated: nothing else is left)
        member = _any_element(_membership(self.saved_groups.get(x, ()), fold=False))
        return member if op == "$inGroup" else (lambda v: not member(v))


def _ordering(op: str, x: Any) -> _Pred:
    """`value OP x` when both are numbers or both are strings; any other pairing is False."""
    same: Callable[[Any], bool] = _is_number if _is_number(x) else (lambda v: isinstance(v, str))
    if op == "$gt":
        return lambda v: same(v) and v > x
    if op == "$gte":
        return lambda v: same(v) and v >= x
    if op == "$lt":
        return lambda v: same(v) and v < x
    return lambda v: same(v) and v <= x


def _version(op: str, x: str) -> _Pred:
    """Compare semantic versions; a value that is not a version string never matches."""
    want = parse_version(x)
    assert want is not None  # validated before compiling
    compare: Callable[[VersionKey, VersionKey], bool] = {
        "$veq": lambda a, b: a == b,
        "$vne": lambda a, b: a != b,
        "$vgt": lambda a, b: a > b,
        "$vgte": lambda a, b: a >= b,
        "$vlt": lambda a, b: a < b,
        "$vlte": lambda a, b: a <= b,
    }[op]

    def test(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        have = parse_version(value)
        return have is not None and compare(have, want)

    return test
