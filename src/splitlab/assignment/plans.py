"""Per-experiment assignment plans, compiled once so that assigning a unit is one hash.

A plan precomputes everything that does not depend on the unit: the encoded prefix of the
hashed string, the integer gate and variant edges, the compiled targeting predicate, the
forced allow-list, the allocation table of a cluster design that has one (served instead of
the gate and the hash), and one shared :class:`Assignment` per possible outcome. Assigning a unit
then costs one SHA-256 call and a few byte-string comparisons. An experiment in a layer or
covered by a running holdout gets the plan of :mod:`splitlab.assignment.layers` instead (one
more digest for each); the others keep this one unchanged.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from splitlab.assignment.hashing import (
    allocation_threshold,
    edge_keys,
    experiment_prefix,
    gate_key,
    variant_edges,
)
from splitlab.assignment.layers import (
    Decide,
    HoldoutStep,
    LayerStep,
    applying_holdouts,
    compile_layered,
    shipped_with_holdouts,
)
from splitlab.assignment.result import Assignment, Reason
from splitlab.assignment.switchback import AssignAt, compile_switchback
from splitlab.assignment.targeting import compile_targeting
from splitlab.assignment.units import unit_text
from splitlab.config.designs import ClusterDesign
from splitlab.config.models import Experiment, Status
from splitlab.errors import SplitlabError

__all__ = ["AssignmentError", "Plan", "compile_plan", "fixed_outcome"]

#: One unit: (unit_id, attributes) -> Assignment.
AssignOne = Callable[[Any, Mapping[str, Any] | None], Assignment]
#: A batch: (unit_ids, per-unit attributes or None) -> list of Assignment.
AssignMany = Callable[[Sequence[Any], Sequence[Mapping[str, Any] | None] | None], list[Assignment]]
#: A clock: the current time in epoch milliseconds.
Clock = Callable[[], int]

_NO_ATTRIBUTES: Mapping[str, Any] = MappingProxyType({})
_NOT_RUNNING = frozenset({Status.DRAFT, Status.PAUSED, Status.STOPPED})


class AssignmentError(SplitlabError, ValueError):
    """The service cannot be built from the experiments it was given."""

    code = "invalid_assignment_setup"


class Plan:
    """The compiled form of one experiment: ``assign`` for one unit, ``many`` for a batch.

    ``assign_at`` takes the time as well (epoch ms); only a running switchback (``timed``)
    reads it, and its ``assign`` reads the clock it was compiled with.
    """

    __slots__ = (
        "assign",
        "assign_at",
        "decide",
        "experiment",
        "kept",
        "layer",
        "many",
        "serves",
        "timed",
    )

    def __init__(
        self,
        experiment: Experiment,
        assign: AssignOne,
        many: AssignMany,
        serves: bool,
        assign_at: AssignAt | None = None,
        *,
        layer: LayerStep | None = None,
        decide: Decide | None = None,
        kept: HoldoutStep | None = None,
    ) -> None:
        self.experiment = experiment
        #: The holdout step of a variant kept in the sticky store: names the unit's holdout
        #: group on the kept answer (None: no covering holdout).
        self.kept = kept
        #: A layered or covered plan's steps, for the sticky store to go between: the layer
        #: check of a resolved unit (None: no layer), and everything after the sticky step
        #: (None: the plan has neither a layer nor a covering holdout).
        self.layer = layer
        self.decide = decide
        self.assign = assign
        self.many = many
        #: True when the plan can serve a variant (running, or one variant for everyone).
        self.serves = serves
        #: True when the answer depends on the time (a running switchback).
        self.timed = assign_at is not None
        if assign_at is None:

            def untimed(
                unit_id: Any, attributes: Mapping[str, Any] | None, t_ms: int
            ) -> Assignment:
                return assign(unit_id, attributes)

            assign_at = untimed
        self.assign_at = assign_at


def compile_plan(
    experiment: Experiment,
    saved_groups: Mapping[str, Sequence[Any]] | None = None,
    clock: Clock | None = None,
    holdouts: Sequence[Experiment] = (),
) -> Plan:
    """Compile `experiment`; the status decides first, then the running-experiment steps.

    `clock` (epoch ms) is read by a running switchback's ``assign`` when no time is given.
    `holdouts`: the holdout experiments known (those running, untoggled and covering
    `experiment` apply: :func:`~splitlab.assignment.layers.applying_holdouts`).
    """
    fixed = fixed_outcome(experiment)
    covering = applying_holdouts(experiment, holdouts) if holdouts else []
    if fixed is not None and covering and experiment.status is Status.SHIPPED:
        shipped = shipped_with_holdouts(experiment, fixed, covering)

        def many_shipped(
            unit_ids: Sequence[Any], attributes: Sequence[Mapping[str, Any] | None] | None
        ) -> list[Assignment]:
            _check_lengths(unit_ids, attributes)
            each = attributes if attributes is not None else [None] * len(unit_ids)
            return [shipped(u, a) for u, a in zip(unit_ids, each, strict=True)]

        return Plan(experiment, shipped, many_shipped, True)
    if fixed is not None:

        def assign_fixed(unit_id: Any, attributes: Mapping[str, Any] | None) -> Assignment:
            return fixed

        def many_fixed(
            unit_ids: Sequence[Any], attributes: Sequence[Mapping[str, Any] | None] | None
        ) -> list[Assignment]:
            _check_lengths(unit_ids, attributes)
            return [fixed] * len(unit_ids)

        return Plan(experiment, assign_fixed, many_fixed, fixed.variant is not None)
    if experiment.is_switchback:
        return _switchback_plan(experiment, saved_groups, clock)
    if experiment.layer is not None or covering:
        layered = compile_layered(experiment, saved_groups, covering)
        many_layered = layered.many

        def many_checked(
            unit_ids: Sequence[Any], attributes: Sequence[Mapping[str, Any] | None] | None
        ) -> list[Assignment]:
            _check_lengths(unit_ids, attributes)
            return many_layered(unit_ids, attributes)

        return Plan(
            experiment,
            layered.assign,
            many_checked,
            True,
            layer=layered.layer,
            decide=layered.decide,
            kept=layered.kept,
        )
    assign, many = _running(experiment, saved_groups)
    return Plan(experiment, assign, many, True)


def _switchback_plan(
    experiment: Experiment,
    saved_groups: Mapping[str, Sequence[Any]] | None,
    clock: Clock | None,
) -> Plan:
    """A running switchback: every call needs a time, the clock's when none is given."""
    assign_at = compile_switchback(experiment, saved_groups)
    if clock is None:
        raise AssignmentError(
            f"experiment {experiment.experiment_id!r} is a switchback: its plan needs a clock"
        )
    now = clock

    def assign(unit_id: Any, attributes: Mapping[str, Any] | None) -> Assignment:
        return assign_at(unit_id, attributes, now())

    def many(
        unit_ids: Sequence[Any], attributes: Sequence[Mapping[str, Any] | None] | None
    ) -> list[Assignment]:
        _check_lengths(unit_ids, attributes)
        t_ms = now()  # one time for the whole batch
        if attributes is None:
            return [assign_at(u, None, t_ms) for u in unit_ids]
        return [assign_at(u, a, t_ms) for u, a in zip(unit_ids, attributes, strict=True)]

    return Plan(experiment, assign, many, True, assign_at)


