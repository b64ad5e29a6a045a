"""Changes an automatic controller makes to a live experiment: a canary's step, a bandit's weights.

Kept apart from :mod:`splitlab.evaluation.lifecycle` (status, toggle and definition changes made
by people), whose audit rules they share: each change is written with its audit record (kind
``canary_step`` or ``bandit_update``, and the inputs that produced it) in one transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from splitlab.config import Experiment, Status
from splitlab.evaluation.errors import TransitionError
from splitlab.evaluation.lifecycle import changed_fields, require_text
from splitlab.store.registry_backend import RegistryBackend

__all__ = ["AUTOMATIC_FIELDS", "apply_automatic_change"]

#: What an automatic controller may change on a live experiment, by change kind: the canary
#: monitor moves the ramp (``trafficAllocation`` and ``design.step`` / ``stepStartedAt``), a
#: bandit update writes new weights (``variants[].weight`` and ``design.weightsVersion``).
AUTOMATIC_FIELDS: dict[str, frozenset[str]] = {
    "canary_step": frozenset({"trafficAllocation", "design"}),
    "bandit_update": frozenset({"variants", "design"}),
}


def apply_automatic_change(
    registry: RegistryBackend,
    experiment: Experiment,
    *,
    kind: str,
    by: str,
    reason: str,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Experiment:
    """Store a canary step or a bandit's new weights; audited under ``kind``.

    Only a running experiment changes this way, only in the fields of
    :data:`AUTOMATIC_FIELDS` for ``kind``, never its design type nor its variants' names;
    ``details`` (the judgment or the update's inputs, seed and outputs) go into the audit
    record so that the change can be replayed.
    """
    require_text("by", by)
    require_text("reason", reason)
    allowed = AUTOMATIC_FIELDS.get(kind)
    if allowed is None:
        raise TransitionError(
            f"kind: unknown automatic change {kind!r} (expected one of: "
            f"{', '.join(sorted(AUTOMATIC_FIELDS))})",
            field="kind",
            value=kind,
        )
    with registry.transaction():
        current = registry.get(experiment.id)
        if current.status is not Status.RUNNING:
            raise TransitionError(
                f"status: {experiment.id!r} is {current.status.value!r}; only a running "
                f"experiment takes a {kind} change",
                field="status",
                value=current.status.value,
            )
        old, new = current.to_wire(), experiment.to_wire()
        changed = sorted(changed_fields(old, new))
        frozen = [f for f in changed if f not in allowed]
        same_design = (old.get("design") or {}).get("type") == (new.get("design") or {}).get("type")
        if frozen or not same_design or current.variant_names != experiment.variant_names:
            raise TransitionError(
                f"{', '.join(frozen) or 'design'}: a {kind} change may only touch "
                f"{', '.join(sorted(allowed))} (keeping the design type and variant names)",
                field=frozen[0] if frozen else "design",
                value=None,
            )
        registry.write_state(
            experiment,
            kind=kind,
            from_value=None,
            to_value=None,
            by=by,
            reason=reason,
            at=now or datetime.now(UTC),
            details={"changed": changed, **(details or {})},
        )
    return experiment
