"""Sticky experiments with weights, layers and holdouts (100,000 units, MemoryStickyStore).

Under this split a unit's variant is the interval of the cumulative edges holding its split
integer, so between two weight vectors the share of units that change variant is the total
variation distance between the two interval layouts; for two variants it is |w_old - w_new|
of the first weight (50/50 -> 20/80 moves the 30% whose split lies in [0.2, 0.5)). Sticky
assignment keeps every assigned unit where it was. Shares are binomial: 3 standard errors
sqrt(p (1 - p) / n) are allowed.
"""

from __future__ import annotations

from typing import Any

from splitlab.assignment import ExperimentAssignmentService, Reason
from splitlab.assignment.sticky import MemoryStickyStore, StickyStoreError
from tests.assignment.layer_helpers import UNITS, N, exp, holdout, within_3_se


def weighted(first: float, *, sticky: bool, **fields: Any) -> Any:
    return exp(
        "exp-sticky",
        variants=[{"name": "control", "weight": first}, {"name": "treatment", "weight": 1 - first}],
        assignment={"salt": "st", "sticky": sticky},
        **fields,
    )


def variants(service: ExperimentAssignmentService) -> list[str | None]:
    return [a.variant for a in service.assign_many("exp-sticky", UNITS)]


def test_a_weight_change_moves_nobody_when_sticky_and_30_percent_when_not() -> None:
    store = MemoryStickyStore()
    service = ExperimentAssignmentService([weighted(0.5, sticky=True)], sticky=store)
    before = variants(service)
    service.update([weighted(0.2, sticky=True)])
    assert variants(service) == before  # 0 of 100,000 moved
    loose = ExperimentAssignmentService([weighted(0.5, sticky=False)])
    old = variants(loose)
    loose.update([weighted(0.2, sticky=False)])
    moved = sum(1 for a, b in zip(old, variants(loose), strict=True) if a != b)
    assert within_3_se(moved, N, abs(0.5 - 0.2))


def test_sticky_with_a_layer_and_a_later_holdout() -> None:
    """A stored variant wins over a holdout started later; a held-out unit is never stored;
    units outside the layer are never stored either."""
    store = MemoryStickyStore()
    layered = weighted(0.5, sticky=True, layer={"id": "l", "start": 0, "end": 5000})
    service = ExperimentAssignmentService([layered], sticky=store)
    first = service.assign_many("exp-sticky", UNITS[: N // 2])
    stored = {u for u, a in zip(UNITS, first, strict=False) if a.reason is Reason.ASSIGNED}
    assert within_3_se(len(stored), N // 2, 0.5)
    assert not any(store.get("exp-sticky", u) for u, a in zip(UNITS, first, strict=False)
                   if a.reason is Reason.OUTSIDE_LAYER)  # fmt: skip
    service.update([layered, holdout("holdout-all", 20)])
    again = service.assign_many("exp-sticky", UNITS)
    for old, new in zip(first, again, strict=False):
        assert (new.variant, new.reason) == (old.variant, old.reason)  # kept, layer or not
    late = list(zip(UNITS[N // 2 :], again[N // 2 :], strict=True))
    held = [u for u, a in late if a.reason is Reason.HOLDOUT]
    assert held and all(store.get("exp-sticky", u) is None for u in held)
    in_range = [a for _, a in late if a.reason is not Reason.OUTSIDE_LAYER]
    assert within_3_se(len(held), len(in_range), 0.2)
    # a held-out unit stays held out (nothing was stored for it)
    assert all(service.assign(u, "exp-sticky").reason is Reason.HOLDOUT for u in held[:200])


def test_a_kept_answer_names_the_units_holdout_group_like_the_first() -> None:
    """The first answer reached the holdout step; an answer served from the store names the
    unit's holdout group too, so a tracker records the holdout's metrics for both groups on
    every request (not only on the first, which would bias the holdout against everyone
    else). As the JS SDK answers."""
    service = ExperimentAssignmentService(
        [weighted(0.5, sticky=True), holdout("holdout-all", 20)], sticky=MemoryStickyStore()
    )
    first = service.assign_many("exp-sticky", UNITS[:2000])
    assigned = [(u, a) for u, a in zip(UNITS, first, strict=False) if a.reason is Reason.ASSIGNED]
    assert assigned and all(
        (a.holdout_id, a.holdout_variant) == ("holdout-all", "exposed") for _, a in assigned
    )
    kept = [service.assign(u, "exp-sticky") for u, _ in assigned]
    assert kept == [a for _, a in assigned]


def test_units_kept_before_a_holdout_started_are_in_their_random_group() -> None:
    """Units stored before the holdout started keep their variant (reason assigned); their
    answers name the holdout group they are randomised to, held out included (the holdout is
    analysed by its random groups: those units dilute its difference, they do not unbalance
    its groups)."""
    store = MemoryStickyStore()
    service = ExperimentAssignmentService([weighted(0.5, sticky=True)], sticky=store)
    before = service.assign_many("exp-sticky", UNITS[:5000])
    hold = holdout("holdout-all", 20)
    service.update([weighted(0.5, sticky=True), hold])
    after = service.assign_many("exp-sticky", UNITS[:5000])
    membership = [a.variant for a in service.assign_many("holdout-all", UNITS[:5000])]
    assert [(a.variant, a.reason) for a in after] == [(a.variant, a.reason) for a in before]
    assert [a.holdout_variant for a in after] == membership
    assert all(a.holdout_id == "holdout-all" for a in after)
    held = sum(1 for m in membership if m == "held_out")
    assert within_3_se(held, 5000, 0.2)


class FailingStore:
    def get(self, experiment_id: str, unit_id: str) -> str | None:
        raise StickyStoreError("the database went away")

    def put(self, experiment_id: str, unit_id: str, variant: str) -> str:
        raise StickyStoreError("the database went away")


def test_a_failing_store_answers_sticky_unavailable_never_an_exception() -> None:
    layered = weighted(0.5, sticky=True, layer={"id": "l", "start": 0, "end": 5000})
    service = ExperimentAssignmentService(
        [layered, holdout("holdout-all", 20)], sticky=FailingStore()
    )
    got = service.assign_many("exp-sticky", UNITS[:5000])
    reasons = {a.reason for a in got}
    assert reasons == {Reason.STICKY_UNAVAILABLE, Reason.OUTSIDE_LAYER}  # the layer comes first
    assert all(a.variant is None for a in got if a.reason is Reason.STICKY_UNAVAILABLE)
    assert service.sticky_failures == sum(a.reason is Reason.STICKY_UNAVAILABLE for a in got)
