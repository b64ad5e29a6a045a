"""The sufficient-statistics value objects and their JSON form (docs/architecture.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from splitlab.stats import ArmSums, CrossSums, ExperimentSums, SumsError

DATA = Path(__file__).parent / "data" / "checkout-sums.json"

DOC_EXAMPLE = {
    "experimentId": "exp-1",
    "look": 2,
    "units": {"control": 10000, "variant-a": 10050},
    "metrics": {
        "checkout_completion_rate": {
            "control": {"n": 10000, "sum": 1000, "sumSq": 1000},
            "variant-a": {
                "n": 10050,
                "sum": 1105,
                "sumSq": 1105,
                "covariate": {"sum": 0, "sumSq": 0, "sumProduct": 0},
                "denominator": {"sum": 0, "sumSq": 0, "sumProduct": 0},
            },
        }
    },
}


def test_design_example_round_trips() -> None:
    """The documented sums JSON example reads and writes back unchanged."""
    sums = ExperimentSums.from_dict(DOC_EXAMPLE)
    assert sums.look == 2 and sums.units["variant-a"] == 10050
    arm = sums.metrics["checkout_completion_rate"]["variant-a"]
    assert arm.covariate == CrossSums(0, 0, 0)
    assert json.loads(json.dumps(sums.to_dict())) == json.loads(json.dumps(DOC_EXAMPLE))


def test_segments_are_slices() -> None:
    """A segment's sums are analysed as sums of their own."""
    data = dict(DOC_EXAMPLE)
    data["segments"] = {"country=US": {"units": {"control": 10}, "metrics": {}}}
    sums = ExperimentSums.from_dict(data)
    us = sums.segment("country=US")
    assert us.units == {"control": 10} and us.experiment_id == "exp-1"
    with pytest.raises(SumsError, match="no segment 'country=FR'"):
        sums.segment("country=FR")


@pytest.mark.parametrize(
    "patch,fragment",
    [
        ({"look": 0}, "$.look"),
        ({"units": {"control": -1}}, "$.units.control"),
        (
            {"metrics": {"m": {"control": {"n": 1, "sum": "x", "sumSq": 1}}}},
            "$.metrics.m.control.sum",
        ),
        ({"metrics": {"m": {"control": {"n": 1, "sum": float("nan"), "sumSq": 1}}}}, "finite"),
        ({"metrics": []}, "$.metrics"),
    ],
)
def test_malformed_sums_name_the_path(patch: dict, fragment: str) -> None:
    """Every refusal names the JSON path and what was expected."""
    with pytest.raises(SumsError, match=fragment.replace("$", r"\$")):
        ExperimentSums.from_dict({**DOC_EXAMPLE, **patch})


def test_adding_needs_matching_covariates() -> None:
    """Sums with a covariate cannot silently merge with sums without one."""
    with pytest.raises(SumsError):
        ArmSums(1, 1, 1, CrossSums(1, 1, 1)) + ArmSums(1, 1, 1)


def test_adding_experiments_merges_metrics_and_units() -> None:
    """Two shards add up arm by arm."""
    a = ExperimentSums.from_dict(json.loads(DATA.read_text()))
    both = a + a
    assert both.units["control"] == 2 * a.units["control"]
    arm = both.metrics["error_rate"]["variant-b"]
    assert (arm.n, arm.sum) == (2 * 16010, 2 * 171)


def test_integral_counts_are_json_integers() -> None:
    """Counts (units, n) that are whole numbers are written as JSON integers, not 10000.0."""
    sums = ExperimentSums.from_dict(DOC_EXAMPLE)
    text = json.dumps(sums.to_dict())
    assert '"control": 10000,' in text and "10000.0" not in text
    data = sums.to_dict()
    assert type(data["units"]["control"]) is int
    assert type(data["metrics"]["checkout_completion_rate"]["variant-a"]["n"]) is int
    merged = (sums + sums).to_dict()
    assert merged["units"] == {"control": 20000, "variant-a": 20100}
    assert type(merged["units"]["control"]) is int


BROKEN = {
    "experimentId": "exp-1",
    "look": 0,
    "units": {"control": -1, "variant-a": "many"},
    "metrics": {
        "m": {
            "control": {"n": 1, "sum": "x", "sumSq": float("inf")},
            "variant-a": {"sum": 1, "sumSq": 1, "covariate": {"sum": 0, "sumSq": 0}},
        },
        "r": [],
    },
}


def test_every_problem_of_a_sums_document_is_listed() -> None:
    """A malformed sums document is refused with every problem, each with its JSON path."""
    with pytest.raises(SumsError) as info:
        ExperimentSums.from_dict(BROKEN)
    paths = [p["path"] for p in info.value.details()]
    assert paths == [
        "$.units.control",
        "$.units.variant-a",
        "$.metrics.m.control.sum",
        "$.metrics.m.control.sumSq",
        "$.metrics.m.variant-a.n",
        "$.metrics.m.variant-a.covariate.sumProduct",
        "$.metrics.r",
        "$.look",
    ]
    assert all(set(p) == {"path", "value", "expected"} for p in info.value.details())
    assert info.value.details()[1]["value"] == "many"
    assert info.value.details()[3]["value"] == "Infinity"
    text = str(info.value)
    assert "8 problems" in text and all(path in text for path in paths)
