"""Experiment definitions: the article's template loads unchanged; bad input lists every problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from splitlab.config import ConfigError, Experiment, Status, load_experiment, parse_experiment


def problems_of(raw: Any) -> dict[str, str]:
    """Map JSON path -> expected text for a definition that must be refused."""
    with pytest.raises(ConfigError) as info:
        load_experiment(raw)
    return {p.path: p.expected for p in info.value.problems}


def test_article_template_loads_unchanged(article_raw: dict[str, Any]) -> None:
    """The article's configuration template is a valid definition with its values kept."""
    exp = load_experiment(article_raw)
    assert exp.experiment_id == "exp-checkout-flow-v3"
    assert exp.status is Status.RUNNING
    assert exp.traffic_allocation == 0.25
    assert exp.variant_names == ("control", "variant-a", "variant-b")
    assert exp.control == "control"
    assert exp.assignment.hash_key == "userId"
    assert exp.assignment.salt == "prod-experiment-2024-q3"
    assert exp.metrics.primary.name == "checkout_completion_rate"
    assert [m.name for m in exp.metrics.secondary] == [
        "avg_session_duration",
        "cart_abandonment_rate",
    ]
    assert exp.metrics.guardrails[0].threshold == 0.02
    assert exp.evaluation.correction == "bonferroni"
    assert exp.evaluation.max_peeks == 5
    assert exp.evaluation.min_sample_size == 15000
    assert exp.targeting.include == ["region:US", "accountType:free"]
    assert exp.rollback.conditions == ["guardrail_breach", "srm_detected"]


def test_defaults_documented_for_extensions(article_raw: dict[str, Any]) -> None:
    """Where the article is silent the documented defaults apply (SRM threshold 0.01, equal weights)."""
    exp = load_experiment(article_raw)
    assert exp.evaluation.srm_threshold == 0.01
    assert exp.evaluation.launch_srm_threshold == 0.05
    assert exp.weights == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert exp.segments == []


def test_round_trip_through_wire_format(article_raw: dict[str, Any]) -> None:
    """A loaded definition written back as camelCase JSON loads to an equal definition."""
    exp = load_experiment(article_raw)
    again = load_experiment(json.loads(json.dumps(exp.to_wire())))
    assert again == exp
    assert "trafficAllocation" in exp.to_wire()


def test_loads_from_a_file(tmp_path: Path, article_raw: dict[str, Any]) -> None:
    """A path to a JSON file loads like the mapping it holds."""
    path = tmp_path / "exp.json"
    path.write_text(json.dumps(article_raw))
    assert load_experiment(path) == load_experiment(article_raw)
    assert load_experiment(str(path)).id == "exp-checkout-flow-v3"


def test_weighted_variants_and_named_control(article_raw: dict[str, Any]) -> None:
    """Variants may carry weights and a control other than the first may be named."""
    article_raw["variants"] = [
        {"name": "control", "weight": 0.5},
        {"name": "variant-a", "weight": 0.25},
        {"name": "variant-b", "weight": 0.25},
    ]
    article_raw["control"] = "variant-b"
    exp = load_experiment(article_raw)
    assert exp.weights == (0.5, 0.25, 0.25)
    assert exp.control == "variant-b"


def test_every_problem_is_listed_with_path_value_and_expectation(
    article_raw: dict[str, Any],
) -> None:
    """One refusal lists field errors and cross-field errors together."""
    article_raw["trafficAllocation"] = 1.5
    article_raw["variants"] = ["control", "control"]
    article_raw["evaluation"]["alpha"] = 0
    article_raw["evaluation"]["correction"] = "sidak"
    article_raw["evaluation"]["method"] = "magic"
    del article_raw["metrics"]["guardrails"][0]["threshold"]
    article_raw["targeting"]["include"].append("no-colon")
    article_raw["surprise"] = True
    found = problems_of(article_raw)
    assert "less than or equal to 1" in found["$.trafficAllocation"]
    assert "duplicate" in found["$.variants[1]"]
    assert "greater than 0" in found["$.evaluation.alpha"]
    assert "'bonferroni'" in found["$.evaluation.correction"]
    assert "frequentist_t_test" in found["$.evaluation.method"]
    assert "required" in found["$.metrics.guardrails[0].threshold"]
    assert "attribute:value" in found["$.targeting.include[2]"]
    assert "unknown key" in found["$.surprise"]
    assert "trafficAllocation" in found["$.surprise"]


