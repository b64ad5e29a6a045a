"""Hostile and sloppy definitions: bounded nesting and sizes, strict JSON types, clear errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from splitlab.config import ConfigError, parse_experiment, parse_json
from splitlab.config.limits import MAX_CONDITION_DEPTH, MAX_DOCUMENT_DEPTH
from tests.conftest import ARTICLE_EXAMPLE


def article() -> dict[str, Any]:
    """The article's definition, parsed afresh."""
    data: dict[str, Any] = json.loads(ARTICLE_EXAMPLE.read_text(encoding="utf-8"))
    return data


def nested_and(levels: int) -> dict[str, Any]:
    """A condition of `levels` nested $and around one equality."""
    condition: dict[str, Any] = {"country": "US"}
    for _ in range(levels):
        condition = {"$and": [condition]}
    return condition


def problems_of(raw: Any) -> list[tuple[str, Any, str]]:
    """(path, value, expected) of every problem parse_experiment reports for `raw`."""
    with pytest.raises(ConfigError) as info:
        parse_experiment(raw)
    return [(p.path, p.value, p.expected) for p in info.value.problems]


# ------------------------------------------------------------------ nesting


def test_five_thousand_nested_and_is_one_problem_with_a_path() -> None:
    """5,000 nested $and are refused with the path where nesting passes the limit, not a crash."""
    raw = article()
    raw["targeting"] = {"condition": nested_and(5000)}
    [(path, _, expected)] = problems_of(raw)
    assert path.startswith("$.targeting.condition.$and[0].$and[0]")
    assert f"at most {MAX_DOCUMENT_DEPTH}" in expected


def test_a_condition_nested_past_its_own_limit_names_the_path() -> None:
    """A condition 33 levels deep (inside a shallow definition) is refused at its deepest path."""
    raw = article()
    raw["targeting"] = {"condition": nested_and(16)}
    [(path, _, expected)] = problems_of(raw)
    assert path == "$.targeting.condition" + ".$and[0]" * 16
    assert f"at most {MAX_CONDITION_DEPTH} arrays and objects deep" in expected


def test_a_deep_plain_value_in_a_condition_is_refused() -> None:
    """Nesting counts plain values too: a 40-deep list under an attribute is refused."""
    value: Any = 1
    for _ in range(40):
        value = [value]
    raw = article()
    raw["targeting"] = {"condition": {"tags": value}}
    [(path, _, _)] = problems_of(raw)
    assert path.startswith("$.targeting.condition.tags[0][0]")


def test_a_condition_with_too_many_values_is_refused() -> None:
    """A condition of more than 10,000 JSON values is refused at the condition's path."""
    raw = article()
    raw["targeting"] = {"condition": {"id": {"$in": list(range(10_001))}}}
    [(path, _, expected)] = problems_of(raw)
    assert path == "$.targeting.condition"
    assert "at most 10000 JSON values" in expected


def test_deep_json_text_is_refused_with_line_and_column() -> None:
    """Text nested deeper than the limit is refused before parsing, at its line and column."""
    text = '{\n  "a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(ConfigError) as info:
        parse_json(text, "deep.json")
    [problem] = info.value.problems
    assert (problem.line, problem.column) == (2, 8 + MAX_DOCUMENT_DEPTH - 1)
    assert "line 2, column" in str(info.value) and "deep.json" in str(info.value)


def test_the_depth_scan_skips_brackets_inside_strings() -> None:
    """Brackets inside strings (escaped quotes included) do not count as nesting."""
    text = json.dumps({"description": '"\\' + "[" * 500, "x": [[1]]})
    assert parse_json(text)["x"] == [[1]]


# ------------------------------------------------------------------ strict JSON types


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("trafficAllocation", "0.5"),
        ("trafficAllocation", True),
        ("evaluation.alpha", "0.05"),
        ("evaluation.alpha", False),
        ("evaluation.maxPeeks", 5.0),
        ("evaluation.maxPeeks", "5"),
        ("evaluation.allowExtraLooks", 1),
        ("evaluation.allowExtraLooks", "true"),
        ("rollback.enabled", "yes"),
        ("metrics.primary.cuped", 0),
        ("variants", ("control", "treatment")),
    ],
)
def test_values_of_the_wrong_json_type_are_refused(path: str, value: Any) -> None:
    """A string, boolean or float where JSON wants another type is refused, never coerced."""
    raw = article()
    *parents, key = path.split(".")
    target = raw
    for part in parents:
        target = target.setdefault(part, {})
    target[key] = value
    found = {p: v for p, v, _ in problems_of(raw)}
    assert f"$.{path}" in found
    assert found[f"$.{path}"] == value or isinstance(value, tuple)


