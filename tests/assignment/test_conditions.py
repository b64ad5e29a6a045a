"""Tests of the targeting condition language and the include / exclude rule lists.

Most expectations live in ``spec/condition-cases.json`` so that every SDK runs the same
cases; the rest are properties (hypothesis) and the wording of validation problems.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splitlab.config.conditions import (
    ConditionError,
    compile_condition,
    compile_rules,
    evaluate_condition,
    validate_condition,
    validate_rules,
)
from splitlab.config.versions import parse_version
from splitlab.errors import SplitlabError

ROOT = Path(__file__).resolve().parents[2]
SPEC = json.loads((ROOT / "spec" / "condition-cases.json").read_text(encoding="utf-8"))


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [case["name"] for case in cases]


# ------------------------------------------------------------------ shared spec cases


@pytest.mark.parametrize("case", SPEC["conditions"], ids=_ids(SPEC["conditions"]))
def test_spec_condition_case(case: dict[str, Any]) -> None:
    """Each language-neutral condition case evaluates to its expected boolean."""
    got = evaluate_condition(case["condition"], case["attributes"], case.get("savedGroups"))
    assert got is case["expected"]


@pytest.mark.parametrize("case", SPEC["invalidConditions"], ids=_ids(SPEC["invalidConditions"]))
def test_spec_invalid_condition_case(case: dict[str, Any]) -> None:
    """Each malformed condition is reported at exactly the listed JSON paths."""
    assert [path for path, _, _ in validate_condition(case["condition"])] == case["problemPaths"]


@pytest.mark.parametrize("case", SPEC["invalidConditions"], ids=_ids(SPEC["invalidConditions"]))
def test_spec_invalid_condition_raises_on_evaluate(case: dict[str, Any]) -> None:
    """Evaluating a malformed condition raises ConditionError instead of returning False."""
    with pytest.raises(ConditionError) as info:
        evaluate_condition(case["condition"], {})
    assert info.value.path == case["problemPaths"][0]


@pytest.mark.parametrize("case", SPEC["rules"], ids=_ids(SPEC["rules"]))
def test_spec_rule_case(case: dict[str, Any]) -> None:
    """Each include / exclude case targets the unit exactly when expected."""
    assert compile_rules(case["include"], case["exclude"])(case["attributes"]) is case["expected"]


@pytest.mark.parametrize("case", SPEC["invalidRules"], ids=_ids(SPEC["invalidRules"]))
def test_spec_invalid_rule_case(case: dict[str, Any]) -> None:
    """Each malformed rule list is reported at exactly the listed JSON paths."""
    problems = validate_rules(case["include"], case["exclude"])
    assert [path for path, _, _ in problems] == case["problemPaths"]


def test_spec_covers_every_operator() -> None:
    """Every operator of the language appears in at least one shared condition case."""
    text = json.dumps(SPEC["conditions"])
    operators = [
        *("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$type"),
        *("$regex", "$size", "$all", "$elemMatch", "$not", "$and", "$or", "$nor"),
        *("$veq", "$vne", "$vgt", "$vgte", "$vlt", "$vlte"),
        *("$ini", "$nini", "$alli", "$regexi", "$inGroup", "$notInGroup"),
    ]
    missing = [op for op in operators if f'"{op}"' not in text]
    assert not missing
    assert len(SPEC["conditions"]) >= 120


# ------------------------------------------------------------------ validation messages


def test_validate_condition_reports_path_value_and_expected() -> None:
    """A problem names the full JSON path under the given prefix, the bad value and the need."""
    problems = validate_condition({"age": {"$in": 5}}, "$.targeting.condition")
    assert problems == [("$.targeting.condition.age.$in", 5, "a list")]


def test_validate_condition_lists_known_operators_for_unknown_one() -> None:
    """An unknown operator is reported by name, with the operators that do exist."""
    [(path, value, expected)] = validate_condition({"age": {"$foo": 1}})
    assert (path, value) == ("$.age.$foo", "$foo")
    assert "a known operator" in expected and "$elemMatch" in expected


def test_validate_condition_explains_logical_operator_misplaced() -> None:
    """Using $or inside a field's operators says that $and/$or/$nor apply to whole conditions."""
    [(_, _, expected)] = validate_condition({"age": {"$or": []}})
    assert "apply to whole conditions" in expected


