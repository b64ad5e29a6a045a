"""Status changes and the variant toggle: one validated path, every change audited."""

from __future__ import annotations

from datetime import timedelta

import pytest

from splitlab.config import Experiment, Status, load_experiment
from splitlab.evaluation import (
    TRANSITIONS,
    ToggleError,
    TransitionError,
    change_status,
    history,
    register,
    set_toggle,
    update_definition,
)
from splitlab.evaluation.lifecycle import FINAL
from splitlab.store.registry import DuplicateExperimentError, Registry, UnknownExperimentError

from .conftest import T0, definition

ALLOWED = [(a, b) for a, targets in TRANSITIONS.items() for b in targets]
REFUSED = [(a, b) for a in Status for b in Status if b not in TRANSITIONS[a]]


def _at(registry: Registry, experiment: Experiment, status: Status) -> None:
    """Register `experiment` and walk it to `status` along allowed transitions."""
    registry.create(experiment, at=T0)
    path = {
        Status.DRAFT: [],
        Status.RUNNING: [Status.RUNNING],
        Status.PAUSED: [Status.RUNNING, Status.PAUSED],
        Status.STOPPED: [Status.RUNNING, Status.STOPPED],
        Status.ROLLED_BACK: [Status.RUNNING, Status.ROLLED_BACK],
        Status.SHIPPED: [Status.RUNNING, Status.SHIPPED],
    }[status]
    for step in path:
        variant = "treatment" if step is Status.SHIPPED else None
        change_status(registry, experiment.id, step, by="t", reason="walk", variant=variant)


@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_allowed_transition_is_applied_and_audited(
    registry: Registry, experiment: Experiment, current: Status, target: Status
) -> None:
    """Every allowed transition changes the status and appends who, why and from-to."""
    _at(registry, experiment, current)
    variant = "treatment" if target is Status.SHIPPED else None
    changed = change_status(
        registry, experiment.id, target, by="ana", reason="because", variant=variant
    )
    assert changed.status is target
    assert registry.get(experiment.id).status is target
    last = history(registry, experiment.id)[-1]
    assert (last.from_value, last.to_value, last.by, last.reason) == (
        current.value,
        target.value,
        "ana",
        "because",
    )


@pytest.mark.parametrize(("current", "target"), REFUSED)
def test_refused_transition_names_both_statuses_and_changes_nothing(
    registry: Registry, experiment: Experiment, current: Status, target: Status
) -> None:
    """An invalid transition raises TransitionError naming from, to and what is allowed."""
    _at(registry, experiment, current)
    before = history(registry, experiment.id)
    with pytest.raises(TransitionError) as info:
        change_status(registry, experiment.id, target, by="ana", reason="x", variant="treatment")
    assert repr(current.value) in str(info.value) and repr(target.value) in str(info.value)
    assert registry.get(experiment.id).status is current
    assert history(registry, experiment.id) == before


def test_shipping_records_the_variant_and_requires_one(
    registry: Registry, experiment: Experiment
) -> None:
    """Shipping without a variant is refused; with one, shippedVariant is stored."""
    _at(registry, experiment, Status.RUNNING)
    with pytest.raises(TransitionError, match="variant"):
        change_status(registry, experiment.id, Status.SHIPPED, by="a", reason="won")
    with pytest.raises(TransitionError, match="'nope' is not a variant"):
        change_status(registry, experiment.id, "shipped", by="a", reason="won", variant="nope")
    shipped = change_status(
        registry, experiment.id, "shipped", by="a", reason="won", variant="treatment"
    )
    assert registry.get(experiment.id).shipped_variant == "treatment" == shipped.shipped_variant


def test_change_needs_who_and_why(registry: Registry, experiment: Experiment) -> None:
    """An empty `by` or `reason` is refused: every change is recorded with who and why."""
    registry.create(experiment, at=T0)
    with pytest.raises(TransitionError, match="by"):
        change_status(registry, experiment.id, "running", by=" ", reason="go")
    with pytest.raises(TransitionError, match="reason"):
        change_status(registry, experiment.id, "running", by="a", reason="")


def test_unknown_status_text_is_a_clear_error(registry: Registry, experiment: Experiment) -> None:
    """A status that does not exist names the allowed statuses."""
    registry.create(experiment, at=T0)
    with pytest.raises(TransitionError, match=r"unknown status 'live'.*running"):
        change_status(registry, experiment.id, "live", by="a", reason="go")


def test_unknown_and_duplicate_experiments(registry: Registry, experiment: Experiment) -> None:
    """Changing an unknown experiment and registering an id twice are both refused."""
    with pytest.raises(UnknownExperimentError, match="exp-eval"):
        change_status(registry, "exp-eval", "running", by="a", reason="go")
    registry.create(experiment, at=T0)
    with pytest.raises(DuplicateExperimentError, match="already registered"):
        registry.create(experiment, at=T0)


def test_toggle_forces_and_clears_a_variant_with_audit(
    registry: Registry, experiment: Experiment
) -> None:
    """The toggle sets forcedVariant, clears it again, and both are audited with who/why."""
    _at(registry, experiment, Status.RUNNING)
    forced = set_toggle(
        registry, experiment.id, "control", by="oncall", reason="errors", now=T0 + timedelta(1)
    )
    assert forced.forced_variant == "control" == registry.get(experiment.id).forced_variant
    cleared = set_toggle(registry, experiment.id, None, by="oncall", reason="fixed")
    assert cleared.forced_variant is None
    toggles = [c for c in history(registry, experiment.id) if c.kind == "toggle"]
    assert [(c.from_value, c.to_value, c.by, c.reason) for c in toggles] == [
        (None, "control", "oncall", "errors"),
        ("control", None, "oncall", "fixed"),
    ]
    assert toggles[0].at == T0 + timedelta(1)


