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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from splitlab.config.limits import (
    MAX_CONDITION_DEPTH,
    MAX_CONDITION_NODES,
    count_nodes,
    deepest_path,
)
from splitlab.config.predicates import (
    Pred,
    any_element,
    equal,
    getter,
    is_array,
    is_number,
    membership,
    ordering,
    type_name,
    version,
)
from splitlab.config.regex import regex_problem, regex_search
from splitlab.config.rules import compile_rules, validate_rules
from splitlab.config.versions import parse_version
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

_LOGICAL = ("$and", "$or", "$nor", "$not")
_ORDERING = ("$gt", "$gte", "$lt", "$lte")
_VERSIONS = ("$veq", "$vne", "$vgt", "$vgte", "$vlt", "$vlte")
_LISTS = ("$in", "$nin", "$ini", "$nini", "$all", "$alli")
_TYPES = ("string", "number", "boolean", "array", "object", "null")
_OPERATORS = (
    "$eq", "$ne", *_ORDERING, *_LISTS, "$exists", "$type", "$regex", "$regexi", "$size",
    "$elemMatch", "$not", *_VERSIONS, "$inGroup", "$notInGroup",
)  # fmt: skip
#: Keys GrowthBook gives a meaning at the condition level that splitlab does not support.
_UNSUPPORTED = ("$savedGroup", "$savedGroups")
_SIMPLE_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*\Z")


class ConditionError(SplitlabError, ValueError):
    """A malformed targeting condition; names the path, the bad value and what was expected."""

    code = "invalid_condition"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        self.path, self.value, self.expected = problems[0]
        rest = len(problems) - 1
        more = f" (and {rest} more problem{'s' if rest > 1 else ''})" if rest else ""
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
    too_big = _size_problem(condition, path)
    if too_big is not None:
        return [too_big]
    problems: list[Problem] = []
    _check_condition(condition, path, problems)
    return problems


def _size_problem(condition: Any, path: str) -> Problem | None:
    """A condition nested too deeply or too large, checked without recursion, or None."""
    deep = deepest_path(condition, MAX_CONDITION_DEPTH, path)
    if deep is not None:
        expected = f"a condition nested at most {MAX_CONDITION_DEPTH} arrays and objects deep"
        return (deep, f"more than {MAX_CONDITION_DEPTH} levels", expected)
    nodes = count_nodes(condition, MAX_CONDITION_NODES)
    if nodes > MAX_CONDITION_NODES:
        expected = f"a condition of at most {MAX_CONDITION_NODES} JSON values"
        return (path, f"more than {MAX_CONDITION_NODES} values", expected)
    return None


# ---------------------------------------------------------------------------- validation


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if _SIMPLE_KEY.match(key) else f"{path}[{json.dumps(key)}]"


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
            if not is_array(value):
                out.append((here, value, "a list of conditions"))
                continue
            for i, item in enumerate(value):
                _check_condition(item, f"{here}[{i}]", out)
        elif key == "$not":
            _check_condition(value, here, out)
        elif not isinstance(key, str) or not key:
            out.append((here, key, "an attribute path or one of $and, $or, $nor, $not"))
        elif key in _OPERATORS:
            expected = "an attribute path or one of $and, $or, $nor, $not (operators such as "
            out.append((here, key, expected + f"{key} belong under an attribute path)"))
        elif key in _UNSUPPORTED:
            expected = "an attribute path or one of $and, $or, $nor, $not (GrowthBook's "
            out.append((here, key, expected + f"{key} is not supported: use $inGroup)"))
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
        if not (is_number(operand) or isinstance(operand, str)):
            expected = "a number or a string"
    elif op in _LISTS:
        if not is_array(operand):
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
            expected = regex_problem(operand, op == "$regexi")
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


# ---------------------------------------------------------------------------- compiling


