"""Plans of experiments in a layer or covered by a running holdout (docs/assignment.md).

The steps after the status, in order: the unit id, the allow-list (``forced``), the layer
(``outside_layer``: one extra digest), the sticky store (added by the service around
:attr:`Layered.decide`), targeting, the allocation table or the traffic gate, the holdouts
(``holdout``: one extra digest per covering holdout until one holds the unit out), the split.
An experiment with neither a layer nor a covering holdout never reaches this module: its plan
is the one-digest plan of :mod:`splitlab.assignment.plans`, unchanged.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from splitlab.assignment.hashing import (
    BUCKETS,
    allocation_threshold,
    edge_keys,
    experiment_prefix,
    gate_key,
    layer_edge,
    variant_edges,
)
from splitlab.assignment.result import Assignment, Reason
from splitlab.assignment.targeting import compile_targeting
from splitlab.assignment.units import experiment_unit, unit_text
from splitlab.config.designs import ClusterDesign
from splitlab.config.layers import LAYER_BUCKETS, Layer, holdout_covers
from splitlab.config.models import Experiment, Status

__all__ = [
    "HoldoutStep",
    "Layered",
    "applying_holdouts",
    "compile_holdouts",
    "compile_layered",
    "layer_step",
    "shipped_with_holdouts",
]

_NO_ATTRIBUTES: Mapping[str, Any] = MappingProxyType({})
#: The steps after the sticky store, for a resolved unit: (unit, attributes) -> answer.
Decide = Callable[[str, Mapping[str, Any] | None], Assignment]
#: The layer step for a resolved unit: None when the unit is in the range, else the answer.
LayerStep = Callable[[str], Assignment | None]
#: The holdout step: (unit, answer of the split or the table) -> the final answer.
HoldoutStep = Callable[[str, Assignment], Assignment]


def applying_holdouts(experiment: Experiment, holdouts: Sequence[Experiment]) -> list[Experiment]:
    """The holdouts of `holdouts` that apply to `experiment`, in id order: running, not
    toggled, and covering it (:func:`~splitlab.config.layers.holdout_covers`)."""
    return sorted(
        (
            h
            for h in holdouts
            if h.is_holdout
            and h.status is Status.RUNNING
            and h.forced_variant is None
            and holdout_covers(h, experiment)
        ),
        key=lambda h: h.experiment_id,
    )


def layer_step(experiment: Experiment, layer: Layer) -> LayerStep:
    """The range check: one SHA-256 of ``splitlab/layer/v1|<layer id>|<unit>``.

    Compared as bytes like the gate (:func:`~splitlab.assignment.hashing.gate_key`): a digest
    is at least a 6-byte key exactly when its layer integer is, and below it exactly when its
    layer integer is below it.
    """
    eid = experiment.experiment_id
    outside = Assignment(eid, None, Reason.OUTSIDE_LAYER)
    missing = Assignment(eid, None, Reason.MISSING_UNIT_ID)
    head = f"splitlab/layer/v1|{layer.id}|".encode()
    low = layer_edge(layer.start, LAYER_BUCKETS)
    high = layer_edge(layer.end, LAYER_BUCKETS)
    low_key = low.to_bytes(6, "big") if low > 0 else None
    high_key = high.to_bytes(6, "big") if high < BUCKETS else None
    sha256 = hashlib.sha256

    def step(unit: str) -> Assignment | None:
        try:
            digest = sha256(head + unit.encode()).digest()
        except UnicodeEncodeError:  # a lone surrogate: not text, so not a usable unit id
            return missing
        if (low_key is not None and digest < low_key) or (
            high_key is not None and digest >= high_key
        ):
            return outside
        return None

    return step


def compile_holdouts(
    experiment: Experiment, holdouts: Sequence[Experiment], *, kept: bool = False
) -> HoldoutStep:
    """The holdout step of `experiment`, covered by the running `holdouts` (any order).

    Each holdout's membership is its own ordinary assignment of the unit: the digest of its
    ``experimentId`` and salt, split over its two weights; index 0 (the first variant) is
    held out. Holdouts are checked in id order; the first that holds the unit out answers
    ``holdout`` (the control variant); when none does the answer keeps its variant and names
    the first holdout and its second variant.

    `kept`: the step for a variant kept in the sticky store, which is served whatever the
    holdouts say; the answer only names the unit's holdout group (the first holdout that
    holds it out and its first variant, else as above), so that every unit reaching a
    covered experiment is recorded in its own group of the holdout on every request.
    """
    eid = experiment.experiment_id
    ordered = sorted(holdouts, key=lambda h: h.experiment_id)
    if not ordered:
        raise ValueError(f"experiment {eid!r}: a holdout step needs at least one holdout")
    first = ordered[0]
    checks: list[tuple[bytes, bytes, Assignment]] = []
    for holdout in ordered:
        weights = [v.weight if v.weight is not None else 1.0 for v in holdout.variants]
        key = edge_keys(variant_edges(weights))[0]
        held = Assignment(
            eid,
            experiment.control,
            Reason.HOLDOUT,
            holdout_id=holdout.experiment_id,
            holdout_variant=holdout.variants[0].name,
        )
        prefix = experiment_prefix(holdout.experiment_id, holdout.assignment.salt)
        checks.append((prefix, key, held))
    others = first.variants[1].name
    missing = Assignment(eid, None, Reason.MISSING_UNIT_ID)
    cache: dict[tuple[str | None, Reason], Assignment] = {}
    sha256 = hashlib.sha256

    def passed(answer: Assignment) -> Assignment:
        got = cache.get((answer.variant, answer.reason))
        if got is None:
            got = Assignment(
                eid, answer.variant, answer.reason, holdout_id=first.experiment_id,
                holdout_variant=others,
            )  # fmt: skip
            if len(cache) < 1024:  # one per (variant, reason); a bound all the same
                cache[(answer.variant, answer.reason)] = got
        return got

    named: dict[tuple[str, str | None], Assignment] = {}

    def named_kept(held: Assignment, answer: Assignment) -> Assignment:
        """`answer` (a kept variant) naming the holdout that holds its unit out."""
        got = named.get((held.holdout_id or "", answer.variant))
        if got is None:
            got = Assignment(
                eid, answer.variant, answer.reason, holdout_id=held.holdout_id,
                holdout_variant=held.holdout_variant,
            )  # fmt: skip
            if len(named) < 1024:
                named[(held.holdout_id or "", answer.variant)] = got
        return got

    def step(unit: str, answer: Assignment) -> Assignment:
        try:
            data = unit.encode()
        except UnicodeEncodeError:  # a lone surrogate: not text, so not a usable unit id
            return missing
        for prefix, key, held in checks:
            if sha256(prefix + data).digest() < key:
                return named_kept(held, answer) if kept else held
        return passed(answer)

    return step


class Layered:
    """The closures of a running experiment with a layer and/or covering holdouts.

    ``assign`` / ``many`` are the whole plan; ``layer`` and ``decide`` let the service put the
    sticky store between the layer and targeting (``layer`` is None without a layer).
    """

    __slots__ = ("assign", "decide", "kept", "layer", "many")

    def __init__(
        self,
        experiment: Experiment,
        saved_groups: Mapping[str, Sequence[Any]] | None,
        holdouts: Sequence[Experiment],
    ) -> None:
        eid = experiment.experiment_id
        hash_key = experiment.assignment.hash_key
        prefix = experiment_prefix(eid, experiment.assignment.salt)
        gate_bytes = gate_key(allocation_threshold(experiment.traffic_allocation))
        weights = [v.weight if v.weight is not None else 1.0 for v in experiment.variants]
        edge_bytes = edge_keys(variant_edges(weights))
        assigned = tuple(Assignment(eid, n, Reason.ASSIGNED) for n in experiment.variant_names)
        forced = {
            unit: Assignment(eid, variant, Reason.FORCED)
            for variant, units in experiment.assignment.forced.items()
            for unit in units
        }
        design = experiment.design
        table: dict[str, Assignment] | None = None
        if isinstance(design, ClusterDesign) and design.allocation is not None:
            by_name = {a.variant: a for a in assigned}
            table = {
                cluster: by_name.get(variant) or Assignment(eid, variant, Reason.ASSIGNED)
                for cluster, variant in design.allocation.table.items()
            }
        missing = Assignment(eid, None, Reason.MISSING_UNIT_ID)
        not_targeted = Assignment(eid, None, Reason.NOT_TARGETED)
        outside = Assignment(eid, None, Reason.OUTSIDE_TRAFFIC)
        not_allocated = Assignment(eid, None, Reason.NOT_ALLOCATED)
        targeted = compile_targeting(experiment.targeting, saved_groups)
        in_layer = layer_step(experiment, experiment.layer) if experiment.layer else None
        held = compile_holdouts(experiment, holdouts) if holdouts else None
        fallback = not isinstance(design, ClusterDesign)
        sha256 = hashlib.sha256
        no_attributes = _NO_ATTRIBUTES

        def decide(unit: str, attributes: Mapping[str, Any] | None) -> Assignment:
            """Targeting, the table or the gate, the holdouts and the split."""
            if targeted is not None and not targeted(
                no_attributes if attributes is None else attributes
            ):
                return not_targeted
            if table is not None:
                answer = table.get(unit, not_allocated)
                if held is None or answer is not_allocated:
                    return answer
                return held(unit, answer)
            try:
                digest = sha256(prefix + unit.encode()).digest()
            except UnicodeEncodeError:
                return missing
            if gate_bytes is not None and digest[6:12] >= gate_bytes:
                return outside
            answer = assigned[bisect_right(edge_bytes, digest)]
            return answer if held is None else held(unit, answer)

        def assign(unit_id: Any, attributes: Mapping[str, Any] | None) -> Assignment:
            # The unit and allow-list steps are plans._running's, inlined in both on purpose:
            # this is the per-request path, and a shared helper would cost every call.
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
            if in_layer is not None:
                out = in_layer(unit)
                if out is not None:
                    return out
            return decide(unit, attributes)

        def many(
            unit_ids: Sequence[Any], attributes: Sequence[Mapping[str, Any] | None] | None
        ) -> list[Assignment]:
            # (the plan checks the lengths first)
            if attributes is None:
                return [assign(u, None) for u in unit_ids]
            return [assign(u, a) for u, a in zip(unit_ids, attributes, strict=True)]

        self.assign = assign
        self.many = many
        self.decide: Decide = decide
        self.layer: LayerStep | None = in_layer
        #: The holdout step of a variant kept in the sticky store (None: no holdout).
        self.kept: HoldoutStep | None = (
            compile_holdouts(experiment, holdouts, kept=True) if holdouts else None
        )


def compile_layered(
    experiment: Experiment,
    saved_groups: Mapping[str, Sequence[Any]] | None,
    holdouts: Sequence[Experiment],
) -> Layered:
    """The plan closures of a running `experiment` in a layer or covered by `holdouts`."""
    return Layered(experiment, saved_groups, holdouts)


def shipped_with_holdouts(
    experiment: Experiment, shipped: Assignment, holdouts: Sequence[Experiment]
) -> Callable[[Any, Mapping[str, Any] | None], Assignment]:
    """A shipped experiment covered by running `holdouts`: held-out units get the control
    (reason ``holdout``), the others `shipped` with the holdout named; a unit with no usable
    id gets `shipped` (there is nothing to hash)."""
    held = compile_holdouts(experiment, holdouts)

    def assign(unit_id: Any, attributes: Mapping[str, Any] | None) -> Assignment:
        unit = experiment_unit(experiment, unit_id, attributes)
        if unit is None:
            return shipped
        answer = held(unit, shipped)
        return shipped if answer.reason is Reason.MISSING_UNIT_ID else answer

    return assign