def test_validate_condition_includes_regex_error() -> None:
    """An invalid regular expression carries the regex engine's own explanation."""
    [(path, value, expected)] = validate_condition({"e": {"$regex": "a("}})
    assert (path, value) == ("$.e.$regex", "a(")
    assert expected.startswith("a valid regular expression (")


def test_validate_condition_reports_every_problem() -> None:
    """All problems are listed, not only the first one."""
    condition = {"a": {"$in": 1, "$gt": []}, "$or": "x", "b": {"$vgt": "nope"}}
    paths = [path for path, _, _ in validate_condition(condition)]
    assert paths == ["$.a.$in", "$.a.$gt", "$.$or", "$.b.$vgt"]


def test_validate_condition_accepts_valid_condition() -> None:
    """A well-formed condition has no problems."""
    condition = {
        "$or": [{"user.country": {"$in": ["US"]}}, {"age": {"$gte": 18, "$lt": 65}}],
        "v": {"$vgte": "1.0.0-rc.1"},
        "tags": {"$elemMatch": {"$regexi": "^vip"}},
    }
    assert validate_condition(condition) == []


def test_condition_error_is_a_value_error_with_readable_message() -> None:
    """ConditionError is both a ValueError and a SplitlabError and reads path/expected/got."""
    with pytest.raises(ConditionError) as info:
        compile_condition({"age": {"$in": "US"}, "b": {"$foo": 1}})
    error = info.value
    assert isinstance(error, ValueError) and isinstance(error, SplitlabError)
    assert str(error) == '$.age.$in: expected a list (got "US") (and 1 more problem)'
    assert error.details()[0] == {"path": "$.age.$in", "value": "US", "expected": "a list"}
    assert len(error.problems) == 2


def test_validate_rules_message() -> None:
    """A rule without a colon is reported with its index and the expected form."""
    [(path, value, expected)] = validate_rules(["region"], [])
    assert (path, value) == ("$.targeting.include[0]", "region")
    assert "'attribute:value'" in expected


def test_compile_rules_raises_condition_error() -> None:
    """compile_rules refuses a malformed entry with ConditionError."""
    with pytest.raises(ConditionError, match=r"\$\.targeting\.exclude\[0\]"):
        compile_rules([], ["bot"])


def test_no_broad_exception_handlers_in_targeting() -> None:
    """The targeting modules never swallow errors with a broad except clause."""
    for layer in ("config", "assignment"):
        for path in (ROOT / "src" / "splitlab" / layer).glob("*.py"):
            source = path.read_text(encoding="utf-8")
            assert not re.search(r"except\s*(Exception|BaseException)?\s*:", source), path


# ------------------------------------------------------------------ compiled behaviour


def test_compiled_condition_is_reusable() -> None:
    """A compiled condition gives the same answers across many calls."""
    matcher = compile_condition({"country": {"$in": ["US", "CA"]}, "age": {"$gte": 18}})
    assert [matcher({"country": c, "age": 20}) for c in ("US", "MX", "CA")] == [True, False, True]


def test_saved_groups_are_bound_at_compile_time() -> None:
    """Groups given to compile_condition are used by $inGroup on every call."""
    matcher = compile_condition({"id": {"$inGroup": "qa"}}, {"qa": ["u1"]})
    assert matcher({"id": "u1"}) and not matcher({"id": "u2"})


def test_condition_is_not_mutated() -> None:
    """Compiling and evaluating leave the condition untouched."""
    condition = {"$and": [{"a": {"$in": [1, 2]}}, {"b": {"$regex": "x"}}]}
    before = json.dumps(condition)
    evaluate_condition(condition, {"a": 1, "b": "x"})
    assert json.dumps(condition) == before


def test_tuple_attribute_counts_as_array() -> None:
    """A Python tuple attribute behaves like a JSON array."""
    assert evaluate_condition({"tags": {"$all": ["a", "b"]}}, {"tags": ("b", "a")})


# ------------------------------------------------------------------ semantic versions


def test_parse_version_rejects_non_versions() -> None:
    """Strings that are not semantic versions parse to None."""
    for text in ("", "1.", "a.b.c", "1.2.3.4", "01.2.3", "1.2.3-01", "1.2.3-", "1.2.3\n"):
        assert parse_version(text) is None, text


