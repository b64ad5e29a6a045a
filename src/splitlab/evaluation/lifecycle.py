"""The one place where an experiment's status and variant toggle change.

Lifecycle (docs/architecture.md#lifecycle): ``draft -> running -> (paused) -> stopped | rolled_back | shipped``,
and ``paused -> running``. ``stopped``, ``rolled_back`` and ``shipped`` are final: a
finished experiment is not restarted (its data would mix two regimes); start a new one with a
new salt instead. Every accepted change is written together with an audit record (who, when,
why, the look that caused it) in one transaction; a refused change raises
:class:`~splitlab.evaluation.errors.TransitionError` naming the current status, the one asked
for and the ones allowed.

The variant toggle (:func:`set_toggle`) forces one variant for everyone while the experiment
is not finished, and is cleared the same way; a definition update (:func:`update_definition`,
for a ramp-up of ``trafficAllocation``, say) is validated here too; all are audited.

A holdout (``design.type == "holdout"``) ends only by ``stopped``: rolling it back or
toggling it would serve its held-out variant to everybody, and shipping either of its groups
means nothing (it has no feature of its own); those are refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from splitlab.config import ConfigError, Experiment, Status
from splitlab.config.layering import check_against
from splitlab.evaluation.errors import ToggleError, TransitionError
from splitlab.evaluation.versions import weights_version_details
from splitlab.store.registry import Change
from splitlab.store.registry_backend import RegistryBackend

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
    registry: RegistryBackend,
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
    refused otherwise. ``look`` names the look that caused the change, if one did. A final
    status (stopped, rolled back, shipped) clears the variant toggle in the same change, since
    from then on the status alone decides what everyone gets; the audit record names the
    cleared toggle (``details.toggleCleared``).
    """
    target = _status(target)
    require_text("by", by)
    require_text("reason", reason)
    with registry.transaction():
        experiment = registry.get(experiment_id)
        check_transition(experiment.status, target)
        if experiment.is_holdout and target in (Status.ROLLED_BACK, Status.SHIPPED):
            raise TransitionError(
                f"status: {experiment_id!r} is a holdout, which is never {target.value!r}: "
                "it ends when it is stopped (expected paused or stopped)",
                field="status",
                value=target.value,
                current=experiment.status.value,
                expected=["paused", "stopped"],
            )
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
        cleared = None
        if target in FINAL and experiment.forced_variant is not None:
            # A final status decides alone what everyone gets (see set_toggle); a toggle left
            # behind would still be listed, sent to SDKs and shown as active.
            cleared = experiment.forced_variant
            update["forced_variant"] = None
        changed = experiment.model_copy(update=update)
        extra: dict[str, Any] = {"variant": variant} if variant else {}
        if cleared is not None:
            extra["toggleCleared"] = cleared
        registry.write_state(
            changed,
            kind="status",
            from_value=experiment.status.value,
            to_value=target.value,
            by=by,
            reason=reason,
            at=now or datetime.now(UTC),
            look=look,
            details={**(details or {}), **extra},
        )
    return changed


def register(
    registry: RegistryBackend,
    experiment: Experiment,
    *,
    by: str,
    reason: str,
    now: datetime | None = None,
) -> Experiment:
    """Register a new experiment as a draft, then move it to its definition's status.

    The move goes through :func:`change_status`, so registering a definition that says
    ``running`` leaves an audit record of the launch, and a definition that says ``shipped``
    (or anything not reachable from ``draft``) is refused.
    """
    require_text("by", by)
    require_text("reason", reason)
    at = now or datetime.now(UTC)
    with registry.transaction():
        # the duplicate id first (DuplicateExperimentError), then the layer: a conflict
        # raised after the insert rolls it back with the transaction
        registry.create(experiment.model_copy(update={"status": Status.DRAFT}), at=at)
        check_layers(registry, experiment)
        if experiment.status is Status.DRAFT:
            return registry.get(experiment.id)
        return change_status(
            registry, experiment.id, experiment.status, by=by, reason=reason, now=at
        )


def check_layers(registry: RegistryBackend, experiment: Experiment) -> None:
    """Refuse `experiment` (new, or replacing its namesake) when it conflicts with a registered
    experiment of its layer (overlapping ranges, another hashKey): :class:`ConfigError`, whose
    details name both experiments and the free ranges (docs/assignment.md, "Layers")."""
    problems = check_against(experiment, registry.experiments())
    if problems:
        raise ConfigError(problems, f"{experiment.id!r} among the registered experiments")


