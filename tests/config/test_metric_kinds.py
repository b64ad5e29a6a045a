"""Retention and time-to-event definitions: valid ones load (primary, secondary and
guardrail), and every refusal names the field's JSON path, the value found and what was
expected."""

from __future__ import annotations

from typing import Any

import pytest

from splitlab.config import Guardrail, MetricType, load_experiment
from splitlab.config.errors import ConfigError

RET = {"name": "d7", "type": "retention", "event": "visit", "retention": {"day": 7}}
TTE = {"name": "ttp", "type": "time_to_event", "event": "purchase", "horizonHours": 72}


def _raw(
    primary: dict[str, Any],
    secondary: list[dict[str, Any]] | None = None,
    guardrails: list[dict[str, Any]] | None = None,
    design: dict[str, Any] | None = None,
) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "experimentId": "kinds",
        "status": "running",
        "variants": ["control", "treatment"],
        "assignment": {"salt": "s"},
        "metrics": {
            "primary": primary,
            "secondary": secondary or [],
            "guardrails": guardrails or [],
        },
    }
    if design is not None:
        raw["design"] = design
    return raw


def _problems(raw: dict[str, Any]) -> list[tuple[str, Any, str]]:
    with pytest.raises(ConfigError) as info:
        load_experiment(raw)
    return [(p.path, p.value, p.expected) for p in info.value.problems]


def test_valid_definitions_load() -> None:
    exp = load_experiment(
        _raw(
            RET,
            [TTE, {**RET, "name": "w1", "retention": {"day": 1, "days": 7}}],
            [{**TTE, "name": "first_error", "event": "error", "threshold": 2.0}],
        )
    )
    primary = exp.metrics.primary
    assert primary.type is MetricType.RETENTION and primary.retention is not None
    assert (primary.retention.start_hours, primary.retention.end_hours) == (168, 192)
    assert exp.metrics.secondary[0].horizon_hours == 72.0
    assert exp.metrics.secondary[1].retention is not None
    assert exp.metrics.secondary[1].retention.end_hours == 8 * 24
    guard = exp.metrics.guardrails[0]
    assert isinstance(guard, Guardrail) and guard.type is MetricType.TIME_TO_EVENT
    # An explicit default aggregation and cuped: false are accepted.
    load_experiment(_raw({**TTE, "aggregation": "sum", "cuped": False}))


def test_required_fields() -> None:
    assert _problems(_raw({"name": "d7", "type": "retention"})) == [
        (
            "$.metrics.primary.retention",
            None,
            'the retention window, e.g. {"day": 7, "days": 1} for a retention metric',
        )
    ]
    [(path, value, expected)] = _problems(
        _raw(RET, guardrails=[{"name": "g", "type": "time_to_event", "threshold": 1}])
    )
    assert (path, value) == ("$.metrics.guardrails[0].horizonHours", None)
    assert expected == "the horizon in hours (a number > 0, e.g. 72) for a time_to_event metric"


def test_fields_refused_on_other_types() -> None:
    got = _problems(
        _raw(
            {"name": "c", "type": "conversion", "horizonHours": 24},
            [RET, {"name": "r", "type": "continuous", "retention": {"day": 1}}],
        )
    )
    assert got == [
        (
            "$.metrics.primary.horizonHours",
            24,
            "nothing (only time_to_event metrics have one)",
        ),
        (
            "$.metrics.secondary[1].retention",
            {"day": 1},
            "nothing (only retention metrics have one)",
        ),
    ]
    # Each new type refuses the other's field.
    [(path, value, expected)] = _problems(_raw({**TTE, "retention": {"day": 2}}))
    assert (path, value) == ("$.metrics.primary.retention", {"day": 2})
    assert expected == "nothing (only retention metrics have one)"


@pytest.mark.parametrize("metric", [RET, TTE], ids=["retention", "time_to_event"])
@pytest.mark.parametrize(
    "field,value,words",
    [
        ("cuped", True, "false: CUPED does not apply to a {kind} metric"),
        ("windowHours", 24, "nothing for a {kind} metric: its window is "),
        ("aggregation", "max", "nothing (the default) for a {kind} metric"),
        ("aggregation", "count", "nothing (the default) for a {kind} metric"),
        ("cap", {"type": "fixed", "value": 5}, "nothing: a cap applies to continuous and ratio"),
        ("covariateCap", {"type": "fixed", "value": 5}, "not to a {kind} metric"),
        ("quantile", 0.9, "nothing (only quantile metrics have one)"),
        ("numerator", "a", "nothing (only ratio metrics have one)"),
        ("denominator", "b", "nothing (only ratio metrics have one)"),
    ],
)
def test_value_options_refused(metric: dict[str, Any], field: str, value: Any, words: str) -> None:
    """Each value option is refused on both new types with its own path and value (a
    covariateCap is also refused for want of cuped: both problems name the field)."""
    got = _problems(_raw({"name": "c"}, [{**metric, field: value}]))
    mine = [p for p in got if p[0] == f"$.metrics.secondary[0].{field}"]
    assert mine, got
    assert all(v == value for _, v, _ in mine)
    assert any(words.format(kind=metric["type"]) in e for _, _, e in mine), mine
    # Nothing else is reported: only this field is wrong.
    assert {p[0] for p in got} == {f"$.metrics.secondary[0].{field}"}


def test_window_names_the_types_own_window() -> None:
    [(_, _, ret)] = _problems(_raw({**RET, "windowHours": 5}))
    [(_, _, tte)] = _problems(_raw({**TTE, "windowHours": 5}))
    assert ret.endswith("its window is retention.day/days")
    assert tte.endswith("its window is horizonHours")


@pytest.mark.parametrize(
    "design",
    [
        {"type": "cluster", "analysisUnit": "userId"},
        {"type": "switchback", "unit": "region", "periodSeconds": 3600, "burnInSeconds": 300},
    ],
    ids=["cluster", "switchback"],
)
def test_refused_in_cluster_and_switchback_designs(design: dict[str, Any]) -> None:
    raw = _raw(
        {"name": "c", "type": "conversion"},
        [RET],
        [{**TTE, "threshold": 1.0}],
        design=design,
    )
    raw["assignment"]["hashKey"] = "accountId"
    got = _problems(raw)
    kind = design["type"]
    assert [(p, v) for p, v, _ in got] == [
        ("$.metrics.secondary[0].type", "retention"),
        ("$.metrics.guardrails[0].type", "time_to_event"),
    ]
    for _, _, expected in got:
        assert expected.startswith(f"'conversion', 'continuous' or 'ratio' in a {kind} design")


def test_horizon_and_window_ranges_from_the_model() -> None:
    """The model's own bounds still apply (horizon > 0, day >= 0, days >= 1)."""
    paths = {p for p, _, _ in _problems(_raw({**TTE, "horizonHours": 0}))}
    assert paths == {"$.metrics.primary.horizonHours"}
    paths = {p for p, _, _ in _problems(_raw({**RET, "retention": {"day": -1, "days": 0}}))}
    assert paths == {"$.metrics.primary.retention.day", "$.metrics.primary.retention.days"}
