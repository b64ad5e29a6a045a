"""splitlab's condition language against GrowthBook's own evaluator (a dev dependency).

Every case of ``spec/condition-cases.json`` and of ``growthbook-corpus.json`` (beside this
file) runs through both; every disagreement must be one that ``docs/targeting.md`` lists
under "Differences from GrowthBook", and no case may be listed as differing when it agrees.
A case where splitlab raises ``ConditionError`` counts as a disagreement too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import growthbook.core as growthbook_core  # the peer we compare with

from splitlab.config.conditions import ConditionError, evaluate_condition

ROOT = Path(__file__).resolve().parents[2]
SPEC = json.loads((ROOT / "spec" / "condition-cases.json").read_text(encoding="utf-8"))
CORPUS = json.loads((Path(__file__).parent / "growthbook-corpus.json").read_text("utf-8"))
DOC = (ROOT / "docs" / "targeting.md").read_text(encoding="utf-8")

ARRAYS = "Arrays, element-wise"
OBJECTS = "Deep equality of objects"
VERSIONS = "Versions"
REGEX = "Regular expressions"
RAISES = "Malformed conditions raise"

#: Spec cases where splitlab deliberately differs, with the docs bullet that says why.
SPEC_DIFFERS = {
    "implicit equality on an array attribute matches any element": ARRAYS,
    "implicit object equality is deep": OBJECTS,
    "$eq with an object operand is literal": OBJECTS,
    "$eq on an array attribute matches an element": ARRAYS,
    "$ne on an array attribute containing the value": ARRAYS,
    "$gte on an array attribute matches any element": ARRAYS,
    "$in array attribute equal to a list item": OBJECTS,
    "$in object item by deep equality": OBJECTS,
    "$regex on an array attribute matches any element": ARRAYS,
    "dotted path ending in an array applies the element rule": ARRAYS,
    "$veq missing patch counts as zero": VERSIONS,
    "$vne on a non-version is false": VERSIONS,
    "$vgt on a non-version string is false": VERSIONS,
    "$vgte on an array attribute matches any element": ARRAYS,
    "$regex: $ matches only at the very end, not before a final newline": REGEX,
    "$regex: \\d is ASCII digits only": REGEX,
    "$regex: \\w is ASCII word characters only": REGEX,
}


def documented_differences() -> set[str]:
    """The bold labels of the bullets under "Differences from GrowthBook" in the docs."""
    section = DOC.split("## Differences from GrowthBook", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\* \*\*(.+?)\*\*", section, flags=re.MULTILINE))


def ours(case: dict[str, Any]) -> bool | str:
    """splitlab's answer, or "raises" when it refuses the condition."""
    try:
        attributes = case.get("attributes", {})
        return evaluate_condition(case["condition"], attributes, case.get("savedGroups"))
    except ConditionError:
        return "raises"


def theirs(case: dict[str, Any]) -> bool:
    """GrowthBook's answer."""
    groups = case.get("savedGroups") or {}
    attributes = case.get("attributes", {})
    return growthbook_core.evalCondition(attributes, case["condition"], groups) is True


def labelled_cases() -> list[tuple[dict[str, Any], str | None]]:
    """Every case of both files with the difference it is documented under (None: agrees)."""
    cases: list[tuple[dict[str, Any], str | None]] = []
    cases += [(c, SPEC_DIFFERS.get(c["name"])) for c in SPEC["conditions"]]
    cases += [(c, RAISES) for c in SPEC["invalidConditions"]]
    cases += [(c, c.get("differs")) for c in CORPUS["cases"]]
    return cases


def test_every_disagreement_with_growthbook_is_documented() -> None:
    """Each case where the two evaluators disagree is labelled with a documented difference."""
    undocumented = [
        (case["name"], ours(case), theirs(case))
        for case, label in labelled_cases()
        if label is None and ours(case) != theirs(case)
    ]
    assert undocumented == []


def test_every_documented_difference_is_real() -> None:
    """A case labelled as differing really disagrees, so the list does not go stale."""
    stale = [
        case["name"] for case, label in labelled_cases() if label and ours(case) == theirs(case)
    ]
    assert stale == []


def test_labels_are_the_bullets_of_the_docs() -> None:
    """Every label used names a bullet of "Differences from GrowthBook", and each is used."""
    used = {label for _, label in labelled_cases() if label}
    assert used == documented_differences()


def test_raising_cases_raise() -> None:
    """The cases labelled "malformed" are exactly those splitlab refuses with ConditionError."""
    for case, label in labelled_cases():
        assert (ours(case) == "raises") is (label == RAISES), case["name"]


def test_attribute_names_beginning_with_dollar_agree() -> None:
    """GrowthBook reads a top-level `$groups` as an attribute name; so does splitlab."""
    condition = {"$groups": {"$elemMatch": {"$eq": "beta"}}, "$or": [{"$plan": "pro"}]}
    attributes = {"$groups": ["alpha", "beta"], "$plan": "pro"}
    assert evaluate_condition(condition, attributes) is True
    assert growthbook_core.evalCondition(attributes, condition, {}) is True
