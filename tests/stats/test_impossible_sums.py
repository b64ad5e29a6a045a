"""Sums that no data could produce are refused with the JSON path, the value and the rule."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from splitlab.cli.main import cli
from splitlab.config import load_experiment
from splitlab.stats import ArmSums, ExperimentSums, SumsError, analyze
from splitlab.stats.possible import impossible
from tests.conftest import ARTICLE_EXAMPLE

#: Three units per variant; the article's primary metric is a conversion, and the control
#: claims 5 conversions out of 3 units.
FIVE_OF_THREE = {
    "experimentId": "exp-checkout-flow-v3",
    "look": 1,
    "units": {"control": 3, "variant-a": 3, "variant-b": 3},
    "metrics": {
        "checkout_completion_rate": {
            "control": {"n": 3, "sum": 5, "sumSq": 5},
            "variant-a": {"n": 3, "sum": 1, "sumSq": 1},
            "variant-b": {"n": 3, "sum": 2, "sumSq": 2},
        }
    },
}

#: A well-formed, possible document to break one number at a time.
GOOD = {
    "experimentId": "exp-1",
    "units": {"control": 100, "treatment": 100},
    "metrics": {
        "m": {
            "control": {
                "n": 100,
                "sum": 50,
                "sumSq": 400,
                "covariate": {
                    "sum": 40,
                    "sumSq": 300,
                    "sumProduct": 100,
                    "sumProductDenominator": 100,
                },
                "denominator": {"sum": 200, "sumSq": 600, "sumProduct": 150},
            },
            "treatment": {"n": 100, "sum": 60, "sumSq": 500},
        }
    },
}


def _with(path: str, value: Any) -> dict[str, Any]:
    """GOOD with the field at dotted `path` (below ``$``) set to `value`."""
    doc = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    node: Any = doc
    for key in parents:
        node = node[key]
    node[last] = value
    return doc


def test_the_good_document_is_possible() -> None:
    """The base document of the cases below is accepted."""
    assert ExperimentSums.from_dict(GOOD).units["control"] == 100


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("metrics.m.control.sumSq", 20, "sumSq >= sum^2/n = 25"),
        ("metrics.m.control.sumSq", -1, "negative variance"),
        ("metrics.m.control.covariate.sumSq", 15, "sumSq >= sum^2/n = 16"),
        ("metrics.m.control.denominator.sumSq", 399, "sumSq >= sum^2/n = 400"),
        ("metrics.m.control.covariate.sumProduct", 400, "a correlation between -1 and 1"),
        ("metrics.m.control.denominator.sumProduct", -300, "a correlation between -1 and 1"),
        (
            "metrics.m.control.covariate.sumProductDenominator",
            900,
            "a correlation between -1 and 1",
        ),
        ("metrics.m.control.n", -3, "a whole number of units >= 0"),
        ("metrics.m.control.n", 99.5, "a whole number of units >= 0"),
        ("metrics.m.treatment.n", 101, "at most the variant's units (100)"),
        ("units.treatment", 100.5, "a whole number of units >= 0"),
    ],
)
def test_impossible_sums_are_refused_with_path_value_and_rule(
    path: str, value: float, expected: str
) -> None:
    """Whatever the metric's type: negative variances (metric, covariate, denominator), a
    correlation beyond +-1, a negative or fractional n or unit count, or more units in a
    metric than in its variant are refused, naming the JSON path, the value and the rule."""
    with pytest.raises(SumsError) as info:
        ExperimentSums.from_dict(_with(path, value))
    [problem] = info.value.details()
    assert problem["path"] == f"$.{path}"
    assert problem["value"] == value
    assert expected in problem["expected"]
    assert f"$.{path}" in str(info.value)


def test_no_units_means_no_sums() -> None:
    """An arm with n = 0 and a non-zero sum or covariate is refused for each such field."""
    doc = _with("metrics.m.control.n", 0)
    doc["units"]["control"] = 0
    with pytest.raises(SumsError) as info:
        ExperimentSums.from_dict(doc)
    paths = [p["path"] for p in info.value.details()]
    prefix = "$.metrics.m.control"
    assert paths[:4] == [f"{prefix}.sum", f"{prefix}.sumSq", f"{prefix}.covariate.sum",
                         f"{prefix}.covariate.sumSq"]  # fmt: skip
    assert all("since n is 0" in p["expected"] for p in info.value.details())


def test_segments_are_checked_too() -> None:
    """A segment's impossible sums are refused with the segment in the path."""
    doc = copy.deepcopy(GOOD)
    doc["segments"] = {"country=US": {"units": {"control": 2}, "metrics": {
        "m": {"control": {"n": 2, "sum": 4, "sumSq": 7}}}}}  # fmt: skip
    with pytest.raises(SumsError, match=r"\$\.segments\.country=US\.metrics\.m\.control\.sumSq"):
        ExperimentSums.from_dict(doc)


