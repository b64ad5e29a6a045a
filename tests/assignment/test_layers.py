"""Proofs of layers: experiments of one layer never share a unit, and a new range moves
nobody. Each runs 100,000 units (the layer hash is deterministic: no Monte Carlo error in the
"0 units" claims; the shares are binomial draws, checked within 3 standard errors)."""

from __future__ import annotations

from splitlab.assignment import ExperimentAssignmentService, Reason
from tests.assignment.layer_helpers import UNITS, N, exp, in_layer, within_3_se


def served(service: ExperimentAssignmentService, eid: str) -> dict[str, str | None]:
    """Unit -> variant for the units `eid` takes (reason other than outside_layer)."""
    return {
        u: a.variant
        for u, a in zip(UNITS, service.assign_many(eid, UNITS), strict=True)
        if a.reason is not Reason.OUTSIDE_LAYER
    }


def test_two_halves_of_a_layer_share_no_unit_and_cover_everyone() -> None:
    service = ExperimentAssignmentService(
        [in_layer("exp-a", 0, 5000), in_layer("exp-b", 5000, 10000)]
    )
    a, b = served(service, "exp-a"), served(service, "exp-b")
    assert set(a) & set(b) == set()
    assert len(a) + len(b) == N
    assert within_3_se(len(a), N, 0.5)


def test_a_third_range_moves_nobody_in_the_first_two() -> None:
    first = [in_layer("exp-a", 0, 4000), in_layer("exp-b", 4000, 8000)]
    before = ExperimentAssignmentService(first)
    after = ExperimentAssignmentService([*first, in_layer("exp-c", 8000, 10000)])
    for eid in ("exp-a", "exp-b"):
        assert served(after, eid) == served(before, eid)  # 0 units moved, none gained or lost
    a, b, c = (served(after, e) for e in ("exp-a", "exp-b", "exp-c"))
    assert not (set(a) & set(c) or set(b) & set(c))
    assert len(a) + len(b) + len(c) == N
    assert within_3_se(len(c), N, 0.2)


def test_the_layer_is_independent_of_the_experiment_split() -> None:
    """Within a range the split is the experiment's own: about half control, half treatment
    (the layer integer and the split integer come from different digests)."""
    service = ExperimentAssignmentService([in_layer("exp-a", 0, 3000)])
    a = served(service, "exp-a")
    assert within_3_se(len(a), N, 0.3)
    controls = sum(1 for v in a.values() if v == "control")
    assert within_3_se(controls, len(a), 0.5)
    # the same units, the same variants as without the layer (the split does not change)
    plain = ExperimentAssignmentService([exp("exp-a")])
    got = plain.assign_many("exp-a", list(a))
    assert [g.variant for g in got] == list(a.values())


def test_changing_a_running_range_moves_units() -> None:
    """Why docs/assignment.md says to give a new experiment a free range instead: widening a
    range takes in units that belonged to no experiment (or another), shrinking drops some."""
    narrow = served(ExperimentAssignmentService([in_layer("exp-a", 0, 4000)]), "exp-a")
    wide = served(ExperimentAssignmentService([in_layer("exp-a", 0, 5000)]), "exp-a")
    assert set(narrow) < set(wide)
    assert within_3_se(len(wide) - len(narrow), N, 0.1)


def test_forced_units_are_served_outside_their_range() -> None:
    service = ExperimentAssignmentService(
        [in_layer("exp-a", 0, 1, assignment={"salt": "s", "forced": {"treatment": ["qa-1"]}})]
    )
    assert service.assign("qa-1", "exp-a").reason is Reason.FORCED
