"""``ExperimentAssignmentService``: deterministic assignment of units to experiments.

The article's class name is kept so its readers find their way; its defects are not. The
precedence of the reasons (see :class:`~splitlab.assignment.result.Reason` and
``docs/assignment.md``): unknown experiment, status (rolled back, shipped, toggled, not
running), missing unit id, forced allow-list, targeting, then either the allocation table of
a cluster design (listed: its variant; not listed: ``not_allocated``) or the traffic gate and
the weighted split.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from splitlab.assignment.plans import AssignmentError, Plan, compile_plan
from splitlab.assignment.result import Assignment, Reason
from splitlab.config.models import Experiment

__all__ = ["ExperimentAssignmentService"]

logger = logging.getLogger(__name__)


class ExperimentAssignmentService:
    """Assign units to experiments from their definitions alone: no storage, no I/O.

    Thread-safe for readers: :meth:`update` builds the new plans first and then swaps them in
    with one assignment, so a concurrent :meth:`assign` sees either the old or the new set.
    """

    def __init__(
        self,
        experiments: Iterable[Experiment] = (),
        saved_groups: Mapping[str, Sequence[Any]] | None = None,
    ) -> None:
        self._saved_groups: dict[str, Sequence[Any]] = dict(saved_groups or {})
        self._plans: dict[str, Plan] = {}
        self.update(experiments)

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
        for experiment in experiments:
            if experiment.experiment_id in plans:
                raise AssignmentError(
                    f"experimentId {experiment.experiment_id!r} appears more than once; "
                    "expected unique experiment ids"
                )
            plans[experiment.experiment_id] = compile_plan(experiment, groups)
        self._saved_groups = groups
        self._plans = plans
        logger.debug("assignment plans compiled for %d experiment(s)", len(plans))

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
        self, unit_id: Any, experiment_id: str, attributes: Mapping[str, Any] | None = None
    ) -> Assignment:
        """Assign one unit to one experiment; the reason says why (never a bare None).

        `unit_id` is the id of the randomisation unit; when `attributes` hold a non-null
        value under the experiment's ``hashKey``, that value is the unit instead.
        """
        plan = self._plans.get(experiment_id)
        if plan is None:
            return Assignment(experiment_id, None, Reason.UNKNOWN_EXPERIMENT)
        return plan.assign(unit_id, attributes)

    def assign_all(
        self, unit_id: Any, attributes: Mapping[str, Any] | None = None
    ) -> dict[str, Assignment]:
        """Assign one unit to every experiment that can serve a variant, by experiment id.

        That is every running experiment plus those that serve one variant to everyone
        (rolled back, shipped, toggled); draft, paused and stopped experiments are left out.
        """
        return {
            eid: plan.assign(unit_id, attributes)
            for eid, plan in self._plans.items()
            if plan.serves
        }

    def assign_many(
        self,
        experiment_id: str,
        unit_ids: Sequence[Any],
        attributes: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> list[Assignment]:
        """Assign many units to one experiment: the same results as :meth:`assign`, faster.

        For back-fills and audits. `attributes`, when given, has one mapping (or None) per
        unit, in the same order.
        """
        units = unit_ids if isinstance(unit_ids, list | tuple) else list(unit_ids)
        plan = self._plans.get(experiment_id)
        if plan is None:
            unknown = Assignment(experiment_id, None, Reason.UNKNOWN_EXPERIMENT)
            return [unknown] * len(units)
        return plan.many(units, attributes)