def fixed_outcome(experiment: Experiment) -> Assignment | None:
    """The one answer every unit gets, when the status (or the toggle) decides alone.

    None for a running experiment without a toggle (each unit is hashed). The dashboard
    describes what units get with this same function, so the page and ``/v1/assign`` agree.
    """
    eid = experiment.experiment_id
    if experiment.status is Status.ROLLED_BACK:
        return Assignment(eid, experiment.control, Reason.ROLLED_BACK)
    if experiment.status is Status.SHIPPED:
        if experiment.shipped_variant not in experiment.variant_names:
            raise AssignmentError(
                f"experiment {eid!r}: shippedVariant must name one of the variants "
                f"{list(experiment.variant_names)} when status is 'shipped' "
                f"(got {experiment.shipped_variant!r})"
            )
        return Assignment(eid, experiment.shipped_variant, Reason.SHIPPED)
    if experiment.forced_variant:
        return Assignment(eid, experiment.forced_variant, Reason.TOGGLED)
    if experiment.status in _NOT_RUNNING:
        return Assignment(eid, None, Reason.NOT_RUNNING)
    return None


def _check_lengths(
    unit_ids: Sequence[Any], attributes: Sequence[Mapping[str, Any] | None] | None
) -> None:
    if attributes is not None and len(attributes) != len(unit_ids):
        raise AssignmentError(
            f"attributes must have one entry per unit id ({len(unit_ids)}), got {len(attributes)}"
        )


