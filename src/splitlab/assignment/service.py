"""``ExperimentAssignmentService``: deterministic assignment of units to experiments.

The article's class name is kept so its readers find their way; its defects are not. The
precedence of the reasons (see :class:`~splitlab.assignment.result.Reason` and
``docs/assignment.md``): unknown experiment, status (rolled back, shipped, toggled, not
running), missing unit id, forced allow-list, the layer's range (``outside_layer``), the
sticky store, targeting, then either the allocation table of a cluster design (listed: its
variant; not listed: ``not_allocated``) or the traffic gate, then the running holdouts
covering the experiment (``holdout``: the control), then the weighted split.

Sticky experiments (``assignment.sticky``, and every bandit) ask a
:class:`~splitlab.assignment.sticky.StickyStore` after the status, the unit id and the
allow-list, before targeting, the traffic gate and the hash: a unit that was assigned keeps
its first variant when weights, traffic or targeting change. A store that fails gives no
variant (``sticky_unavailable``). Without a store given, the service keeps one in its memory
(:class:`~splitlab.assignment.sticky.MemoryStickyStore`): correct within one process, lost
with it; a server passes a persistent one.

Switchback experiments (``design.type == "switchback"``) depend on the time: every method
takes ``at`` (epoch ms or an aware datetime); without it the service reads its injectable
``clock`` (``time.time`` by default), its only contact with the outside world.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from splitlab.assignment.plans import AssignmentError, Plan, compile_plan, fixed_outcome
from splitlab.assignment.result import Assignment, Reason
from splitlab.assignment.sticky import MemoryStickyStore, StickyStore
from splitlab.assignment.switchback import epoch_ms
from splitlab.assignment.units import experiment_unit
from splitlab.config.models import Experiment

__all__ = ["ExperimentAssignmentService", "sticky_plan"]

logger = logging.getLogger(__name__)


class ExperimentAssignmentService:
    """Assign units to experiments from their definitions alone: no storage, no I/O.

    Thread-safe for readers: :meth:`update` builds the new plans first and then swaps them in
    with one assignment, so a concurrent :meth:`assign` sees either the old or the new set.
    `clock` returns the current time in seconds since the epoch (``time.time``); it is read
    only for switchback experiments assigned without ``at``.
    """

    def __init__(
        self,
        experiments: Iterable[Experiment] = (),
        saved_groups: Mapping[str, Sequence[Any]] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sticky: StickyStore | None = None,
    ) -> None:
        #: Where sticky experiments keep each unit's first variant (memory when not given).
        self.sticky: StickyStore = sticky if sticky is not None else MemoryStickyStore()
        #: How many sticky assignments answered ``sticky_unavailable`` (the store failed).
        self.sticky_failures = 0
        self._saved_groups: dict[str, Sequence[Any]] = dict(saved_groups or {})
        self._plans: dict[str, Plan] = {}
        self._timed = False
        self._clock = clock
        self.update(experiments)

    def now_ms(self) -> int:
        """The clock's current time in epoch milliseconds (floored)."""
        return math.floor(self._clock() * 1000)

    def update(
        self,
        experiments: Iterable[Experiment],
        saved_groups: Mapping[str, Sequence[Any]] | None = None,
    ) -> None:
        """Replace every experiment (and, when given, the saved groups) at once.

        Raises :class:`AssignmentError` on a duplicate experiment id, and ``ConditionError``
        on malformed targeting; the previous experiments stay in force when it raises.
        """
        groups = self._saved_groups if saved_groups is None else dict(saved_groups)
        plans: dict[str, Plan] = {}
        every = list(experiments)
        # The holdouts first: every plan is given those covering it (compile_plan keeps the
        # running, untoggled ones that cover it, in id order).
        holdouts = [e for e in every if e.is_holdout]
        for experiment in every:
            if experiment.experiment_id in plans:
                raise AssignmentError(
                    f"experimentId {experiment.experiment_id!r} appears more than once; "
                    "expected unique experiment ids"
                )
            plan = compile_plan(experiment, groups, self.now_ms, holdouts)
            if experiment.is_sticky and not plan.timed and fixed_outcome(experiment) is None:
                plan = sticky_plan(experiment, plan, self.sticky, self._count_failure)
            plans[experiment.experiment_id] = plan
        self._saved_groups = groups
        self._plans = plans
        self._timed = any(plan.timed for plan in plans.values())
        logger.debug("assignment plans compiled for %d experiment(s)", len(plans))

    def _count_failure(self) -> None:
        self.sticky_failures += 1  # a lost increment under a race only undercounts a metric

    @property
    def experiments(self) -> dict[str, Experiment]:
        """The experiments in force, by id (a copy)."""
        return {eid: plan.experiment for eid, plan in self._plans.items()}

    def experiment(self, experiment_id: str) -> Experiment:
        """The experiment in force with that id (``KeyError`` when there is none).

        One lookup, where :attr:`experiments` copies every definition.
        """
        return self._plans[experiment_id].experiment

    def assign(
        self,
        unit_id: Any,
        experiment_id: str,
        attributes: Mapping[str, Any] | None = None,
        *,
        at: int | datetime | None = None,
    ) -> Assignment:
        """Assign one unit to one experiment; the reason says why (never a bare None).

        `unit_id` is the id of the randomisation unit; when `attributes` hold a non-null
        value under the experiment's ``hashKey``, that value is the unit instead. A cluster
        design requires that attribute (`unit_id` is no fallback: ``missing_unit_id``). A
        switchback's unit is ``attributes[design.unit]`` (or the one global unit) and its
        variant depends on the time `at` (epoch ms or an aware datetime; default: the
        clock). A bad `at` raises :class:`~splitlab.assignment.switchback.TimeError`.
        """
        plan = self._plans.get(experiment_id)
        if plan is None:
            return Assignment(experiment_id, None, Reason.UNKNOWN_EXPERIMENT)
        if at is None:
            return plan.assign(unit_id, attributes)
        return plan.assign_at(unit_id, attributes, epoch_ms(at))

    def assign_all(
        self,
        unit_id: Any,
        attributes: Mapping[str, Any] | None = None,
        *,
        at: int | datetime | None = None,
    ) -> dict[str, Assignment]:
        """Assign one unit to every experiment that can serve a variant, by experiment id.

        That is every running experiment plus those that serve one variant to everyone
        (rolled back, shipped, toggled); draft, paused and stopped experiments are left out.
        Every switchback is assigned at the same time (`at`, or one reading of the clock).
        """
        if at is None and not self._timed:
            return {
                eid: plan.assign(unit_id, attributes)
                for eid, plan in self._plans.items()
                if plan.serves
            }
        t_ms = self.now_ms() if at is None else epoch_ms(at)
        return {
            eid: plan.assign_at(unit_id, attributes, t_ms)
            for eid, plan in self._plans.items()
            if plan.serves
        }

    def assign_many(
        self,
        experiment_id: str,
        unit_ids: Sequence[Any],
        attributes: Sequence[Mapping[str, Any] | None] | None = None,
        *,
        at: int | datetime | None = None,
    ) -> list[Assignment]:
        """Assign many units to one experiment: the same results as :meth:`assign`, faster.

        For back-fills and audits. `attributes`, when given, has one mapping (or None) per
        unit, in the same order. A switchback assigns every unit at the same time (`at`, or
        one reading of the clock).
        """
        units = unit_ids if isinstance(unit_ids, list | tuple) else list(unit_ids)
        plan = self._plans.get(experiment_id)
        if plan is None:
            unknown = Assignment(experiment_id, None, Reason.UNKNOWN_EXPERIMENT)
            return [unknown] * len(units)
        if at is None or not plan.timed:
            if at is not None:
                epoch_ms(at)  # a bad time is refused whatever the experiment
            return plan.many(units, attributes)
        if attributes is not None and len(attributes) != len(units):
            raise AssignmentError(
                f"attributes must have one entry per unit id ({len(units)}), got {len(attributes)}"
            )
        t_ms = epoch_ms(at)
        each = attributes if attributes is not None else [None] * len(units)
        return [plan.assign_at(u, a, t_ms) for u, a in zip(units, each, strict=True)]


