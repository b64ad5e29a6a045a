"""Proofs of holdouts over 100,000 units: the held-out share matches the setting, a held-out
unit gets control in every covered experiment, and uncovered experiments do not change.

Shares are binomial: n units each held out with probability p, so the share's standard error
is sqrt(p (1 - p) / n); the checks allow 3 of them (tests/assignment/layer_helpers.py).
"""

from __future__ import annotations

from splitlab.assignment import ExperimentAssignmentService, Reason
from splitlab.config import Experiment
from tests.assignment.layer_helpers import UNITS, N, exp, holdout, in_layer, within_3_se

COVERED = [
    exp("exp-checkout", tags=["checkout"]),
    exp("exp-pricing", tags=["checkout", "pricing"], variants=["control", "v1", "v2"]),
    in_layer("exp-layered", 0, 10000, tags=["checkout"]),
    exp("exp-shipped", status="shipped", shippedVariant="treatment", tags=["checkout"]),
]
UNCOVERED = [
    exp("exp-other-tag", tags=["search"]),
    exp("exp-device", tags=["checkout"], assignment={"salt": "d", "hashKey": "deviceId"}),
    exp(
        "exp-switchback",
        tags=["checkout"],
        design={"type": "switchback", "periodSeconds": 3600, "burnInSeconds": 600},
    ),
    exp(
        "exp-canary",
        tags=["checkout"],
        design={
            "type": "canary",
            "ramp": [{"percent": 5, "minMinutes": 10}, {"percent": 100}],
            "metrics": [{"name": "errors", "kind": "proportion", "tolerance": 0.01}],
        },
    ),
    exp("exp-rolled-back", status="rolled_back", tags=["checkout"]),
    exp("exp-toggled", forcedVariant="treatment", tags=["checkout"]),
]
HOLDOUT = holdout("holdout-checkout", 10, ["checkout"])
AT = 1_773_000_000_000


def answers(experiments: list[Experiment], eid: str) -> list[tuple[str | None, Reason]]:
    service = ExperimentAssignmentService(experiments, clock=lambda: AT / 1000)
    return [(a.variant, a.reason) for a in service.assign_many(eid, UNITS)]


def test_held_out_share_and_control_everywhere() -> None:
    service = ExperimentAssignmentService([*COVERED, HOLDOUT])
    own = service.assign_many("holdout-checkout", UNITS)
    held = {u for u, a in zip(UNITS, own, strict=True) if a.variant == "held_out"}
    assert within_3_se(len(held), N, 0.10)
    for experiment in COVERED:
        got = service.assign_many(experiment.experiment_id, UNITS)
        for unit, a in zip(UNITS, got, strict=True):
            if unit in held:
                assert (a.variant, a.reason) == ("control", Reason.HOLDOUT)
                assert (a.holdout_id, a.holdout_variant) == ("holdout-checkout", "held_out")
            else:
                assert a.reason in (Reason.ASSIGNED, Reason.SHIPPED)
                assert (a.holdout_id, a.holdout_variant) == ("holdout-checkout", "exposed")
        # assign_many is assign
        sample = UNITS[:2000]
        assert [service.assign(u, experiment.experiment_id) for u in sample] == got[:2000]


def test_not_held_out_units_keep_their_variant() -> None:
    """A holdout only takes units away: the others get what they got without it."""
    for experiment in COVERED[:3]:
        eid = experiment.experiment_id
        without = answers(COVERED, eid)
        with_holdout = answers([*COVERED, HOLDOUT], eid)
        changed = [i for i, (a, b) in enumerate(zip(without, with_holdout, strict=True)) if a != b]
        assert all(with_holdout[i] == ("control", Reason.HOLDOUT) for i in changed)
        assert within_3_se(len(changed), N, 0.10)  # every held-out unit: reason holdout
        # of those, the ones not already control change variant: 10% x (1 - 1/k), k variants
        moved = sum(1 for i in changed if without[i][0] != "control")
        assert within_3_se(moved, N, 0.10 * (1 - 1 / len(experiment.variants)))


def test_uncovered_experiments_do_not_change() -> None:
    for experiment in UNCOVERED:
        eid = experiment.experiment_id
        assert answers(UNCOVERED, eid) == answers([*UNCOVERED, HOLDOUT], eid), eid


def test_a_holdout_applies_only_while_running() -> None:
    for status in ("draft", "paused", "stopped"):
        idle = holdout("holdout-checkout", 10, ["checkout"], status=status)
        assert answers(COVERED, "exp-checkout") == answers([*COVERED, idle], "exp-checkout")


def test_the_first_holdout_by_id_names_the_answer() -> None:
    first, second = holdout("holdout-a", 20, ["checkout"]), holdout("holdout-b", 20)
    service = ExperimentAssignmentService([COVERED[0], second, first])
    a_held = {
        u
        for u, a in zip(UNITS, service.assign_many("holdout-a", UNITS), strict=True)
        if a.variant == "held_out"
    }
    b_held = {
        u
        for u, a in zip(UNITS, service.assign_many("holdout-b", UNITS), strict=True)
        if a.variant == "held_out"
    }
    got = service.assign_many("exp-checkout", UNITS)
    for unit, a in zip(UNITS, got, strict=True):
        if unit in a_held:
            assert (a.reason, a.holdout_id, a.holdout_variant) == (
                Reason.HOLDOUT,
                "holdout-a",
                "held_out",
            )
        elif unit in b_held:
            assert (a.reason, a.holdout_id, a.holdout_variant) == (
                Reason.HOLDOUT,
                "holdout-b",
                "held_out",
            )
        else:
            assert (a.reason, a.holdout_id, a.holdout_variant) == (
                Reason.ASSIGNED,
                "holdout-a",
                "exposed",
            )
    # held out by either: 1 - 0.8 * 0.8 of the units (the two holdouts hash independently)
    assert within_3_se(len(a_held | b_held), N, 0.36)


def test_a_cluster_experiment_is_held_out_by_whole_accounts() -> None:
    cluster = exp(
        "exp-cluster",
        assignment={"salt": "c", "hashKey": "accountId"},
        design={"type": "cluster", "analysisUnit": "userId"},
    )
    accounts = holdout("holdout-accounts", 30, assignment={"salt": "h", "hashKey": "accountId"})
    users = holdout("holdout-users", 30)  # keyed on userId: does not cover the cluster
    service = ExperimentAssignmentService([cluster, accounts, users])
    for account in (f"acct-{i}" for i in range(300)):
        seen = {
            service.assign(f"user-{k}", "exp-cluster", {"accountId": account}) for k in range(5)
        }
        assert len(seen) == 1  # every user of an account: one answer
        (a,) = seen
        assert a.holdout_id == "holdout-accounts"
