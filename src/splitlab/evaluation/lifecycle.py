"""The one place where an experiment's status and variant toggle change.

Lifecycle (DESIGN.md): ``draft -> running -> (paused) -> stopped | rolled_back | shipped``,
and ``paused -> running``. ``stopped``, ``rolled_back`` and ``shipped`` are final: a
finished experiment is not restarted (its data would mix two regimes); start a new one with a
new salt instead. Every accepted change is written together with an audit record (who, when,
why, the look that caused it) in one transaction; a refused change raises
:class:`~splitlab.evaluation.errors.TransitionError` naming the current status, the one asked
for and the ones allowed.

The variant toggle (:func:`set_toggle`) forces one variant for everyone while the experiment
is not finished, and is cleared the same way; both are audited too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from splitlab.config import Experiment, Status
from splitlab.evaluation.errors import ToggleError, TransitionError
from splitlab.store.registry import Change, Registry

#: Allowed status changes: current -> the statuses it may move to.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.DRAFT: frozenset({Status.RUNNING}),
    Status.RUNNING: frozenset({Status.PAUSED, Status.STOPPED, Status.ROLLED_BACK, Status.SHIPPED}),
    Status.PAUSED: frozenset({Status.RUNNING, Status.STOPPED, Status.ROLLED_BACK, Status.SHIPPED}),
    Status.STOPPED: frozenset(),
    Status.ROLLED_BACK: frozenset(),
    Status.SHIPPED: frozenset(),
}

#: Statuses after which nothing changes any more.
FINAL: frozenset[Status] = frozenset({Status.STOPPED, Status.ROLLED_BACK, Status.SHIPPED})


def check_transition(current: Status, target: Status) -> None:
    """Raise :class:`TransitionError` unless ``current -> target`` is allowed."""
    allowed = TRANSITIONS[current]
    if target in allowed:
        return
    expected = ", ".join(sorted(s.value for s in allowed)) or "nothing (a final status)"
    raise TransitionError(
        f"status: cannot change from {current.value!r} to {target.value!r} "
        f"(expected one of: {expected})",
        field="status",
        value=target.value,
        current=current.value,
        expected=sorted(s.value for s in allowed),
    )


def change_status(
    registry: Registry,
    experiment_id: str,
    target: Status | str,
    *,
    by: str,
    reason: str,
    variant: str | None = None,
    look: int | None = None,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Experiment:
    """Move an experiment to ``target`` after validating the transition; audited.

    ``variant`` is required for ``shipped`` (the variant everyone gets from then on) and
    refused otherwise. ``look`` names the look that caused the change, if one did.
    """
    target = _status(target)
    _require_text("by", by)
    _require_text("reason", reason)
    with registry.transaction():
        experiment = registry.get(experiment_id)
        check_transition(experiment.status, target)
        update: dict[str, Any] = {"status": target}
        if target is Status.SHIPPED:
            if variant is None:
                raise TransitionError(
                    "variant: shipping needs the variant everyone will get "
                    f"(expected one of: {', '.join(experiment.variant_names)})",
                    field="variant",
                    value=None,
                )
            _require_variant(experiment, variant, TransitionError)
            update["shipped_variant"] = variant
        elif variant is not None:
            raise TransitionError(
                f"variant: only a change to 'shipped' takes a variant (got {variant!r} "
                f"for {target.value!r})",
                field="variant",
                value=variant,
            )
        changed = experiment.model_copy(update=update)
        registry.write_state(
            changed,
            kind="status",
            from_value=experiment.status.value,
            to_value=target.value,
            by=by,
            reason=reason,
            at=now or datetime.now(UTC),
            look=look,
            details={**(details or {}), **({"variant": variant} if variant else {})},
        )
    return changed


def set_toggle(
    registry: Registry,
    experiment_id: str,
    variant: str | None,
    *,
    by: str,
    reason: str,
    now: datetime | None = None,
) -> Experiment:
    """Force ``variant`` for everyone (the variant toggle), or clear it with ``None``; audited.

    Refused for a finished experiment (stopped, rolled back or shipped), whose status already
    decides what everyone gets.
    """
    _require_text("by", by)
    _require_text("reason", reason)
    with registry.transaction():
        experiment = registry.get(experiment_id)
        if experiment.status in FINAL:
            raise ToggleError(
                f"status: experiment {experiment_id!r} is {experiment.status.value!r}; its "
                "status already decides what everyone gets (expected draft, running or paused)",
                field="status",
                value=experiment.status.value,
            )
        if variant is not None:
            _require_variant(experiment, variant, ToggleError)
        if variant == experiment.forced_variant:
            state = f"forced to {variant!r}" if variant else "not toggled"
            raise ToggleError(
                f"forcedVariant: experiment {experiment_id!r} is already {state}",
                field="forcedVariant",
                value=variant,
            )
        changed = experiment.model_copy(update={"forced_variant": variant})
        registry.write_state(
            changed,
            kind="toggle",
            from_value=experiment.forced_variant,
            to_value=variant,
            by=by,
            reason=reason,
            at=now or datetime.now(UTC),
        )
    return changed


def history(registry: Registry, experiment_id: str) -> list[Change]:
    """The audit log of one experiment (status changes and toggles), oldest first."""
    registry.get(experiment_id)
    return registry.changes(experiment_id)


def _status(value: Status | str) -> Status:
    if isinstance(value, Status):
        return value
    try:
        return Status(value)
    except ValueError:
        expected = ", ".join(s.value for s in Status)
        raise TransitionError(
            f"status: unknown status {value!r} (expected one of: {expected})",
            field="status",
            value=value,
        ) from None


def _require_text(name: str, value: str) -> None:
    if not value or not value.strip():
        raise TransitionError(
            f"{name}: every change is recorded with who made it and why "
            f"(expected a non-empty text, got {value!r})",
            field=name,
            value=value,
        )


def _require_variant(
    experiment: Experiment, variant: str, error: type[TransitionError] | type[ToggleError]
) -> None:
    if variant not in experiment.variant_names:
        raise error(
            f"variant: {variant!r} is not a variant of {experiment.id!r} "
            f"(expected one of: {', '.join(experiment.variant_names)})",
            field="variant",
            value=variant,
        )