def test_semver_spec_precedence_chain() -> None:
    """The precedence example of semver 2.0.0 section 11 sorts in its stated order."""
    chain = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "2.0.0",
        "2.1.0",
        "2.1.1",
    ]
    for lower, higher in itertools.pairwise(chain):
        assert evaluate_condition({"v": {"$vlt": higher}}, {"v": lower})
        assert evaluate_condition({"v": {"$vgt": lower}}, {"v": higher})


# ------------------------------------------------------------------ properties

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-5, 5, allow_nan=False),
    st.sampled_from(["a", "A", "b", "ab", "", "1"]),
)
values = st.one_of(scalars, st.lists(scalars, max_size=4))
operands = st.one_of(st.integers(-5, 5), st.sampled_from(["a", "b", "A"]))
value_conditions = st.one_of(
    scalars,
    st.builds(
        lambda op, x: {op: x}, st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt"]), operands
    ),
    st.builds(
        lambda op, xs: {op: xs},
        st.sampled_from(["$in", "$nin", "$ini", "$all"]),
        st.lists(scalars, max_size=3),
    ),
    st.builds(lambda b: {"$exists": b}, st.booleans()),
    st.builds(lambda p: {"$regex": p}, st.sampled_from(["^a", "b$", "."])),
    st.builds(lambda n: {"$size": n}, st.integers(0, 3)),
)
conditions = st.dictionaries(st.sampled_from(["a", "b", "c.d"]), value_conditions, max_size=2)
attributes = st.fixed_dictionaries(
    {}, optional={"a": values, "b": values, "c": st.dictionaries(st.just("d"), values)}
)
versions = st.builds(
    lambda major, minor, patch, pre: f"{major}.{minor}.{patch}" + (f"-{pre}" if pre else ""),
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 12),
    st.one_of(st.none(), st.sampled_from(["alpha", "alpha.1", "beta.2", "beta.11", "rc.1", "0"])),
)


@given(value_conditions, values)
def test_not_inverts(condition: Any, value: Any) -> None:
    """$not is exactly the negation of the condition it wraps."""
    plain = evaluate_condition({"a": condition}, {"a": value})
    assert evaluate_condition({"a": {"$not": condition}}, {"a": value}) is not plain


@given(st.lists(conditions, max_size=3), attributes)
def test_nor_is_not_or(parts: list[dict[str, Any]], attrs: dict[str, Any]) -> None:
    """$nor equals the negation of $or over the same conditions."""
    either = evaluate_condition({"$or": parts}, attrs)
    assert evaluate_condition({"$nor": parts}, attrs) is not either


@given(st.lists(conditions, max_size=3), attributes)
def test_and_is_all(parts: list[dict[str, Any]], attrs: dict[str, Any]) -> None:
    """$and holds exactly when every listed condition holds."""
    expected = all(evaluate_condition(p, attrs) for p in parts)
    assert evaluate_condition({"$and": parts}, attrs) is expected


@given(st.lists(scalars, max_size=4), values)
def test_in_is_any_eq(items: list[Any], value: Any) -> None:
    """$in holds exactly when $eq holds for some item, and $nin is its negation."""
    expected = any(evaluate_condition({"a": {"$eq": x}}, {"a": value}) for x in items)
    assert evaluate_condition({"a": {"$in": items}}, {"a": value}) is expected
    assert evaluate_condition({"a": {"$nin": items}}, {"a": value}) is not expected


@given(scalars, values)
def test_ne_is_not_eq(operand: Any, value: Any) -> None:
    """$ne is the negation of $eq, also for missing values and type mismatches."""
    eq = evaluate_condition({"a": {"$eq": operand}}, {"a": value})
    assert evaluate_condition({"a": {"$ne": operand}}, {"a": value}) is not eq


@given(st.lists(st.text(max_size=3), max_size=3), st.text(max_size=3))
def test_ini_is_in_after_lowercasing(items: list[str], value: str) -> None:
    """$ini on strings equals $in with both sides lower-cased."""
    lowered = evaluate_condition({"a": {"$in": [i.lower() for i in items]}}, {"a": value.lower()})
    assert evaluate_condition({"a": {"$ini": items}}, {"a": value}) is lowered


