"""Canary and bandit definitions: each mistake named with its path, value and rule."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from splitlab.config import ConfigError, load_experiment, parse_experiment

RAMP = [
    {"percent": 1, "minMinutes": 15, "minRequests": 2000},
    {"percent": 5, "minMinutes": 15},
    {"percent": 25, "minMinutes": 30},
    {"percent": 50, "minMinutes": 30},
    {"percent": 100},
]
CANARY: dict[str, Any] = {
    "experimentId": "exp-canary",
    "status": "running",
    "variants": ["baseline", "canary"],
    "assignment": {"hashKey": "requestId", "salt": "c1"},
    "metrics": {"primary": {"name": "request_error", "direction": "decrease"}},
    "design": {
        "type": "canary",
        "intervalMinutes": 5,
        "ramp": RAMP,
        "metrics": [
            {"name": "errors", "event": "request_error", "kind": "proportion",
             "tolerance": 0.01, "toleranceType": "absolute"},
            {"name": "latency", "event": "request_latency_ms", "kind": "mann_whitney",
             "tolerance": 0.05},
            {"name": "p99", "event": "request_latency_ms", "kind": "quantile",
             "quantile": 0.99, "tolerance": 0.1},
        ],
    },
}  # fmt: skip
BANDIT: dict[str, Any] = {
    "experimentId": "exp-bandit",
    "status": "running",
    "variants": ["a", "b", "c", "d"],
    "assignment": {"salt": "b1"},
    "metrics": {"primary": {"name": "signup", "windowHours": 24}},
    "design": {"type": "bandit"},
}


def changed(base: dict[str, Any], **design: Any) -> dict[str, Any]:
    raw = copy.deepcopy(base)
    raw["design"].update(design)
    return raw


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_experiment(raw)
    return [str(p) for p in info.value.problems]


def test_a_canary_serves_twice_its_share_from_the_gate() -> None:
    """Step p % puts p % on the canary and p % on the baseline: trafficAllocation 2p/100."""
    exp = load_experiment(CANARY)
    assert exp.is_canary and not exp.is_sticky
    assert exp.traffic_allocation == pytest.approx(0.02)
    assert exp.design is not None and exp.design.type == "canary"
    assert [exp.design.allocation(i) for i in range(4)] == pytest.approx([0.02, 0.1, 0.5, 1.0])
    later = load_experiment(changed(CANARY, step=2))
    assert later.traffic_allocation == pytest.approx(0.5)
    # A stored definition carries the derived value and loads again unchanged.
    assert load_experiment(later.to_wire()).traffic_allocation == pytest.approx(0.5)


def test_a_ramp_that_goes_down_is_refused() -> None:
    ramp = [{"percent": 5, "minMinutes": 15}, {"percent": 1, "minMinutes": 15}]
    assert problems(changed(CANARY, ramp=ramp)) == [
        "$.design.ramp[1].percent: expected more than the previous step's 5 (a ramp only goes "
        "up) (got 1)"
    ]


def test_a_step_with_no_duration_is_refused() -> None:
    ramp = [{"percent": 1, "minMinutes": 15}, {"percent": 5}, {"percent": 100}]
    (line,) = problems(changed(CANARY, ramp=ramp))
    assert line.startswith("$.design.ramp[1].minMinutes: expected the step's minimum duration")
    assert line.endswith("(got null)")


def test_a_step_shorter_than_an_interval_is_refused() -> None:
    ramp = [{"percent": 1, "minMinutes": 2}, {"percent": 100}]
    assert problems(changed(CANARY, ramp=ramp)) == [
        "$.design.ramp[0].minMinutes: expected at least one interval (intervalMinutes is 5) (got 2)"
    ]


@pytest.mark.parametrize("percent", [70, 100])
def test_shares_above_half_are_only_the_final_promotion(percent: int) -> None:
    ramp = [{"percent": 1, "minMinutes": 15}, {"percent": percent, "minMinutes": 15},
            {"percent": 100}]  # fmt: skip
    lines = problems(changed(CANARY, ramp=ramp))
    assert any(
        line.startswith("$.design.ramp[1].percent: expected a share in (0, 50]") for line in lines
    ), lines


def test_a_tolerance_of_the_wrong_sign_is_refused() -> None:
    raw = copy.deepcopy(CANARY)
    raw["design"]["metrics"][0]["tolerance"] = -0.01
    (line,) = problems(raw)
    assert line.startswith("$.design.metrics[0].tolerance: expected a positive number")
    assert "badDirection" in line and line.endswith("(got -0.01)")


def test_a_quantile_metric_needs_its_quantile() -> None:
    raw = copy.deepcopy(CANARY)
    del raw["design"]["metrics"][2]["quantile"]
    assert problems(raw) == [
        "$.design.metrics[2].quantile: expected a probability in (0, 1) for kind 'quantile', "
        "e.g. 0.99 (got null)"
    ]


def test_a_canary_has_two_unweighted_variants_and_a_derived_allocation() -> None:
    raw = copy.deepcopy(CANARY)
    raw["variants"] = [{"name": "baseline", "weight": 0.5}, {"name": "canary", "weight": 0.5}]
    raw["trafficAllocation"] = 0.5
    lines = problems(raw)
    assert any(line.startswith("$.variants: expected no weights for a canary") for line in lines)
    assert any(
        line.startswith("$.trafficAllocation: expected 0.02 (set by the canary ramp")
        for line in lines
    )
    raw = copy.deepcopy(CANARY)
    raw["variants"] = ["baseline", "canary", "other"]
    assert problems(raw) == [
        "$.variants: expected exactly 2 variants for a canary: the baseline (the control) and "
        "the canary (got 3)"
    ]


def test_a_bandit_is_sticky_with_equal_initial_weights() -> None:
    exp = load_experiment(BANDIT)
    assert exp.is_bandit and exp.is_sticky
    assert exp.weights == pytest.approx((0.25, 0.25, 0.25, 0.25))


def test_a_bandit_with_one_arm_is_refused() -> None:
    raw = copy.deepcopy(BANDIT)
    raw["variants"] = ["a"]
    assert "$.variants: expected at least 2 arms (variants) for a bandit (got 1)" in problems(raw)


def test_a_bandit_reward_that_is_a_guardrail_is_refused() -> None:
    raw = changed(BANDIT, reward="errors")
    raw["metrics"]["guardrails"] = [{"name": "errors", "threshold": 0.01}]
    assert problems(raw) == [
        "$.design.reward: expected the primary or a secondary metric: a guardrail protects the "
        'experiment and is not what a bandit optimises (got "errors")'
    ]


def test_a_bandit_reward_needs_a_window_and_a_mean() -> None:
    raw = copy.deepcopy(BANDIT)
    raw["metrics"]["primary"] = {"name": "revenue", "type": "ratio", "numerator": "r",
                                 "denominator": "s"}  # fmt: skip
    lines = problems(raw)
    assert any(line.startswith("$.metrics.primary.type: expected 'conversion' or 'continuous'")
               for line in lines)  # fmt: skip
    assert any(line.startswith("$.metrics.primary.windowHours: expected a window in hours")
               for line in lines)  # fmt: skip


def test_the_exploration_floor_is_positive_and_below_its_start() -> None:
    lines = problems(changed(BANDIT, exploration={"initial": 0.1, "minimum": 0.0}))
    assert lines == ["$.design.exploration.minimum: expected greater than 0 (got 0.0)"]
    lines = problems(changed(BANDIT, exploration={"initial": 0.1, "minimum": 0.2}))
    assert lines[0].startswith("$.design.exploration.minimum: expected at most exploration.initial")


def test_quantile_metrics_need_their_quantile() -> None:
    raw = copy.deepcopy(BANDIT)
    del raw["design"]
    raw["metrics"]["secondary"] = [{"name": "p95", "type": "quantile", "event": "latency"}]
    assert problems(raw) == [
        "$.metrics.secondary[0].quantile: expected a probability in (0, 1) for a quantile "
        "metric, e.g. 0.95 (got null)"
    ]
    raw["metrics"]["secondary"][0]["quantile"] = 0.95
    assert load_experiment(raw).metrics.secondary[0].quantile == 0.95