def sticky_plan(
    experiment: Experiment,
    plan: Plan,
    store: StickyStore,
    on_failure: Callable[[], None] | None = None,
) -> Plan:
    """`plan` (a running, untimed experiment's) with each unit's first variant kept in `store`.

    Order: the unit id, the allow-list and the layer as in `plan`; then the stored variant,
    if any (served as an ``assigned`` answer whatever targeting, traffic, weights and
    holdouts say now; under a covering holdout it names the unit's holdout group, as the
    holdout step would, so trackers record both groups alike); otherwise `plan`'s
    answer, and an ``assigned`` one is put in the store (insert-if-absent: when another
    request put one first, that one is served). Any failure of the store answers
    ``sticky_unavailable``, is logged and counted through `on_failure`. A stored variant that
    is no longer one of the experiment's variants is ignored (there is nothing to keep).
    """
    eid = experiment.experiment_id
    assigned = {name: Assignment(eid, name, Reason.ASSIGNED) for name in experiment.variant_names}
    unavailable = Assignment(eid, None, Reason.STICKY_UNAVAILABLE)
    forced = {u for units in experiment.assignment.forced.values() for u in units}
    base = plan.assign
    in_layer = plan.layer
    decide = plan.decide
    named = plan.kept

    def failed(unit: str, exc: BaseException) -> Assignment:
        logger.warning("sticky store failed for %s / %s: %s", eid, unit, exc)
        if on_failure is not None:
            on_failure()
        return unavailable

    def assign(unit_id: Any, attributes: Mapping[str, Any] | None) -> Assignment:
        unit = experiment_unit(experiment, unit_id, attributes)
        if unit is None or unit in forced:
            return base(unit_id, attributes)
        if in_layer is not None:
            outside = in_layer(unit)  # the layer comes before the store
            if outside is not None:
                return outside
        try:
            kept = store.get(eid, unit)
        except Exception as exc:  # any failure: never a silent second arm
            return failed(unit, exc)
        if kept is not None and kept in assigned:
            # Served whatever the holdouts say; the answer names the unit's holdout group.
            return assigned[kept] if named is None else named(unit, assigned[kept])
        # A held-out unit (reason holdout) is not assigned, so it is never stored.
        answer = base(unit_id, attributes) if decide is None else decide(unit, attributes)
        if answer.reason is not Reason.ASSIGNED or answer.variant is None:
            return answer
        try:
            kept = store.put(eid, unit, answer.variant)
        except Exception as exc:
            return failed(unit, exc)
        if kept == answer.variant or kept not in assigned:
            return answer
        return assigned[kept] if named is None else named(unit, assigned[kept])

    def many(
        unit_ids: Sequence[Any], attributes: Sequence[Mapping[str, Any] | None] | None
    ) -> list[Assignment]:
        if attributes is not None and len(attributes) != len(unit_ids):
            raise AssignmentError(
                f"attributes must have one entry per unit id ({len(unit_ids)}), "
                f"got {len(attributes)}"
            )
        if attributes is None:
            return [assign(u, None) for u in unit_ids]
        return [assign(u, a) for u, a in zip(unit_ids, attributes, strict=True)]

    return Plan(experiment, assign, many, plan.serves)