class _Compiler:
    """Turns a validated condition into closures; holds the saved groups it binds."""

    def __init__(self, saved_groups: Mapping[str, Sequence[Any]]) -> None:
        self.saved_groups = saved_groups

    def condition(self, cond: Mapping[str, Any]) -> Matcher:
        return _every([self._entry(key, value) for key, value in cond.items()])

    def _entry(self, key: str, value: Any) -> Matcher:
        if key == "$not":
            inner = self.condition(value)
            return lambda attributes: not inner(attributes)
        if key in ("$and", "$or", "$nor"):
            subs = [self.condition(c) for c in value]
            if key == "$and":
                return _every(subs)
            if not subs:  # GrowthBook: an empty $or is true, so an empty $nor is false
                return (lambda attributes: True) if key == "$or" else (lambda attributes: False)
            if key == "$or":
                return lambda attributes: any(s(attributes) for s in subs)
            return lambda attributes: not any(s(attributes) for s in subs)
        pred = self.value(value)
        if "." in key:
            get = getter(key)
            return lambda attributes: pred(get(attributes))
        return lambda attributes: pred(attributes.get(key))

    def value(self, cond: Any) -> Pred:
        if not _is_operator_object(cond):
            return self._operator("$eq", cond)
        preds = [self._operator(op, operand) for op, operand in cond.items()]
        if len(preds) == 1:
            return preds[0]
        if len(preds) == 2:
            first, second = preds
            return lambda v: first(v) and second(v)
        return lambda v: all(p(v) for p in preds)

    def _operator(self, op: str, x: Any) -> Pred:
        if op in ("$eq", "$ne"):
            if is_array(x) or isinstance(x, Mapping):
                eq = any_element(lambda v: equal(v, x))
            else:
                eq = membership([x])
            return eq if op == "$eq" else (lambda v: not eq(v))
        if op in _ORDERING:
            return ordering(op, x)
        if op in ("$in", "$nin", "$ini", "$nini"):
            found = membership(x, fold=op in ("$ini", "$nini"))
            return found if op in ("$in", "$ini") else (lambda v: not found(v))
        if op in ("$all", "$alli"):
            fold = op == "$alli"
            tests = [self.value(i) if _is_operator_object(i) else _element_eq(i, fold) for i in x]
            return lambda v: is_array(v) and all(any(t(e) for e in v) for t in tests)
        if op == "$exists":
            return (lambda v: v is not None) if x else (lambda v: v is None)
        if op == "$type":
            return lambda v: type_name(v) == x
        if op in ("$regex", "$regexi"):
            found = regex_search(x, op == "$regexi")
            return any_element(lambda v: isinstance(v, str) and found(v))
        if op == "$size":
            size = self.value(x)
            return lambda v: is_array(v) and size(len(v))
        if op == "$elemMatch":
            if _is_operator_object(x):
                each = self.value(x)
            else:
                sub = self.condition(x)
                each = lambda e: isinstance(e, Mapping) and sub(e)  # noqa: E731
            return lambda v: is_array(v) and any(each(e) for e in v)
        if op == "$not":
            inner = self.value(x)
            return lambda v: not inner(v)
        if op in _VERSIONS:
            return version(op, x)
        # $inGroup / $notInGroup (validated: nothing else is left)
        member = membership(self.saved_groups.get(x, ()))
        return member if op == "$inGroup" else (lambda v: not member(v))


def _element_eq(item: Any, fold: bool) -> Pred:
    """Equality of one array element with `item` (no recursion into nested arrays)."""
    if fold and isinstance(item, str):
        folded = item.lower()
        return lambda e: isinstance(e, str) and e.lower() == folded
    return lambda e: equal(e, item)


def _every(matchers: list[Matcher]) -> Matcher:
    if not matchers:
        return lambda attributes: True
    if len(matchers) == 1:
        return matchers[0]
    if len(matchers) == 2:
        first, second = matchers
        return lambda attributes: first(attributes) and second(attributes)

    def every(attributes: Mapping[str, Any]) -> bool:
        for matcher in matchers:  # noqa: SIM110 - a plain loop beats all() over a generator
            if not matcher(attributes):
                return False
        return True

    return every