def test_problem_carries_the_bad_value(article_raw: dict[str, Any]) -> None:
    """Each problem names the value that was found, as well as the path."""
    article_raw["trafficAllocation"] = -0.1
    with pytest.raises(ConfigError) as info:
        load_experiment(article_raw)
    (problem,) = info.value.problems
    assert problem.path == "$.trafficAllocation"
    assert problem.value == -0.1
    assert "got -0.1" in str(info.value)


@pytest.mark.parametrize(
    ("change", "path", "fragment"),
    [
        (lambda r: r.update(variants=["only-one"]), "$.variants", "at least 2"),
        (lambda r: r.pop("variants"), "$.variants", "required"),
        (
            lambda r: r.update(
                variants=[{"name": "a", "weight": 0.6}, {"name": "b", "weight": 0.6}]
            ),
            "$.variants[*].weight",
            "summing to 1",
        ),
        (
            lambda r: r.update(variants=[{"name": "a", "weight": 0.5}, "b"]),
            "$.variants[1].weight",
            "every variant",
        ),
        (lambda r: r.update(control="nobody"), "$.control", "one of the variants"),
        (lambda r: r.update(status="archived"), "$.status", "'running'"),
        (lambda r: r.update(status="shipped"), "$.shippedVariant", "shipped"),
        (lambda r: r["evaluation"].update(maxPeeks=0), "$.evaluation.maxPeeks", "greater than"),
        (lambda r: r["evaluation"].update(schedule="weekly"), "$.evaluation.schedule", "cron"),
        (
            lambda r: r["assignment"].update(forced={"ghost": ["u1"]}),
            "$.assignment.forced.ghost",
            "one of the variants",
        ),
        (
            lambda r: r["metrics"]["primary"].update(type="ratio"),
            "$.metrics.primary.numerator",
            "ratio",
        ),
        (
            lambda r: r["metrics"]["secondary"][0].update(name="checkout_completion_rate"),
            "$.metrics.secondary[0].name",
            "not used before",
        ),
        (lambda r: r.update(segments=["region", "drop table"]), "$.segments[1]", "letters"),
        (
            lambda r: r["rollback"].update(conditions=["moon_phase"]),
            "$.rollback.conditions[0]",
            "guardrail_breach",
        ),
        (lambda r: r.update(experimentId="has space"), "$.experimentId", "letters, digits"),
    ],
)
def test_each_kind_of_mistake_is_named(
    article_raw: dict[str, Any], change: Any, path: str, fragment: str
) -> None:
    """A mistake of each kind is reported at its JSON path with what was expected."""
    change(article_raw)
    found = problems_of(article_raw)
    assert path in found, found
    assert fragment in found[path]


def test_not_an_object_is_refused() -> None:
    """A definition that is not a JSON object is refused with a clear problem."""
    with pytest.raises(ConfigError) as info:
        parse_experiment([1, 2])  # type: ignore[arg-type]
    assert info.value.problems[0].expected.startswith("a JSON object")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{", "valid JSON"),
        ('{"trafficAllocation": NaN}', "NaN"),
        ('{"a": 1, "a": 2}', "duplicate"),
    ],
)
def test_bad_json_files_are_refused(tmp_path: Path, text: str, fragment: str) -> None:
    """Malformed JSON, NaN and duplicate keys are refused before any field is read."""
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    assert fragment in str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """A path that does not exist is a ConfigError naming the file, not an OSError."""
    with pytest.raises(ConfigError, match="existing file"):
        load_experiment(tmp_path / "nope.json")


def test_models_are_immutable(article_raw: dict[str, Any]) -> None:
    """A loaded definition cannot be changed in place (status changes go through one place)."""
    exp = load_experiment(article_raw)
    with pytest.raises(ValueError):
        exp.status = Status.STOPPED  # type: ignore[misc]
    assert isinstance(exp.model_copy(update={"status": Status.PAUSED}), Experiment)


def test_direct_construction_enforces_cross_field_rules(article_raw: dict[str, Any]) -> None:
    """Building the model directly (not through load_experiment) still applies cross-field rules."""
    article_raw["variants"] = ["a", "a"]
    with pytest.raises(ValueError, match="duplicate"):
        Experiment.model_validate(article_raw)
