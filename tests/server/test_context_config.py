"""The SDK config says what /v1/assign serves, even for files written by older versions."""

from __future__ import annotations

import json

import pytest

from splitlab.assignment import ExperimentAssignmentService
from splitlab.config import load_experiment
from splitlab.server.context import sdk_config

from .server_helpers import small


@pytest.mark.parametrize(
    ("status", "extra", "served"),
    [("shipped", {"shippedVariant": "treatment"}, "treatment"), ("rolled_back", {}, "control")],
)
def test_a_stale_toggle_under_a_final_status_is_not_sent(
    status: str, extra: dict[str, str], served: str
) -> None:
    """A toggle left under shipped / rolled_back (older files) is dropped from /v1/config."""
    stale = "treatment" if served == "control" else "control"  # the toggle the status overrides
    experiment = load_experiment(small(status=status, forcedVariant=stale, **extra))
    [wire] = json.loads(sdk_config([experiment]).body)["experiments"]
    assert wire.get("forcedVariant") is None
    assert ExperimentAssignmentService([experiment]).assign("u1", experiment.id).variant == served


def test_a_toggle_on_a_running_experiment_is_sent() -> None:
    """A live toggle is part of what SDKs must serve."""
    experiment = load_experiment(small(status="running", forcedVariant="control"))
    [wire] = json.loads(sdk_config([experiment]).body)["experiments"]
    assert wire["forcedVariant"] == "control"
