"""What an assignment returns: the variant (or None) and the reason for it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Assignment", "Reason"]


class Reason(StrEnum):
    """Why a unit got the variant it got (or none). The order below is the precedence."""

    #: No experiment with that id is known to the service.
    UNKNOWN_EXPERIMENT = "unknown_experiment"
    #: Status ``rolled_back``: everyone gets the control variant.
    ROLLED_BACK = "rolled_back"
    #: Status ``shipped``: everyone gets ``shippedVariant``.
    SHIPPED = "shipped"
    #: The variant toggle (``forcedVariant``) is set: everyone gets that variant.
    TOGGLED = "toggled"
    #: Status ``draft``, ``paused`` or ``stopped``: nobody is exposed.
    NOT_RUNNING = "not_running"
    #: No usable unit id (missing, empty, or not a string / integer).
    MISSING_UNIT_ID = "missing_unit_id"
    #: The unit is on a QA allow-list (``assignment.forced``).
    FORCED = "forced"
    #: The experiment is in a layer (``layer``) and the unit's layer bucket is outside the
    #: experiment's range: the unit belongs to another experiment of the layer, or to none.
    OUTSIDE_LAYER = "outside_layer"
    #: A sticky experiment (``assignment.sticky`` or a bandit) whose sticky store could not
    #: say or keep the unit's variant: no variant is served (the application serves its
    #: default and records no exposure) rather than risk a second arm for an exposed unit.
    STICKY_UNAVAILABLE = "sticky_unavailable"
    #: Targeting (include / exclude rules, condition) does not admit the unit.
    NOT_TARGETED = "not_targeted"
    #: The unit's gate value is above the traffic allocation.
    OUTSIDE_TRAFFIC = "outside_traffic"
    #: A cluster design with an allocation table (``design.allocation``) that does not list
    #: this cluster: it was not part of the randomisation, so it is not in the experiment.
    NOT_ALLOCATED = "not_allocated"
    #: A running holdout covering the experiment holds this unit out: it gets the control
    #: variant and is not part of the experiment (``holdout`` names the holdout).
    HOLDOUT = "holdout"
    #: Bucketed by the hash, or given its variant by the allocation table: the only reason
    #: that counts as an exposure for analysis.
    ASSIGNED = "assigned"


@dataclass(frozen=True, slots=True)
class Assignment:
    """The outcome of assigning one unit to one experiment.

    ``variant`` is None exactly when the unit is not served any variant (unknown experiment,
    not running, missing unit id, not targeted, outside traffic, not allocated, sticky store
    unavailable). Instances are shared: the
    service preallocates one per (variant, reason), so compare them by value.
    """

    experiment_id: str
    variant: str | None
    reason: Reason
    #: Switchback experiments only (None otherwise): the period index of the time used,
    period: int | None = None
    #: the first epoch millisecond of that period,
    period_start_ms: int | None = None
    #: and the switchback unit's value (None for the global unit or when it is missing).
    switchback_unit: str | None = None
    #: The running holdout covering this experiment, when the unit reached the holdout step
    #: (reason ``holdout``: held out; reason ``assigned``: in the holdout's other group) or was
    #: served a variant kept by a sticky experiment (its group, whatever variant is kept), and
    #: the unit's variant of that holdout: trackers record it as an exposure of the holdout.
    holdout_id: str | None = None
    holdout_variant: str | None = None

    @property
    def in_experiment(self) -> bool:
        """True when the unit is part of the experiment's analysis (reason ``assigned``).

        Forced QA units, toggled, shipped and rolled back variants are served but are not
        randomised, so they must not be tracked as exposures.
        """
        return self.reason is Reason.ASSIGNED

    def to_dict(self) -> dict[str, str | int | None]:
        """camelCase JSON shape: ``{experimentId, variant, reason}``; a running switchback
        adds ``period``, ``periodStart`` (epoch ms) and ``switchbackUnit``; an experiment
        covered by a running holdout adds ``holdoutId`` and ``holdoutVariant``."""
        out: dict[str, str | int | None] = {
            "experimentId": self.experiment_id,
            "variant": self.variant,
            "reason": self.reason.value,
        }
        if self.period is not None:
            out["period"] = self.period
            out["periodStart"] = self.period_start_ms
            out["switchbackUnit"] = self.switchback_unit
        if self.holdout_id is not None:
            out["holdoutId"] = self.holdout_id
            out["holdoutVariant"] = self.holdout_variant
        return out