@given(st.integers(-5, 5), values)
def test_gte_is_gt_or_eq(operand: int, value: Any) -> None:
    """For a scalar attribute, $gte holds exactly when $gt or $eq holds."""
    if isinstance(value, list):
        value = value[0] if value else None
    gt = evaluate_condition({"a": {"$gt": operand}}, {"a": value})
    eq = evaluate_condition({"a": {"$eq": operand}}, {"a": value})
    assert evaluate_condition({"a": {"$gte": operand}}, {"a": value}) is (gt or eq)


@given(versions, versions)
def test_version_comparisons_are_a_total_order(left: str, right: str) -> None:
    """Exactly one of $vlt, $veq, $vgt holds, and $vne is the negation of $veq."""
    outcomes = [
        evaluate_condition({"v": {op: right}}, {"v": left}) for op in ("$vlt", "$veq", "$vgt")
    ]
    assert outcomes.count(True) == 1
    assert evaluate_condition({"v": {"$vne": right}}, {"v": left}) is not outcomes[1]


@given(versions)
def test_pre_release_is_below_release(version: str) -> None:
    """Any pre-release sorts below the release of the same major.minor.patch."""
    release = version.split("-")[0]
    below = evaluate_condition({"v": {"$vlt": release}}, {"v": version})
    assert below is ("-" in version)


@given(conditions, attributes)
def test_compile_matches_evaluate(condition: dict[str, Any], attrs: dict[str, Any]) -> None:
    """The compiled predicate agrees with evaluate_condition."""
    assert compile_condition(condition)(attrs) is evaluate_condition(condition, attrs)


@given(attributes)
def test_spec_conditions_never_raise_on_any_attributes(attrs: dict[str, Any]) -> None:
    """Valid conditions return a bool for arbitrary attributes instead of raising."""
    for case in SPEC["conditions"]:
        assert evaluate_condition(case["condition"], attrs, case.get("savedGroups")) in (
            True,
            False,
        )


@given(
    st.lists(st.sampled_from(["a:1", "a:2", "b:true", "c.d:x"]), max_size=3),
    st.lists(st.sampled_from(["a:1", "b:true", "e:false"]), max_size=2),
    attributes,
)
def test_adding_an_exclude_never_adds_units(
    include: list[str], exclude: list[str], attrs: dict[str, Any]
) -> None:
    """A unit targeted with extra exclude entries is also targeted without them."""
    if compile_rules(include, exclude)(attrs):
        assert compile_rules(include, [])(attrs)


# ------------------------------------------------------------------ peers and subclasses


class _Text(str):
    """A str subclass, like a StrEnum member, that skips the exact-class fast paths."""


@given(value_conditions, st.text(alphabet="aAb1", max_size=3))
def test_str_subclass_behaves_like_str(condition: Any, text: str) -> None:
    """A str subclass attribute (a StrEnum, say) gives the same answer as the plain string."""
    plain = evaluate_condition({"a": condition}, {"a": text})
    assert evaluate_condition({"a": condition}, {"a": _Text(text)}) is plain


@given(value_conditions, st.one_of(st.integers(-5, 5), st.floats(-5, 5, allow_nan=False)))
def test_number_inside_array_behaves_like_number(condition: Any, number: float) -> None:
    """Element-wise operators give a one-element array the answer of its element."""
    whole_array_ops = {"$ne", "$nin", "$size", "$all", "$exists"}  # these see the array itself
    if isinstance(condition, list) or (
        isinstance(condition, dict) and set(condition) & whole_array_ops
    ):
        return
    plain = evaluate_condition({"a": condition}, {"a": number})
    assert evaluate_condition({"a": condition}, {"a": [number]}) is plain


json_keys = st.sampled_from(
    [
        *("a", "b.c", "$eq", "$in", "$gt", "$not", "$and", "$or", "$size", "$elemMatch"),
        *("$all", "$regex", "$vgt", "$type", "$exists", "$inGroup", "$foo", ""),
    ]
)
json_values = st.recursive(
    st.one_of(scalars, st.sampled_from(["^a", "(", "1.2.3", "string", "g"])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(json_keys, inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=300)
@given(st.dictionaries(json_keys, json_values, max_size=3), attributes)
def test_valid_means_evaluable(condition: dict[str, Any], attrs: dict[str, Any]) -> None:
    """Any JSON either has validation problems or evaluates to a bool without raising."""
    problems = validate_condition(condition)
    if problems:
        with pytest.raises(ConditionError):
            compile_condition(condition)
    else:
        assert compile_condition(condition, {"g": ["a", 1]})(attrs) in (True, False)
