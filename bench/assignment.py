"""Assignment speed: splitlab's single-call and batch paths, the SHA-256 floor, GrowthBook.

Run: ``.venv-bench/bin/python bench/assignment.py`` (``make bench`` installs growthbook).

Cases, measured alternately in one process (bench/harness.py), 100,000 distinct units each:

* ``splitlab assign() + rules``: the article's experiment (3 variants, its include/exclude
  targeting), allocation 1.0 so every unit is targeted and hashed, one call per unit.
* ``splitlab assign() + condition``: the same targeting written as a condition.
* ``growthbook run() + condition``: GrowthBook's Python SDK on the equivalent experiment
  (3 variations, coverage 1.0, the same condition), ``set_attributes`` + ``run`` per unit.
* ``splitlab assign_many()``: the batch path on the experiment without targeting, at
  allocations 1.0 and 0.25.
* ``sha256 floor``: ``hashlib.sha256(prefix + unit.encode()).digest()`` for every unit,
  collected in a list as a batch must; ``sha256 bare loop`` discards the digests.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from harness import compare, report
from splitlab.assignment import ExperimentAssignmentService, Reason
from splitlab.assignment.hashing import experiment_prefix
from splitlab.config import load_experiment

ROOT = Path(__file__).resolve().parent.parent
N = 100_000
CONDITION = {"region": "US", "accountType": "free", "internal": {"$ne": True}, "bot": {"$ne": True}}


def definition(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((ROOT / "examples" / "exp-checkout-flow-v3.json").read_text())
    raw["trafficAllocation"] = 1.0
    raw.update(changes)
    return raw


def main() -> None:
    units = [f"user-{i}" for i in range(N)]
    attrs = [{"region": "US", "accountType": "free", "plan": "pro", "id": u} for u in units]
    rules = load_experiment(definition())
    eid = rules.experiment_id
    with_rules = ExperimentAssignmentService([rules])
    with_condition = ExperimentAssignmentService(
        [load_experiment(definition(targeting={"condition": CONDITION}))]
    )
    untargeted = ExperimentAssignmentService([load_experiment(definition(targeting={}))])
    quarter = ExperimentAssignmentService(
        [load_experiment(definition(targeting={}, trafficAllocation=0.25))]
    )
    assert all(a.reason is Reason.ASSIGNED for a in with_rules.assign_many(eid, units, attrs))
    prefix = experiment_prefix(eid, rules.assignment.salt)
    sha256 = hashlib.sha256

    def single_rules() -> None:
        assign = with_rules.assign
        for unit, attributes in zip(units, attrs, strict=True):
            assign(unit, eid, attributes)

    def single_condition() -> None:
        assign = with_condition.assign
        for unit, attributes in zip(units, attrs, strict=True):
            assign(unit, eid, attributes)

    def batch() -> None:
        untargeted.assign_many(eid, units)

    def batch_quarter() -> None:
        quarter.assign_many(eid, units)

    def floor() -> None:
        [sha256(prefix + u.encode()).digest() for u in units]

    def bare_loop() -> None:
        for u in units:
            sha256(prefix + u.encode()).digest()

    cases = {
        "splitlab assign() + rules": single_rules,
        "splitlab assign() + condition": single_condition,
        "splitlab assign_many() alloc 1.0": batch,
        "splitlab assign_many() alloc 0.25": batch_quarter,
        "sha256 floor (list of digests)": floor,
        "sha256 bare loop": bare_loop,
    }
    peer = growthbook_case(attrs)
    if peer is not None:
        cases["growthbook run() + condition"] = peer
    print(f"Python {sys.version.split()[0]}, {N:,} units per round, alternating rounds")
    measurements = compare(cases, ops_per_round=N, rounds=7)
    report(
        "assignment: median per assignment", measurements, baseline="sha256 floor (list of digests)"
    )


def growthbook_case(attrs: list[dict[str, Any]]) -> Any:
    """GrowthBook's run() on the equivalent experiment, or None when it is not installed."""
    try:
        from growthbook import Experiment, GrowthBook
    except ImportError:
        print("growthbook is not installed (make bench-venv); skipping the peer")
        return None
    experiment = Experiment(
        key="exp-checkout-flow-v3",
        variations=["control", "variant-a", "variant-b"],
        coverage=1.0,
        condition=CONDITION,
        hashAttribute="id",
    )
    gb = GrowthBook(attributes={})
    assert gb.run(experiment).inExperiment is False  # empty attributes: not targeted
    gb.set_attributes(attrs[0])
    assert gb.run(experiment).inExperiment

    def run() -> None:
        for attributes in attrs:
            gb.set_attributes(attributes)
            gb.run(experiment)

    return run


if __name__ == "__main__":
    main()
