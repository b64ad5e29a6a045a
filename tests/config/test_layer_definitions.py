"""Layers and holdouts in definitions: single-definition rules and rules over a set.

Every refusal names the JSON path, the value and what was expected.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from splitlab.cli.main import cli
from splitlab.config import ConfigError, Status, load_experiment
from splitlab.config.layering import check_against, check_set, free_ranges

BASE: dict[str, Any] = {
    "experimentId": "exp-a",
    "status": "running",
    "variants": ["control", "treatment"],
    "assignment": {"salt": "s-a"},
    "metrics": {"primary": {"name": "purchase"}},
}
HOLDOUT: dict[str, Any] = {
    "experimentId": "holdout-q3",
    "status": "running",
    "variants": ["held_out", "exposed"],
    "assignment": {"salt": "h-q3"},
    "metrics": {"primary": {"name": "purchase"}},
    "design": {"type": "holdout", "percent": 5, "scope": {"tags": ["checkout"]}},
}


def make(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(base)
    out.update(changes)
    return out


def problems_of(raw: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    with pytest.raises(ConfigError) as info:
        load_experiment(raw)
    return {p.path: (p.value, p.expected) for p in info.value.problems}


def test_layer_end_must_follow_start() -> None:
    found = problems_of(make(BASE, layer={"id": "checkout", "start": 5000, "end": 5000}))
    value, expected = found["$.layer.end"]
    assert value == 5000
    assert "after layer.start (5000)" in expected and "at least 5001" in expected


def test_layer_bounds_come_from_the_model() -> None:
    found = problems_of(make(BASE, layer={"id": "checkout", "start": 0, "end": 10001}))
    assert found["$.layer.end"][0] == 10001


@pytest.mark.parametrize(
    ("design", "word"),
    [
        ({"type": "switchback", "periodSeconds": 3600, "burnInSeconds": 600}, "time periods"),
        ({"type": "holdout", "percent": 5}, "holdout"),
    ],
)
def test_a_layer_is_refused_on_switchbacks_and_holdouts(design: dict[str, Any], word: str) -> None:
    raw = make(BASE, layer={"id": "checkout", "start": 0, "end": 5000}, design=design)
    value, expected = problems_of(raw)["$.layer"]
    assert value == {"id": "checkout", "start": 0, "end": 5000}
    assert word in expected


def test_a_cluster_experiment_may_take_a_layer() -> None:
    raw = make(
        BASE,
        assignment={"salt": "s", "hashKey": "accountId"},
        design={"type": "cluster", "analysisUnit": "userId"},
        layer={"id": "accounts", "start": 0, "end": 10000},
    )
    assert load_experiment(raw).layer is not None


def test_holdout_weights_are_derived_from_percent() -> None:
    experiment = load_experiment(HOLDOUT)
    assert [v.weight for v in experiment.variants] == [0.05, 0.95]
    assert experiment.is_holdout and experiment.traffic_allocation == 1.0
    # the derived weights survive a round trip through the wire format
    again = load_experiment(experiment.to_wire())
    assert [v.weight for v in again.variants] == [0.05, 0.95]


def test_holdout_weights_given_must_match_percent() -> None:
    raw = make(
        HOLDOUT, variants=[{"name": "held_out", "weight": 0.5}, {"name": "exposed", "weight": 0.5}]
    )
    value, expected = problems_of(raw)["$.variants[*].weight"]
    assert value == [0.5, 0.5]
    assert "[0.05, 0.95]" in expected and "design.percent = 5" in expected
    ok = make(
        HOLDOUT,
        variants=[{"name": "held_out", "weight": 0.05}, {"name": "exposed", "weight": 0.95}],
    )
    assert load_experiment(ok).weights == pytest.approx((0.05, 0.95))


def test_holdout_needs_exactly_two_variants() -> None:
    value, expected = problems_of(make(HOLDOUT, variants=["a", "b", "c"]))["$.variants"]
    assert value == 3 and "exactly 2 variants" in expected


@pytest.mark.parametrize(
    ("changes", "path", "word"),
    [
        ({"trafficAllocation": 0.5}, "$.trafficAllocation", "1 for a holdout"),
        ({"targeting": {"include": ["country:US"]}}, "$.targeting.include", "no targeting"),
        ({"targeting": {"exclude": ["country:US"]}}, "$.targeting.exclude", "no targeting"),
        ({"targeting": {"condition": {"country": "US"}}}, "$.targeting.condition", "no targeting"),
        (
            {"assignment": {"salt": "h", "forced": {"held_out": ["qa-1"]}}},
            "$.assignment.forced",
            "no forced units",
        ),
        (
            {"assignment": {"salt": "h", "sticky": True}},
            "$.assignment.sticky",
            "false for a holdout",
        ),
        ({"rollback": {"enabled": True}}, "$.rollback.enabled", "hold every unit out"),
        ({"control": "exposed"}, "$.control", "'held_out', the first variant"),
    ],
)
def test_holdout_refuses_what_would_change_its_groups(
    changes: dict[str, Any], path: str, word: str
) -> None:
    found = problems_of(make(HOLDOUT, **changes))
    assert path in found, found
    assert word in found[path][1]


def test_holdout_percent_over_50_says_so() -> None:
    raw = make(HOLDOUT, design={"type": "holdout", "percent": 60})
    value, expected = problems_of(raw)["$.design.percent"]
    assert value == 60
    assert "a holdout of at most 50% of the units" in expected


def exp(eid: str, start: int, end: int, **changes: Any) -> Any:
    raw = make(
        BASE,
        experimentId=eid,
        assignment={"salt": eid},
        layer={"id": "checkout", "start": start, "end": end},
    )
    raw.update(changes)
    return load_experiment(raw)


def test_free_ranges() -> None:
    assert free_ranges([]) == [(0, 10000)]
    assert free_ranges([(2000, 4000), (0, 1000), (3000, 5000)]) == [(1000, 2000), (5000, 10000)]
    assert free_ranges([(0, 10000)]) == []


def test_overlapping_ranges_are_refused_naming_both_and_the_free_ranges() -> None:
    a, b = exp("exp-a", 0, 5000), exp("exp-b", 4000, 8000)
    problems = check_set([a, b])
    assert len(problems) == 1
    problem = problems[0]
    assert problem.path == "$.layer"
    assert problem.value == {"id": "checkout", "start": 4000, "end": 8000}
    assert "'exp-a' [0, 5000)" in problem.expected and "'exp-b' [4000, 8000)" in problem.expected
    assert "free ranges left: [5000, 10000)" in problem.expected


def test_adjacent_ranges_and_finished_experiments_do_not_conflict() -> None:
    assert check_set([exp("exp-a", 0, 5000), exp("exp-b", 5000, 10000)]) == []
    # a stopped, shipped or rolled back experiment's range is free again
    for status in ("stopped", "rolled_back", "shipped"):
        extra = {"shippedVariant": "treatment"} if status == "shipped" else {}
        old = exp("exp-old", 0, 10000, status=status, **extra)
        assert check_set([old, exp("exp-b", 0, 5000)]) == []
    # drafts hold their range
    assert len(check_set([exp("exp-a", 0, 5000, status="draft"), exp("exp-b", 0, 5000)])) == 1


def test_one_layer_one_hash_key() -> None:
    a = exp("exp-a", 0, 5000)
    b = exp("exp-b", 5000, 10000, assignment={"salt": "b", "hashKey": "deviceId"})
    (problem,) = check_set([a, b])
    assert problem.path == "$.assignment.hashKey"
    assert problem.value == "deviceId"
    assert "'userId'" in problem.expected and "'exp-a'" in problem.expected


def test_check_against_ignores_old_conflicts_and_the_namesake() -> None:
    a, b = exp("exp-a", 0, 5000), exp("exp-b", 0, 5000)
    assert check_against(exp("exp-c", 5000, 10000), [a, b]) == []
    # replacing exp-a by a new range of its own is no conflict with itself
    assert check_against(exp("exp-a", 0, 6000), [a]) == []
    assert len(check_against(exp("exp-c", 4000, 6000), [a])) == 1


def write(tmp_path: Path, raw: dict[str, Any]) -> Path:
    path = tmp_path / f"{raw['experimentId']}.json"
    path.write_text(json.dumps(raw))
    return path


def test_validate_checks_a_directory_as_one_set(tmp_path: Path) -> None:
    layer = {"id": "checkout", "start": 0, "end": 6000}
    write(tmp_path, make(BASE, experimentId="exp-a", layer=layer))
    write(
        tmp_path,
        make(BASE, experimentId="exp-b", layer={"id": "checkout", "start": 5000, "end": 10000}),
    )
    result = CliRunner().invoke(cli, ["validate", "--json", str(tmp_path)])
    assert result.exit_code == 3, result.output
    report = json.loads(result.output)
    assert [r["valid"] for r in report] == [False, False]
    assert report[0]["problems"][0]["path"] == "$.layer"
    assert "free ranges left: [6000, 10000)" in report[1]["problems"][0]["expected"]
    write(
        tmp_path,
        make(BASE, experimentId="exp-b", layer={"id": "checkout", "start": 6000, "end": 10000}),
    )
    result = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "valid (exp-a)" in result.output and "valid (exp-b)" in result.output


def test_validate_of_an_empty_directory_fails_cleanly(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 3
    assert "no definition files found" in result.output


def test_the_registry_lifecycle_refuses_overlaps(tmp_path: Path) -> None:
    import duckdb

    from splitlab.evaluation.lifecycle import register, update_definition
    from splitlab.store.registry import Registry

    conn = duckdb.connect(str(tmp_path / "registry.duckdb"))
    try:
        registry = Registry(conn)
        register(registry, exp("exp-a", 0, 5000, status="draft"), by="t", reason="r")
        with pytest.raises(ConfigError) as info:
            register(registry, exp("exp-b", 4000, 6000, status="draft"), by="t", reason="r")
        assert info.value.problems[0].path == "$.layer"
        register(registry, exp("exp-b", 5000, 6000, status="draft"), by="t", reason="r")
        with pytest.raises(ConfigError):
            update_definition(registry, exp("exp-b", 0, 6000, status="draft"), by="t", reason="r")
        update_definition(registry, exp("exp-b", 5000, 7000, status="draft"), by="t", reason="r")
        assert registry.get("exp-b").layer is not None
    finally:
        conn.close()


def test_experiments_create_registers_none_when_files_conflict(tmp_path: Path) -> None:
    a = write(
        tmp_path,
        make(
            BASE, experimentId="exp-a", status="draft", layer={"id": "l", "start": 0, "end": 6000}
        ),
    )
    b = write(
        tmp_path,
        make(
            BASE,
            experimentId="exp-b",
            status="draft",
            layer={"id": "l", "start": 5000, "end": 9000},
        ),
    )
    db = str(tmp_path / "db.duckdb")
    result = CliRunner().invoke(cli, ["experiments", "create", str(a), str(b), "--db", db])
    assert result.exit_code == 3
    assert "$.layer" in result.output and "'exp-a' [0, 6000)" in result.output
    listed = CliRunner().invoke(cli, ["experiments", "list", "--db", db])
    assert "exp-a" not in listed.output


def test_a_live_experiments_range_and_tags_cannot_change(tmp_path: Path) -> None:
    """Widening or narrowing a running (or paused) experiment's range would move units in or
    out of it mid-experiment, and new tags would change which holdouts cover it: a definition
    update refuses both, naming the field (docs/assignment.md, "Layers")."""
    import duckdb

    from splitlab.evaluation import TransitionError
    from splitlab.evaluation.lifecycle import change_status, register, update_definition
    from splitlab.store.registry import Registry

    conn = duckdb.connect(str(tmp_path / "registry.duckdb"))
    try:
        registry = Registry(conn)
        register(registry, exp("exp-a", 0, 5000, status="running"), by="t", reason="r")
        for status in ("running", "paused"):
            if status == "paused":
                change_status(registry, "exp-a", Status.PAUSED, by="t", reason="r")
            for new, field in (
                (exp("exp-a", 0, 6000, status=status), "layer"),
                (exp("exp-a", 1000, 5000, status=status), "layer"),
                (exp("exp-a", 0, 5000, status=status, tags=["checkout"]), "tags"),
            ):
                with pytest.raises(TransitionError) as info:
                    update_definition(registry, new, by="t", reason="r")
                assert info.value.field == field
                assert "pre-registered design" in str(info.value)
        layer = registry.get("exp-a").layer
        assert layer is not None and (layer.start, layer.end) == (0, 5000)
    finally:
        conn.close()