def test_rounding_error_is_not_an_impossibility() -> None:
    """Sums of a constant (zero variance) computed in floating point, whose sumSq falls a few
    ulps short of sum^2/n, and a covariate equal to the metric (correlation exactly 1) pass."""
    values = np.full(100_003, 0.1)
    arm = ArmSums.from_values(values, covariate=values)
    assert arm.sum_sq - arm.sum**2 / arm.n != 0  # the rounding this test is about
    doc = {"units": {"control": arm.n}, "metrics": {"m": {"control": arm.to_dict()}}}
    assert impossible(ExperimentSums.from_dict(doc)) == []


def _article(**metric: Any) -> Any:
    raw = json.loads(ARTICLE_EXAMPLE.read_text())
    raw["metrics"]["secondary"][0].update(metric)
    return load_experiment(raw)


@pytest.mark.parametrize(
    ("arm", "field", "expected"),
    [
        ({"n": 3, "sum": 5, "sumSq": 5}, "sum", "between 0 and n = 3"),
        ({"n": 3, "sum": -1, "sumSq": 1}, "sum", "between 0 and n = 3"),
        ({"n": 3, "sum": 1.5, "sumSq": 1.5}, "sum", "a whole number of converted units"),
        ({"n": 3, "sum": 2, "sumSq": 3}, "sumSq", "sumSq equal to sum (2)"),
    ],
)
def test_conversion_sums_must_be_zero_one_data(
    arm: dict[str, float], field: str, expected: str
) -> None:
    """A conversion is 0 or 1 per unit: sum is a whole number in [0, n] and sumSq == sum."""
    doc = copy.deepcopy(FIVE_OF_THREE)
    doc["metrics"]["checkout_completion_rate"]["control"] = arm
    with pytest.raises(SumsError) as info:
        ExperimentSums.from_dict(doc, experiment=load_experiment(ARTICLE_EXAMPLE))
    [problem] = info.value.details()
    assert problem["path"] == f"$.metrics.checkout_completion_rate.control.{field}"
    assert problem["value"] == arm[field]
    assert expected in problem["expected"]


def test_analyze_checks_sums_against_the_metric_types() -> None:
    """analyze() refuses sums that are possible for some metric but not for a conversion
    (sumSq 3 with sum 2), also when they were built in Python rather than read from JSON."""
    doc = copy.deepcopy(FIVE_OF_THREE)
    doc["metrics"]["checkout_completion_rate"]["control"] = {"n": 3, "sum": 2, "sumSq": 3}
    sums = ExperimentSums.from_dict(doc)
    with pytest.raises(SumsError) as info:
        analyze(load_experiment(ARTICLE_EXAMPLE), sums)
    assert [p["path"] for p in info.value.details()] == [
        "$.metrics.checkout_completion_rate.control.sumSq"
    ]


@pytest.mark.parametrize(
    ("arm", "field"),
    [({"n": 3, "sum": -2, "sumSq": 4}, "sum"), ({"n": 3, "sum": 2, "sumSq": 1.5}, "sumSq")],
)
def test_count_metric_sums_are_whole_and_not_negative(arm: dict[str, float], field: str) -> None:
    """A continuous metric aggregated by count is 0, 1, 2, ... per unit: sum >= 0, sumSq >= sum."""
    doc = copy.deepcopy(FIVE_OF_THREE)
    doc["metrics"]["checkout_completion_rate"]["control"] = {"n": 3, "sum": 1, "sumSq": 1}
    doc["metrics"]["avg_session_duration"] = {"control": arm}
    sums = ExperimentSums.from_dict(doc)
    assert analyze(_article(aggregation="sum"), sums) is not None  # a sum may be negative
    with pytest.raises(SumsError, match=rf"avg_session_duration\.control\.{field}"):
        analyze(_article(aggregation="count"), sums)


def test_cli_refuses_five_conversions_out_of_three_units(tmp_path: Path) -> None:
    """`splitlab analyze` on conversion sums n=3, sum=5: one clean error naming the path, the
    value and what was expected, exit code 3, no traceback and no "not significant"."""
    sums = tmp_path / "sums.json"
    sums.write_text(json.dumps(FIVE_OF_THREE))
    result = CliRunner().invoke(cli, ["analyze", str(ARTICLE_EXAMPLE), "--sums", str(sums)])
    assert result.exit_code == 3
    assert "$.metrics.checkout_completion_rate.control.sum" in result.stderr
    assert "between 0 and n = 3" in result.stderr and "(got 5)" in result.stderr
    assert "Traceback" not in result.output and "significant" not in result.stdout


def test_values_whose_squares_underflow_are_not_an_impossible_correlation() -> None:
    """Covariate values near 1e-162 square to a subnormal (their sumSq underflows) while products
    with the metric do not quite: a centred sum of products of about 1e-162 against a limit of
    0. That is rounding below the smallest normal double, not a correlation beyond +-1."""
    arm = ArmSums.from_values([2.0, 7.5, -3.0], covariate=[0.0, 0.0, 5e-163])
    assert arm.covariate is not None and arm.covariate.sum_sq < sys.float_info.min
    data = {"units": {"control": 3}, "metrics": {"m": {"control": arm.to_dict()}}}
    assert ExperimentSums.from_dict(data).metrics["m"]["control"] == arm