def test_an_integer_is_a_number() -> None:
    """An integer where a fraction is expected is fine: trafficAllocation 1, threshold 0."""
    raw = article()
    raw["trafficAllocation"] = 1
    raw["evaluation"]["cupedLookbackDays"] = 7
    raw["metrics"]["guardrails"] = [{"name": "error_rate", "threshold": 0}]
    experiment = parse_experiment(raw)
    assert experiment.traffic_allocation == 1.0
    assert experiment.metrics.guardrails[0].threshold == 0.0


# ------------------------------------------------------------------ sizes


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        ("$.variants", [f"v{i}" for i in range(51)], "at most 50 items"),
        ("$.metrics.secondary", [{"name": f"m{i}"} for i in range(51)], "at most 50 items"),
        ("$.segments", [f"s{i}" for i in range(51)], "at most 50 items"),
        ("$.name", "n" * 10_001, "at most 10000 characters"),
        ("$.description", "d" * 10_001, "at most 10000 characters"),
        ("$.assignment.salt", "s" * 201, "at most 200 characters"),
        ("$.targeting.include", [f"a:{i}" for i in range(1001)], "at most 1000 items"),
        ("$.targeting.exclude[0]", "a:" + "x" * 1000, "at most 1000 characters"),
        ("$.assignment.forced.control", [f"u{i}" for i in range(1001)], "at most 1000 items"),
    ],
)
def test_sizes_beyond_the_limits_are_refused(path: str, value: Any, fragment: str) -> None:
    """Each documented size limit is enforced, naming the path and the limit."""
    raw = article()
    raw["variants"] = ["control", "treatment"]
    raw.pop("control", None)
    raw["targeting"] = {}
    raw["assignment"]["forced"] = {}
    if path.startswith("$.targeting.exclude"):
        raw["targeting"]["exclude"] = [value]
    elif path.startswith("$.assignment.forced"):
        raw["assignment"]["forced"]["control"] = value
    elif path.startswith("$.metrics"):
        raw["metrics"]["secondary"] = value
    elif path.startswith("$.assignment"):
        raw["assignment"]["salt"] = value
    elif path.startswith("$.targeting"):
        raw["targeting"]["include"] = value
    else:
        raw[path[2:]] = value
    found = {p: e for p, _, e in problems_of(raw)}
    assert path in found, found
    assert fragment in found[path]


# ------------------------------------------------------------------ messages


def test_a_misspelt_key_gets_did_you_mean() -> None:
    """An unknown key close to a known one names it, at the top level and nested."""
    raw = article()
    raw["trafficAlocation"] = raw.pop("trafficAllocation", 1.0)
    raw["evaluation"]["alhpa"] = raw["evaluation"].pop("alpha", 0.05)
    found = {p: e for p, _, e in problems_of(raw)}
    assert "did you mean 'trafficAllocation'?" in found["$.trafficAlocation"]
    assert "did you mean 'alpha'?" in found["$.evaluation.alhpa"]


def test_an_unknown_key_far_from_any_has_no_guess() -> None:
    """A key like nothing known gets the list of known keys and no guess."""
    raw = article()
    raw["zzzzzz"] = 1
    found = {p: e for p, _, e in problems_of(raw)}
    assert "did you mean" not in found["$.zzzzzz"]
    assert "known keys here: experimentId" in found["$.zzzzzz"]


def test_the_problem_count_is_singular_or_plural() -> None:
    """The message says "1 problem" and "2 problems", never "problem(s)"."""
    raw = article()
    raw["trafficAllocation"] = 2
    with pytest.raises(ConfigError) as one:
        parse_experiment(raw)
    raw["evaluation"]["alpha"] = 2
    with pytest.raises(ConfigError) as two:
        parse_experiment(raw)
    assert ": 1 problem\n" in str(one.value) and ": 2 problems\n" in str(two.value)
    assert "(s)" not in str(one.value) + str(two.value)


@pytest.mark.parametrize(
    ("text", "where", "expected", "found"),
    [
        ('{\n  "a": [1, 2', (2, 13), "',' or a closing bracket", "cut short"),
        ('{"a": 1,', (1, 9), "a key in double quotes", "cut short"),
        ('{"a" 1}', (1, 6), "':' after the key", "1}"),
        ('{"a": tru}', (1, 7), "a JSON value", "tru}"),
        ('{"a": 1} x', (1, 10), "the end of the text", "x"),
    ],
)
def test_json_syntax_errors_say_line_column_and_what_was_expected(
    text: str, where: tuple[int, int], expected: str, found: str
) -> None:
    """A syntax error names its line and column, what was expected and what was found."""
    with pytest.raises(ConfigError) as info:
        parse_json(text, "broken.json")
    [problem] = info.value.problems
    assert (problem.line, problem.column) == where
    assert expected in problem.expected and found in str(problem.value)
    assert str(problem).startswith(f"line {where[0]}, column {where[1]}: expected valid JSON")
    assert problem.to_dict()["line"] == where[0]
