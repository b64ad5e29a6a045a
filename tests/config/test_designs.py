"""The ``design`` rules of a switchback: each mistake named with its path, value and rule."""

from __future__ import annotations

from typing import Any

import pytest

from splitlab.config import ConfigError, parse_experiment
from splitlab.config.designs import MAX_CLOCK_SKEW_SECONDS, parse_origin
from tests.assignment.assignment_helpers import definition

SWITCHBACK = {"type": "switchback", "periodSeconds": 3600, "burnInSeconds": 600}


def problems(**changes: Any) -> list[str]:
    """The problem lines of a switchback definition with `changes` (design keys merged)."""
    design = SWITCHBACK | changes.pop("design", {})
    with pytest.raises(ConfigError) as info:
        parse_experiment(definition(design=design, **changes))
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("design", "line"),
    [
        ({"periodSeconds": 0}, "$.design.periodSeconds: expected greater than or equal to 60 (got 0)"),
        ({"periodSeconds": -60}, "$.design.periodSeconds: expected greater than or equal to 60 (got -60)"),
        ({"periodSeconds": 3600.5}, "$.design.periodSeconds: expected a valid integer (got 3600.5)"),
        ({"periodSeconds": "3600"}, '$.design.periodSeconds: expected a valid integer (got "3600")'),
        ({"periodSeconds": 31 * 86_400 + 1},
         "$.design.periodSeconds: expected less than or equal to 2678400 (got 2678401)"),
        ({"burnInSeconds": 3600},
         "$.design.burnInSeconds: expected fewer seconds than the period (periodSeconds is 3600) "
         "(got 3600)"),
        ({"burnInSeconds": 5000},
         "$.design.burnInSeconds: expected fewer seconds than the period (periodSeconds is 3600) "
         "(got 5000)"),
        ({"burnInSeconds": MAX_CLOCK_SKEW_SECONDS},
         "$.design.burnInSeconds: expected greater than 30 (got 30)"),
    ],
)  # fmt: skip
def test_period_and_burn_in_mistakes_are_named(design: dict[str, Any], line: str) -> None:
    """One problem each: a bad period does not also blame the burn-in."""
    assert problems(design=design) == [line]


@pytest.mark.parametrize(
    "origin", ["2026-01-01", "2026-01-01T00:00:00", "2026-02-30T00:00:00Z", "2026-01-01T00:00+0530"]
)
def test_an_origin_without_the_one_form_is_refused(origin: str) -> None:
    (line,) = problems(design={"origin": origin})
    assert line.startswith("$.design.origin: expected an ISO 8601 date-time with a UTC offset")
    assert f'(got "{origin}")' in line


def test_offsets_and_milliseconds_are_exact() -> None:
    assert parse_origin("2026-01-01T00:00:00+05:30") == 1_767_205_800_000
    assert parse_origin("1969-12-31T23:59:59.999Z") == -1
    assert parse_origin("2026-01-01T00:00Z") == 1_767_225_600_000


def test_a_switchback_refuses_a_traffic_gate_and_forced_units() -> None:
    lines = problems(trafficAllocation=0.5, assignment={"forced": {"control": ["u1"]}})
    assert lines == [
        "$.trafficAllocation: expected 1 for a switchback design (every request of a unit and "
        "period gets the period's variant; restrict who is in the experiment with targeting "
        "instead) (got 0.5)",
        "$.assignment.forced: expected no forced units for a switchback design (a QA tester "
        "would change the variant of their whole cell); use the variant toggle (forcedVariant) "
        'instead (got {"control": ["u1"]})',
    ]


def test_a_classic_experiment_keeps_its_traffic_gate_and_forced_units() -> None:
    raw = definition(trafficAllocation=0.5, assignment={"forced": {"control": ["u1"]}})
    assert parse_experiment(raw).traffic_allocation == 0.5


def test_a_valid_switchback_loads() -> None:
    exp = parse_experiment(definition(design=SWITCHBACK | {"unit": "region"}))
    assert exp.is_switchback and not exp.is_cluster


def test_a_global_switchback_cannot_ask_for_the_regression() -> None:
    from splitlab.config import ConfigError, load_experiment

    wire = {
        "experimentId": "sb-global",
        "variants": ["control", "treatment"],
        "assignment": {"salt": "s"},
        "metrics": {"primary": {"name": "orders", "type": "continuous"}},
        "design": {
            "type": "switchback",
            "periodSeconds": 3600,
            "burnInSeconds": 600,
            "estimator": "regression",
        },
    }
    with pytest.raises(ConfigError) as caught:
        load_experiment(wire)
    assert "$.design.estimator" in str(caught.value)
    assert "global switchback" in str(caught.value)
    wire["design"]["unit"] = "region"
    assert load_experiment(wire).design.estimator == "regression"  # type: ignore[union-attr]


def test_a_ratio_metric_cannot_be_per_cluster() -> None:
    """A ratio is a ratio of cluster totals; a per-cluster ratio would silently drop the
    denominator, so the definition is refused with the path, the value and the fix."""
    ratio = {"name": "aov", "type": "ratio", "numerator": "revenue", "denominator": "order",
             "level": "cluster"}  # fmt: skip
    raw = definition(
        assignment={"hashKey": "accountId"},
        design={"type": "cluster", "analysisUnit": "userId"},
        metrics={"primary": {"name": "conversion"}, "secondary": [ratio]},
    )
    with pytest.raises(ConfigError) as info:
        parse_experiment(raw)
    assert [str(p) for p in info.value.problems] == [
        "$.metrics.secondary[0].level: expected 'unit': a ratio metric is a ratio of cluster "
        'totals; a per-cluster ratio is not supported (got "cluster")'
    ]
    ratio["level"] = "unit"
    parse_experiment(raw)  # the same metric per unit loads


def test_a_switchback_refuses_hash_key_equal_to_its_unit() -> None:
    """hashKey names the measured unit of a switchback; the region there would record every
    user of a region as the region itself, so that mistake is refused by name."""
    lines = problems(design={"unit": "region"}, assignment={"hashKey": "region"})
    assert lines == [
        "$.assignment.hashKey: expected an attribute other than design.unit for a switchback: "
        "hashKey names the measured unit (the user, whose events are counted; default userId) "
        'and plays no part in the draw, which follows design.unit and the period (got "region")'
    ]
    raw = definition(design=SWITCHBACK | {"unit": "region"}, assignment={"hashKey": "riderId"})
    assert parse_experiment(raw).assignment.hash_key == "riderId"


def test_the_demo_switchback_loads() -> None:
    import json
    from pathlib import Path

    import splitlab.demo

    path = Path(splitlab.demo.__file__).parent / "exp-dispatch-batching.json"
    exp = parse_experiment(json.loads(path.read_text()))
    assert exp.is_switchback and exp.assignment.hash_key == "userId"