def set_toggle(
    registry: RegistryBackend,
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
    require_text("by", by)
    require_text("reason", reason)
    with registry.transaction():
        experiment = registry.get(experiment_id)
        if experiment.status in FINAL:
            raise ToggleError(
                f"status: experiment {experiment_id!r} is {experiment.status.value!r}; its "
                "status already decides what everyone gets (expected draft, running or paused)",
                field="status",
                value=experiment.status.value,
            )
        if experiment.is_holdout and variant is not None:
            raise ToggleError(
                f"forcedVariant: {experiment_id!r} is a holdout, whose variant toggle would "
                f"give everybody one group (got {variant!r}; expected none: stop the holdout "
                "to end it)",
                field="forcedVariant",
                value=variant,
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


#: Fields that may change once an experiment has left draft (ramp-up, targeting, schedule,
#: wording). Everything else is part of the pre-registered design and is frozen, except the
#: variants' weights of a sticky experiment without a design: each such change is a new
#: weights version (``details.weightsVersion`` of its audit record), and the looks analyse
#: each version's cohort on its own (:mod:`splitlab.evaluation.versions`).
MUTABLE_WHEN_LIVE = frozenset(
    {"name", "description", "trafficAllocation", "targeting", "evaluation.schedule"}
)


def update_definition(
    registry: RegistryBackend,
    experiment: Experiment,
    *,
    by: str,
    reason: str,
    now: datetime | None = None,
) -> Experiment:
    """Replace a registered definition (a ramp-up, new targeting, a fixed typo); audited.

    Status, shipped variant and toggle keep their own paths (:func:`change_status`,
    :func:`set_toggle`) and must be unchanged here. A draft may change freely; after launch
    only the fields in :data:`MUTABLE_WHEN_LIVE` may, since the rest is the pre-registered
    design the looks are analysed against; a finished experiment does not change.
    """
    require_text("by", by)
    require_text("reason", reason)
    with registry.transaction():
        current = registry.get(experiment.id)
        old, new = current.to_wire(), experiment.to_wire()
        for key in ("status", "shippedVariant", "forcedVariant"):
            if old[key] != new[key]:
                raise TransitionError(
                    f"{key}: changes through its own command, not a definition update "
                    f"(registered {old[key]!r}, got {new[key]!r})",
                    field=key,
                    value=new[key],
                )
        changed = sorted(changed_fields(old, new))
        if not changed:
            raise TransitionError(
                f"definition: {experiment.id!r} is unchanged (expected at least one change)",
                field="definition",
                value=None,
            )
        if current.status in FINAL:
            raise TransitionError(
                f"status: {experiment.id!r} is {current.status.value!r}; a finished "
                "experiment's definition does not change",
                field="status",
                value=current.status.value,
            )
        frozen = [f for f in changed if f not in MUTABLE_WHEN_LIVE]
        details: dict[str, Any] = {"changed": changed}
        if current.status is not Status.DRAFT and "variants" in frozen:
            reweighted = weights_version_details(registry, current, experiment)
            if reweighted is not None:
                frozen.remove("variants")
                details.update(reweighted)
        if current.status is not Status.DRAFT and frozen:
            raise TransitionError(
                f"{', '.join(frozen)}: part of the pre-registered design of "
                f"{current.status.value!r} experiment {experiment.id!r} (expected changes "
                f"only to: {', '.join(sorted(MUTABLE_WHEN_LIVE))})",
                field=frozen[0],
                value=None,
            )
        check_layers(registry, experiment)
        registry.write_state(
            experiment,
            kind="definition",
            from_value=None,
            to_value=None,
            by=by,
            reason=reason,
            at=now or datetime.now(UTC),
            details=details,
        )
    return experiment


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> set[str]:
    """Top-level keys that differ, with `evaluation` broken down to `evaluation.<key>`."""
    out: set[str] = set()
    for key in old.keys() | new.keys():
        if old.get(key) == new.get(key):
            continue
        if (
            key == "evaluation"
            and isinstance(old.get(key), dict)
            and isinstance(new.get(key), dict)
        ):
            a, b = old[key], new[key]
            out.update(f"evaluation.{k}" for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        else:
            out.add(key)
    return out


def history(registry: RegistryBackend, experiment_id: str) -> list[Change]:
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


def require_text(name: str, value: str) -> None:
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
