"""ExperimentAssignmentService: reasons, precedence, hashKey, forced units, targeting, batches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splitlab.assignment import (
    Assignment,
    AssignmentError,
    ConditionError,
    ExperimentAssignmentService,
    Reason,
    allocation_threshold,
    hash_integers,
    resolve_unit,
    variant_edges,
    variant_index,
)
from splitlab.config import load_experiment
from splitlab.errors import SplitlabError
from tests.assignment.assignment_helpers import ARTICLE_TARGETING, experiment

ROOT = Path(__file__).resolve().parents[2]
CASES: dict[str, Any] = json.loads((ROOT / "spec" / "assignment-cases.json").read_text("utf-8"))
US_FREE = {"region": "US", "accountType": "free"}


def service(**changes: Any) -> ExperimentAssignmentService:
    return ExperimentAssignmentService([experiment(**changes)])


@pytest.mark.parametrize("case", CASES["assignments"], ids=lambda c: c["name"])
def test_spec_assignment_cases(case: dict[str, Any]) -> None:
    """Every end-to-end vector gives the listed variant and reason."""
    svc = ExperimentAssignmentService([load_experiment(case["experiment"])])
    got = svc.assign(case["unitId"], case["experiment"]["experimentId"], case["attributes"])
    assert (got.variant, got.reason.value) == (case["variant"], case["reason"])


def test_spec_covers_every_reason_but_unknown() -> None:
    """The vectors exercise every reason a known experiment can give from its definition
    alone (``sticky_unavailable`` depends on a failing sticky store: tests/assignment/
    test_sticky.py; ``outside_layer`` and ``holdout`` have their own vectors in
    spec/layer-cases.json: tests/assignment/test_layer_vectors.py)."""
    reasons = {c["reason"] for c in CASES["assignments"]}
    assert reasons == {r.value for r in Reason} - {
        "unknown_experiment",
        "sticky_unavailable",
        "outside_layer",
        "holdout",
    }


def test_unknown_experiment_has_its_own_reason() -> None:
    """Defect 4: an unknown id is reported as such, not as a bare None."""
    got = service().assign("user-1", "no-such-experiment")
    assert got == Assignment("no-such-experiment", None, Reason.UNKNOWN_EXPERIMENT)


@pytest.mark.parametrize("status", ["draft", "paused", "stopped"])
def test_not_running_statuses_expose_nobody(status: str) -> None:
    """Defect 5: a draft, paused or stopped experiment serves no variant, forced units included."""
    svc = service(status=status, assignment={"forced": {"variant-a": ["qa"]}})
    for unit in ("user-1", "qa", ""):
        assert svc.assign(unit, "exp-test") == Assignment("exp-test", None, Reason.NOT_RUNNING)


def test_rolled_back_serves_control_to_everyone() -> None:
    """Status rolled_back gives the control variant whatever the unit or targeting."""
    svc = service(status="rolled_back", control="variant-a", targeting=ARTICLE_TARGETING)
    for unit in ("user-1", "user-2", None):
        got = svc.assign(unit, "exp-test", {"region": "EU"})
        assert (got.variant, got.reason) == ("variant-a", Reason.ROLLED_BACK)
        assert not got.in_experiment


def test_shipped_serves_the_shipped_variant() -> None:
    """Status shipped gives shippedVariant to everyone."""
    svc = service(status="shipped", shippedVariant="variant-b")
    got = svc.assign("user-9", "exp-test")
    assert (got.variant, got.reason) == ("variant-b", Reason.SHIPPED)


def test_toggle_overrides_the_split() -> None:
    """forcedVariant (the variant toggle) serves that variant to everyone, reason toggled."""
    svc = service(forcedVariant="control")
    assert {svc.assign(f"u{i}", "exp-test").variant for i in range(50)} == {"control"}
    assert svc.assign("u1", "exp-test").reason is Reason.TOGGLED


@pytest.mark.parametrize("unit", [None, "", True, 1.5, b"user", ["user"], "\ud800"])
def test_missing_or_unusable_unit_id_is_explicit(unit: Any) -> None:
    """A missing, empty or non-text unit id gives missing_unit_id, never a silent bucket."""
    got = service().assign(unit, "exp-test")
    assert got == Assignment("exp-test", None, Reason.MISSING_UNIT_ID)


def test_integer_unit_id_is_its_decimal_text() -> None:
    """An integer unit id is hashed as its decimal string."""
    svc = service()
    assert svc.assign(12345, "exp-test") == svc.assign("12345", "exp-test")


def test_forced_units_bypass_targeting_and_traffic() -> None:
    """A QA unit on the allow-list gets its variant with reason forced, even untargeted."""
    svc = service(
        trafficAllocation=0.0,
        targeting=ARTICLE_TARGETING,
        assignment={"forced": {"variant-b": ["qa-1", "qa-2"], "control": ["qa-3"]}},
    )
    for unit, variant in (("qa-1", "variant-b"), ("qa-2", "variant-b"), ("qa-3", "control")):
        got = svc.assign(unit, "exp-test", {"region": "EU", "bot": True})
        assert (got.variant, got.reason, got.in_experiment) == (variant, Reason.FORCED, False)
    assert svc.assign("user-1", "exp-test", US_FREE).reason is Reason.OUTSIDE_TRAFFIC


def test_article_targeting_is_applied() -> None:
    """Defect 5: include and exclude rules decide who may enter before bucketing."""
    svc = service(targeting=ARTICLE_TARGETING)
    assert svc.assign("user-1", "exp-test", US_FREE).reason is Reason.ASSIGNED
    for attributes in (
        {"region": "EU", "accountType": "free"},
        {"region": "US", "accountType": "paid"},
        {**US_FREE, "internal": True},
        {**US_FREE, "bot": "true"},
        {},
        None,
    ):
        got = svc.assign("user-1", "exp-test", attributes)
        assert got == Assignment("exp-test", None, Reason.NOT_TARGETED)


def test_condition_targeting_is_applied() -> None:
    """A Mongo-style condition admits or refuses units; saved groups are honoured."""
    cond = {"$or": [{"age": {"$gte": 18}}, {"userId": {"$inGroup": "beta"}}]}
    svc = ExperimentAssignmentService(
        [experiment(targeting={"condition": cond})], saved_groups={"beta": ["kid-1"]}
    )
    assert svc.assign("u", "exp-test", {"age": 30}).reason is Reason.ASSIGNED
    assert svc.assign("u", "exp-test", {"age": 12}).reason is Reason.NOT_TARGETED
    assert svc.assign("kid-1", "exp-test", {"age": 12, "userId": "kid-1"}).reason is Reason.ASSIGNED


def test_targeting_does_not_change_the_variant() -> None:
    """A targeted unit gets the same variant as without any targeting."""
    plain, targeted = service(), service(targeting=ARTICLE_TARGETING)
    for i in range(200):
        unit = f"user-{i}"
        assert targeted.assign(unit, "exp-test", US_FREE) == plain.assign(unit, "exp-test")


def test_malformed_condition_is_refused_at_construction() -> None:
    """A bad condition raises ConditionError when the service compiles it, not per unit."""
    bad = experiment().model_copy(
        update={
            "targeting": experiment().targeting.model_copy(
                update={"condition": {"age": {"$bad": 1}}}
            )
        }
    )
    with pytest.raises(ConditionError):
        ExperimentAssignmentService([bad])


def test_hash_key_attribute_is_the_unit() -> None:
    """With hashKey accountId, users of one account share its variant (cluster randomisation)."""
    svc = service(assignment={"hashKey": "accountId"})
    for account in ("acct-1", "acct-2", "acct-3", 77):
        got = {svc.assign(f"user-{i}", "exp-test", {"accountId": account}) for i in range(20)}
        assert len(got) == 1
        assert got == {svc.assign(account, "exp-test")}


def test_hash_key_rule() -> None:
    """The attribute under hashKey wins when non-null; otherwise unit_id; empty is missing."""
    assert resolve_unit("accountId", "user-1", {"accountId": "a"}) == "a"
    assert resolve_unit("accountId", "user-1", {"accountId": None}) == "user-1"
    assert resolve_unit("accountId", "user-1", {}) == "user-1"
    assert resolve_unit("accountId", "user-1", None) == "user-1"
    assert resolve_unit("accountId", "user-1", {"accountId": ""}) is None
    assert resolve_unit("accountId", "user-1", {"accountId": 7}) == "7"
    assert resolve_unit("accountId", "user-1", {"accountId": False}) is None
    assert resolve_unit("userId", "x", {"userId": "y"}) == "y"


def test_split_uses_the_documented_hash() -> None:
    """The variant is the one the documented split integer selects (equal weights of 3)."""
    svc = service()
    for i in range(300):
        unit = f"user-{i}"
        _, split = hash_integers("exp-test", "test-salt", unit)
        expected = ("control", "variant-a", "variant-b")[split * 3 >> 48]
        assert svc.assign(unit, "exp-test").variant == expected


def test_update_replaces_experiments() -> None:
    """update() swaps the experiment set: a status change takes effect at once."""
    svc = service()
    assert svc.assign("user-1", "exp-test").reason is Reason.ASSIGNED
    rolled_back = experiment(status="rolled_back")
    svc.update([rolled_back])
    assert svc.assign("user-1", "exp-test").reason is Reason.ROLLED_BACK
    assert svc.experiment("exp-test") is rolled_back
    svc.update([])
    assert svc.assign("user-1", "exp-test").reason is Reason.UNKNOWN_EXPERIMENT
    assert svc.experiments == {}
    with pytest.raises(KeyError):
        svc.experiment("exp-test")


def test_duplicate_ids_are_refused_and_old_set_kept() -> None:
    """Two experiments with one id raise AssignmentError; the previous set stays in force."""
    svc = service()
    with pytest.raises(AssignmentError, match="exp-test") as info:
        svc.update([experiment(), experiment()])
    assert isinstance(info.value, SplitlabError)
    assert svc.assign("user-1", "exp-test").reason is Reason.ASSIGNED


def test_assign_all_covers_serving_experiments() -> None:
    """assign_all answers for running, shipped and rolled back experiments, not for paused ones."""
    svc = ExperimentAssignmentService(
        [
            experiment(experimentId="a"),
            experiment(experimentId="b", status="paused"),
            experiment(experimentId="c", status="shipped", shippedVariant="variant-a"),
            experiment(experimentId="d", status="rolled_back"),
            experiment(experimentId="e", targeting=ARTICLE_TARGETING),
        ]
    )
    got = svc.assign_all("user-1", {"region": "EU"})
    assert sorted(got) == ["a", "c", "d", "e"]
    assert got["a"] == svc.assign("user-1", "a")
    assert got["c"].reason is Reason.SHIPPED
    assert got["e"].reason is Reason.NOT_TARGETED


def test_assign_many_unknown_and_fixed() -> None:
    """assign_many answers unknown and status-decided experiments for every unit."""
    svc = service(status="stopped")
    assert (
        svc.assign_many("nope", ["a", "b"])
        == [Assignment("nope", None, Reason.UNKNOWN_EXPERIMENT)] * 2
    )
    assert [a.reason for a in svc.assign_many("exp-test", iter(["a", "b"]))] == [
        Reason.NOT_RUNNING
    ] * 2


def test_assign_many_checks_attribute_length() -> None:
    """Attributes must have one entry per unit; a mismatch names both lengths."""
    with pytest.raises(AssignmentError, match=r"\(2\), got 1"):
        service().assign_many("exp-test", ["a", "b"], [{}])


UNITS = st.one_of(
    st.text(max_size=12), st.integers(), st.none(), st.sampled_from(["qa-1", "", "user-1"])
)


@settings(max_examples=60, deadline=None)
@given(
    units=st.lists(UNITS, max_size=40),
    allocation=st.sampled_from([0.0, 0.3, 1.0]),
    forced=st.booleans(),
    targeting=st.booleans(),
    with_attributes=st.booleans(),
)
def test_assign_many_equals_assign(
    units: list[Any], allocation: float, forced: bool, targeting: bool, with_attributes: bool
) -> None:
    """The batch path gives exactly what assign() gives, unit by unit, on every path."""
    svc = service(
        trafficAllocation=allocation,
        assignment={"forced": {"variant-a": ["qa-1"]}} if forced else {},
        targeting={"exclude": ["bot:true"]} if targeting else {},
    )
    attributes = [US_FREE if i % 2 else {"bot": True} for i in range(len(units))]
    if with_attributes:
        expected = [svc.assign(u, "exp-test", a) for u, a in zip(units, attributes, strict=True)]
        assert svc.assign_many("exp-test", units, attributes) == expected
    else:
        assert svc.assign_many("exp-test", units) == [svc.assign(u, "exp-test") for u in units]


def test_assignment_json_shape() -> None:
    """to_dict() is the camelCase wire shape."""
    got = service().assign("user-1", "exp-test")
    assert got.to_dict() == {
        "experimentId": "exp-test",
        "variant": got.variant,
        "reason": "assigned",
    }


@settings(max_examples=80, deadline=None)
@given(
    units=st.lists(st.text(min_size=1, max_size=16), min_size=1, max_size=30),
    allocation=st.floats(min_value=0.0, max_value=1.0),
    weights=st.lists(st.integers(min_value=1, max_value=50), min_size=2, max_size=5),
)
def test_service_equals_the_integer_reference(
    units: list[str], allocation: float, weights: list[int]
) -> None:
    """The byte-comparing service agrees with the documented integer algorithm."""
    total = sum(weights)
    variants = [{"name": f"v{i}", "weight": w / total} for i, w in enumerate(weights)]
    exp = experiment(trafficAllocation=allocation, variants=variants)
    svc = ExperimentAssignmentService([exp])
    threshold = allocation_threshold(allocation)
    edges = variant_edges([v.weight or 0.0 for v in exp.variants])
    for unit, got in zip(units, svc.assign_many("exp-test", units), strict=True):
        gate, split = hash_integers("exp-test", "test-salt", unit)
        if gate >= threshold:
            assert got.reason is Reason.OUTSIDE_TRAFFIC
        else:
            assert got.variant == f"v{variant_index(edges, split)}"
        assert svc.assign(unit, "exp-test") == got


def test_a_cluster_design_never_falls_back_to_the_unit_id() -> None:
    """Without attributes[hashKey] a cluster design has no cluster (missing_unit_id), for
    assign, assign_many and experiment_unit alike; the request's id is never the cluster."""
    from splitlab.assignment import experiment_unit
    from tests.assignment.assignment_helpers import definition

    raw = definition(
        assignment={"hashKey": "accountId"}, design={"type": "cluster", "analysisUnit": "userId"}
    )
    exp = load_experiment(raw)
    eid = exp.experiment_id
    svc = ExperimentAssignmentService([exp])
    for attributes in (None, {}, {"userId": "u1"}, {"accountId": None}, {"accountId": ""}):
        got = svc.assign("u1", eid, attributes)
        assert (got.variant, got.reason) == (None, Reason.MISSING_UNIT_ID)
        assert experiment_unit(exp, "u1", attributes) is None
    assert {a.reason for a in svc.assign_many(eid, ["acct-1", "acct-2"])} == {
        Reason.MISSING_UNIT_ID
    }
    by_account = [svc.assign(f"u{i}", eid, {"accountId": "acct-1"}) for i in range(5)]
    assert {(a.variant, a.reason) for a in by_account} == {(by_account[0].variant, Reason.ASSIGNED)}
    assert experiment_unit(exp, "u1", {"accountId": 7}) == "7"
