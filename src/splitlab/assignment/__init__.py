"""Deterministic assignment: hashing, bucketing, targeting; pure, standard library only.

The algorithm is written down in ``docs/assignment.md`` and pinned by the language-neutral
vectors in ``spec/assignment-cases.json``.

    SplitlabError                (splitlab.errors)
    ├── AssignmentError          the service cannot be built (duplicate experiment ids, ...)
    ├── TimeError                a switchback time that is not a usable instant (also ValueError)
    └── ConditionError           a malformed targeting rule or condition
"""

from splitlab.assignment.hashing import (
    allocation_threshold,
    bucket_of,
    hash_input,
    hash_integers,
    variant_edges,
    variant_index,
)
from splitlab.assignment.plans import AssignmentError
from splitlab.assignment.result import Assignment, Reason
from splitlab.assignment.service import ExperimentAssignmentService
from splitlab.assignment.switchback import (
    TimeError,
    epoch_ms,
    period_index,
    period_start_ms,
    switchback_input,
    switchback_variant,
)
from splitlab.assignment.units import experiment_unit, resolve_unit
from splitlab.config.conditions import (
    ConditionError,
    compile_condition,
    evaluate_condition,
    validate_condition,
)

__all__ = [
    "Assignment",
    "AssignmentError",
    "ConditionError",
    "ExperimentAssignmentService",
    "Reason",
    "TimeError",
    "allocation_threshold",
    "bucket_of",
    "compile_condition",
    "epoch_ms",
    "evaluate_condition",
    "experiment_unit",
    "hash_input",
    "hash_integers",
    "period_index",
    "period_start_ms",
    "resolve_unit",
    "switchback_input",
    "switchback_variant",
    "validate_condition",
    "variant_edges",
    "variant_index",
]