def _allocation_table(experiment: Experiment) -> dict[str, Assignment] | None:
    """Cluster -> its shared ``assigned`` answer, for a design with an allocation table."""
    design = experiment.design
    if not isinstance(design, ClusterDesign) or design.allocation is None:
        return None
    eid = experiment.experiment_id
    answers = {name: Assignment(eid, name, Reason.ASSIGNED) for name in experiment.variant_names}
    return {
        cluster: answers.get(variant) or Assignment(eid, variant, Reason.ASSIGNED)
        for cluster, variant in design.allocation.table.items()
    }


def _running(
    experiment: Experiment, saved_groups: Mapping[str, Sequence[Any]] | None
) -> tuple[AssignOne, AssignMany]:
    """The closures of a running experiment; every value they use is bound here, once."""
    eid = experiment.experiment_id
    hash_key = experiment.assignment.hash_key
    prefix = experiment_prefix(eid, experiment.assignment.salt)
    gate = allocation_threshold(experiment.traffic_allocation)
    weights = [v.weight if v.weight is not None else 1.0 for v in experiment.variants]
    edges = variant_edges(weights)
    assigned = tuple(Assignment(eid, name, Reason.ASSIGNED) for name in experiment.variant_names)
    forced = {
        unit: Assignment(eid, variant, Reason.FORCED)
        for variant, units in experiment.assignment.forced.items()
        for unit in units
    }
    table = _allocation_table(experiment)
    missing = Assignment(eid, None, Reason.MISSING_UNIT_ID)
    not_targeted = Assignment(eid, None, Reason.NOT_TARGETED)
    outside = Assignment(eid, None, Reason.OUTSIDE_TRAFFIC)
    not_allocated = Assignment(eid, None, Reason.NOT_ALLOCATED)
    targeted = compile_targeting(experiment.targeting, saved_groups)
    # Units given without attributes are targeted exactly when the empty mapping is.
    bare_targeted = targeted is None or targeted(_NO_ATTRIBUTES)
    sha256 = hashlib.sha256
    no_attributes = _NO_ATTRIBUTES
    # Decisions compare bytes, not ints: see hashing.gate_key and hashing.edge_keys.
    gate_bytes = gate_key(gate)
    edge_bytes = edge_keys(edges)

    # A cluster design hashes the cluster attribute only: the request's own id (a user) is
    # never a stand-in for its cluster (docs/assignment.md, "Which unit is hashed").
    fallback = not isinstance(experiment.design, ClusterDesign)

    def assign(unit_id: Any, attributes: Mapping[str, Any] | None) -> Assignment:
        unit = unit_id if fallback else None
        if attributes is not None:
            value = attributes.get(hash_key)
            if value is not None:
                unit = value
        if unit.__class__ is not str or not unit:
            unit = unit_text(unit)
            if unit is None:
                return missing
        if forced:
            hit = forced.get(unit)
            if hit is not None:
                return hit
        if targeted is not None and not targeted(
            no_attributes if attributes is None else attributes
        ):
            return not_targeted
        if table is not None:
            return table.get(unit, not_allocated)
        try:
            data = prefix + unit.encode()
        except UnicodeEncodeError:  # a lone surrogate: not text, so not a usable unit id
            return missing
        digest = sha256(data).digest()
        if gate_bytes is not None and digest[6:12] >= gate_bytes:
            return outside
        return assigned[bisect_right(edge_bytes, digest)]

    def many(
        unit_ids: Sequence[Any], attributes: Sequence[Mapping[str, Any] | None] | None
    ) -> list[Assignment]:
        _check_lengths(unit_ids, attributes)
        if attributes is not None:
            return [assign(u, a) for u, a in zip(unit_ids, attributes, strict=True)]
        if not fallback:  # a cluster design without attributes: no cluster to hash
            return [missing] * len(unit_ids)
        if forced or table is not None or not bare_targeted or "" in unit_ids:
            return [assign(u, None) for u in unit_ids]
        try:
            # The hot loops: every unit a non-empty str, no allow-list, targeting settled.
            if gate_bytes is None:
                return [
                    assigned[bisect_right(edge_bytes, sha256(prefix + u.encode()).digest())]
                    for u in unit_ids
                ]
            return [
                outside
                if (d := sha256(prefix + u.encode()).digest())[6:12] >= gate_bytes
                else assigned[bisect_right(edge_bytes, d)]
                for u in unit_ids
            ]
        except (AttributeError, UnicodeEncodeError):
            # A unit that is not a str (None, an integer) or not valid text: take the
            # per-unit path, which resolves each one exactly as assign() does.
            return [assign(u, None) for u in unit_ids]

    return assign, many
