"""What a kept variant of a sticky experiment costs under a covering holdout.

A kept variant's answer names the unit's holdout group (docs/assignment.md, "Sticky
assignment"), so it hashes the unit once per covering holdout until one holds it out. Three
services over the same 50,000 units, every unit already kept (a memory store), timed in
alternating rounds: no holdout (the baseline), one covering holdout (10%), three (5% each).

Run: ``cd bench && ../.venv/bin/python sticky_holdout.py``. Prints medians of the rounds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness import compare, report
from splitlab.assignment import ExperimentAssignmentService
from splitlab.assignment.sticky import MemoryStickyStore
from splitlab.config import load_experiment

UNITS = [f"user-{i}" for i in range(50_000)]
METRICS = {"primary": {"name": "purchase"}}


def _holdout(eid: str, percent: float) -> Any:
    return load_experiment({
        "experimentId": eid, "status": "running", "variants": ["held_out", "exposed"],
        "assignment": {"salt": eid}, "metrics": METRICS,
        "design": {"type": "holdout", "percent": percent, "scope": None},
    })  # fmt: skip


def _service(holdouts: list[Any]) -> ExperimentAssignmentService:
    sticky = load_experiment({
        "experimentId": "exp-s", "status": "running", "variants": ["control", "treatment"],
        "assignment": {"salt": "s", "sticky": True}, "metrics": METRICS,
    })  # fmt: skip
    service = ExperimentAssignmentService([sticky, *holdouts], sticky=MemoryStickyStore())
    service.assign_many("exp-s", UNITS)  # every unit kept (held-out ones are not stored)
    return service


def _round(service: ExperimentAssignmentService) -> Callable[[], object]:
    return lambda: service.assign_many("exp-s", UNITS)


def main() -> None:
    cases = {
        "kept, no holdout": _service([]),
        "kept, 1 covering holdout": _service([_holdout("h-1", 10)]),
        "kept, 3 covering holdouts": _service([_holdout(f"h-{k}", 5) for k in range(3)]),
    }
    measured = compare({name: _round(s) for name, s in cases.items()}, len(UNITS))
    report("Sticky kept answers under holdouts: 50,000 units", measured, "kept, no holdout")


if __name__ == "__main__":
    main()
