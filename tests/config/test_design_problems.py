"""Problems in a canary's or a bandit's design name the field, the value and what was expected.

A user who mistypes a canary or bandit key, or a design type, must be told the keys and types
that exist for *that* design (not the switchback's), and an empty list must read as such.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from splitlab.config import ConfigError, load_experiment

CANARY: dict[str, Any] = {
    "experimentId": "checkout-v2-canary",
    "status": "running",
    "variants": ["baseline", "canary"],
    "assignment": {"salt": "checkout-v2"},
    "metrics": {"primary": {"name": "errors", "type": "continuous"}},
    "design": {
        "type": "canary",
        "ramp": [{"percent": 1, "minMinutes": 15}, {"percent": 100}],
        "metrics": [{"name": "errors", "kind": "proportion", "tolerance": 0.01}],
    },
}

BANDIT: dict[str, Any] = {
    "experimentId": "exp-headline",
    "status": "running",
    "variants": ["current", "question"],
    "assignment": {"salt": "h-1"},
    "metrics": {"primary": {"name": "click", "type": "conversion", "windowHours": 24}},
    "design": {"type": "bandit"},
}


def problems_of(raw: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    with pytest.raises(ConfigError) as info:
        load_experiment(raw)
    return {p.path: (p.value, p.expected) for p in info.value.problems}


def test_the_examples_load() -> None:
    assert load_experiment(CANARY).is_canary
    assert load_experiment(BANDIT).is_bandit


@pytest.mark.parametrize("kind", ["rollout", None])
def test_an_unknown_design_type_lists_all_four(kind: str | None) -> None:
    raw = copy.deepcopy(CANARY)
    raw["design"]["type"] = kind
    if kind is None:
        del raw["design"]["type"]
    (expected,) = [e for p, (_, e) in problems_of(raw).items() if p == "$.design.type"]
    for name in ("cluster", "switchback", "canary", "bandit"):
        assert repr(name) in expected


def test_a_mistyped_canary_key_suggests_the_canary_key() -> None:
    raw = copy.deepcopy(CANARY)
    raw["design"]["intervalMinute"] = 5
    value, expected = problems_of(raw)["$.design.intervalMinute"]
    assert value == 5
    assert "did you mean 'intervalMinutes'?" in expected
    assert "ramp" in expected and "periodSeconds" not in expected


def test_a_mistyped_ramp_step_key_lists_the_step_keys() -> None:
    raw = copy.deepcopy(CANARY)
    raw["design"]["ramp"][0]["minMinute"] = 15
    _, expected = problems_of(raw)["$.design.ramp[0].minMinute"]
    assert "did you mean 'minMinutes'?" in expected
    assert "percent, minMinutes, minRequests" in expected


def test_a_mistyped_bandit_key_suggests_the_bandit_key() -> None:
    raw = copy.deepcopy(BANDIT)
    raw["design"]["updateInterval"] = 60
    _, expected = problems_of(raw)["$.design.updateInterval"]
    assert "did you mean 'updateIntervalMinutes'?" in expected
    assert "exploration" in expected and "periodSeconds" not in expected


def test_an_empty_ramp_reads_as_a_short_list() -> None:
    raw = copy.deepcopy(CANARY)
    raw["design"]["ramp"] = []
    value, expected = problems_of(raw)["$.design.ramp"]
    assert value == []
    assert expected == "a list of at least 1 item"


@pytest.mark.parametrize("started", ["yesterday", "2026-03-01", "12:00"])
def test_a_step_start_that_is_no_instant_is_refused(started: str) -> None:
    """The canary monitor reads stepStartedAt back; text it cannot read stopped its pass."""
    raw = copy.deepcopy(CANARY)
    raw["design"]["stepStartedAt"] = started
    value, expected = problems_of(raw)["$.design.stepStartedAt"]
    assert value == started
    assert "ISO-8601 date and time" in expected


@pytest.mark.parametrize("started", ["2026-03-01T12:00:00.000000Z", "2026-03-01T13:00:00+01:00"])
def test_a_step_start_the_monitor_writes_is_accepted(started: str) -> None:
    raw = copy.deepcopy(CANARY)
    raw["design"]["stepStartedAt"] = started
    assert load_experiment(raw).design.step_started_at == started  # type: ignore[union-attr]
