"""Deterministic assignment: hashing, bucketing, targeting; pure, standard library only.

The algorithm is written down in ``docs/assignment.md`` and pinned by the language-neutral
vectors in ``spec/assignment-cases.json``.

    SplitlabError                (splitlab.errors)
    ├── AssignmentError          the service cannot be built (duplicate experiment ids, ...)
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
from splitlab.assignment.units import resolve_unit
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
    "allocation_threshold",
    "bucket_of",
    "compile_condition",
    "evaluate_condition",
    "hash_input",
    "hash_integers",
    "resolve_unit",
    "validate_condition",
    "variant_edges",
    "variant_index",
]
