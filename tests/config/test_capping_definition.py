"""Cap definitions: accepted shapes and every refusal naming the field, value and expectation."""

from __future__ import annotations

from typing import Any

import pytest

from splitlab.config import load_experiment
from splitlab.config.errors import ConfigError


def _raw(metric: dict[str, Any]) -> dict[str, Any]:
    return {
        "experimentId": "cap",
        "status": "running",
        "variants": ["control", "treatment"],
        "assignment": {"salt": "s"},
        "metrics": {"primary": metric},
    }


def _problems(metric: dict[str, Any]) -> list[tuple[str, Any, str]]:
    with pytest.raises(ConfigError) as info:
        load_experiment(_raw(metric))
    return [(p.path, p.value, p.expected) for p in info.value.problems]


def test_accepted_caps() -> None:
    exp = load_experiment(_raw({
        "name": "revenue", "type": "continuous", "cuped": True,
        "cap": {"type": "percentile", "percentile": 99},
        "covariateCap": {"type": "fixed", "value": 1000},
    }))  # fmt: skip
    metric = exp.metrics.primary
    assert metric.cap is not None and metric.cap.percentile == 99
    assert metric.covariate_rule is not None and metric.covariate_rule.value == 1000
    assert metric.cap.describe() == "99th percentile"
    plain = load_experiment(_raw({"name": "r", "type": "continuous", "cuped": True,
                                  "cap": {"type": "fixed", "value": 5}}))  # fmt: skip
    assert plain.metrics.primary.covariate_rule == plain.metrics.primary.cap  # the default


@pytest.mark.parametrize("value", [0, -3, 0.0])
def test_fixed_cap_at_or_below_zero_is_refused(value: float) -> None:
    [(path, got, expected)] = _problems(
        {"name": "revenue", "type": "continuous", "cap": {"type": "fixed", "value": value}}
    )
    assert path == "$.metrics.primary.cap.value" and got == value
    assert "greater than 0" in expected


@pytest.mark.parametrize("pct", [0, 100, 150, -1])
def test_percentile_outside_zero_to_hundred_is_refused(pct: float) -> None:
    [(path, got, expected)] = _problems(
        {"name": "revenue", "type": "continuous", "cap": {"type": "percentile", "percentile": pct}}
    )
    assert path == "$.metrics.primary.cap.percentile" and got == pct
    assert "than 0" in expected or "than 100" in expected


@pytest.mark.parametrize("kind", ["conversion", "quantile"])
def test_cap_on_a_conversion_or_quantile_metric_is_refused(kind: str) -> None:
    metric: dict[str, Any] = {
        "name": "checkout",
        "type": kind,
        "cap": {"type": "fixed", "value": 1},
    }
    if kind == "quantile":
        metric["quantile"] = 0.95
    problems = _problems(metric)
    assert (
        "$.metrics.primary.cap",
        {"type": "fixed", "value": 1},
        f"nothing: a cap applies to continuous and ratio metrics, not to a {kind} metric",
    ) in problems


def test_cap_missing_its_number_and_covariate_cap_without_cuped() -> None:
    problems = _problems({
        "name": "revenue", "type": "continuous",
        "cap": {"type": "percentile"}, "covariateCap": {"type": "fixed", "value": 3},
    })  # fmt: skip
    paths = {p[0]: p[2] for p in problems}
    assert "percentile cap" in paths["$.metrics.primary.cap.percentile"]
    assert paths["$.metrics.primary.covariateCap"] == "nothing unless the metric has cuped: true"


def test_cap_in_a_cluster_design_is_refused() -> None:
    raw = _raw({"name": "revenue", "type": "continuous", "cap": {"type": "fixed", "value": 5}})
    raw["assignment"] = {"strategy": "consistent_hash", "hashKey": "accountId", "salt": "cl"}
    raw["design"] = {"type": "cluster", "analysisUnit": "userId"}
    with pytest.raises(ConfigError) as info:
        load_experiment(raw)
    assert [(p.path, p.expected) for p in info.value.problems] == [
        (
            "$.metrics.primary.cap",
            "nothing: caps apply to individual-unit designs, not to a cluster design",
        )
    ]