def test_toggle_refuses_unknown_variant_noop_and_finished_experiment(
    registry: Registry, experiment: Experiment
) -> None:
    """Unknown variants, a toggle that changes nothing and finished experiments are refused."""
    _at(registry, experiment, Status.RUNNING)
    with pytest.raises(ToggleError, match="'ghost' is not a variant"):
        set_toggle(registry, experiment.id, "ghost", by="a", reason="x")
    with pytest.raises(ToggleError, match="already not toggled"):
        set_toggle(registry, experiment.id, None, by="a", reason="x")
    change_status(registry, experiment.id, "stopped", by="a", reason="done")
    with pytest.raises(ToggleError, match="'stopped'"):
        set_toggle(registry, experiment.id, "control", by="a", reason="x")


@pytest.mark.parametrize("start", [Status.RUNNING, Status.PAUSED])
@pytest.mark.parametrize("target", sorted(FINAL, key=lambda s: s.value))
def test_a_final_status_clears_the_toggle_in_the_same_audited_change(
    registry: Registry, experiment: Experiment, start: Status, target: Status
) -> None:
    """Stopping, rolling back or shipping over a toggle clears it and names it in the record."""
    _at(registry, experiment, start)
    set_toggle(registry, experiment.id, "control", by="oncall", reason="errors")
    variant = "treatment" if target is Status.SHIPPED else None
    changed = change_status(registry, experiment.id, target, by="a", reason="done",
                            variant=variant)  # fmt: skip
    assert changed.forced_variant is None
    assert registry.get(experiment.id).forced_variant is None
    last = history(registry, experiment.id)[-1]
    assert (last.kind, last.to_value) == ("status", target.value)
    assert last.details["toggleCleared"] == "control"


def test_pausing_keeps_the_toggle(registry: Registry, experiment: Experiment) -> None:
    """A pause is not final: the toggle stays (everyone keeps getting the forced variant)."""
    _at(registry, experiment, Status.RUNNING)
    set_toggle(registry, experiment.id, "control", by="oncall", reason="errors")
    change_status(registry, experiment.id, Status.PAUSED, by="a", reason="look closer")
    assert registry.get(experiment.id).forced_variant == "control"
    assert "toggleCleared" not in history(registry, experiment.id)[-1].details


def test_ramp_up_of_a_running_experiment_is_allowed_and_audited(
    registry: Registry, experiment: Experiment
) -> None:
    """Raising trafficAllocation while running is stored, with the changed field audited."""
    _at(registry, experiment, Status.RUNNING)
    ramped = registry.get(experiment.id).model_copy(update={"traffic_allocation": 0.05})
    update_definition(registry, ramped, by="ana", reason="launch check passed")
    assert registry.get(experiment.id).traffic_allocation == 0.05
    last = history(registry, experiment.id)[-1]
    assert (last.kind, last.details) == ("definition", {"changed": ["trafficAllocation"]})


def test_design_is_frozen_after_launch_and_status_has_its_own_path(
    registry: Registry, experiment: Experiment
) -> None:
    """After launch metrics/variants cannot change; status cannot change through an update."""
    _at(registry, experiment, Status.RUNNING)
    current = registry.get(experiment.id)
    salted = current.model_copy(
        update={"assignment": current.assignment.model_copy(update={"salt": "other"})}
    )
    with pytest.raises(TransitionError, match="assignment: part of the pre-registered design"):
        update_definition(registry, salted, by="a", reason="x")
    stopped = current.model_copy(update={"status": Status.STOPPED})
    with pytest.raises(TransitionError, match="status: changes through its own command"):
        update_definition(registry, stopped, by="a", reason="x")
    with pytest.raises(TransitionError, match="unchanged"):
        update_definition(registry, current, by="a", reason="x")


def test_a_draft_may_change_its_design(registry: Registry, experiment: Experiment) -> None:
    """Before launch the whole design may still change."""
    registry.create(experiment, at=T0)
    new = experiment.model_copy(
        update={"assignment": experiment.assignment.model_copy(update={"salt": "s-2"})}
    )
    update_definition(registry, new, by="a", reason="new salt")
    assert registry.get(experiment.id).assignment.salt == "s-2"


def test_register_running_definition_audits_the_launch(registry: Registry) -> None:
    """Registering a definition that says running leaves a draft -> running audit record."""
    launched = register(
        registry, load_experiment(definition(status="running")), by="ci", reason="deploy"
    )
    assert launched.status is Status.RUNNING
    (change,) = history(registry, "exp-eval")
    assert (change.from_value, change.to_value, change.by) == ("draft", "running", "ci")


def test_register_refuses_a_status_not_reachable_from_draft(registry: Registry) -> None:
    """A definition that arrives already shipped is refused and nothing is registered."""
    raw = definition(status="shipped", shippedVariant="treatment")
    with pytest.raises(TransitionError, match="from 'draft' to 'shipped'"):
        register(registry, load_experiment(raw), by="ci", reason="deploy")
    with pytest.raises(UnknownExperimentError):
        registry.get("exp-eval")
