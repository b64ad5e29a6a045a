"""Fixtures for the tracking client and middleware tests (helpers in tracking_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from splitlab.assignment import ExperimentAssignmentService
from tests.tracking.tracking_helpers import (
    FakeClock,
    MemorySink,
    ScriptedCollector,
    Tracked,
    make_experiment,
    make_tracked,
)


@pytest.fixture
def collector() -> Iterator[ScriptedCollector]:
    """A scripted collector listening on a free port of 127.0.0.1."""
    server = ScriptedCollector()
    yield server
    server.close()


@pytest.fixture
def fake_clock() -> FakeClock:
    """A fake monotonic clock whose sleep() advances it instantly."""
    return FakeClock()


@pytest.fixture
def sink() -> MemorySink:
    """An in-memory sink that deduplicates by eventId."""
    return MemorySink()


@pytest.fixture
def assigner() -> ExperimentAssignmentService:
    """An assignment service over two running experiments (exp-1 with a country segment)."""
    return ExperimentAssignmentService(
        [make_experiment("exp-1", segments=["country"]), make_experiment("exp-2")]
    )


@pytest.fixture
def tracked(assigner: ExperimentAssignmentService) -> Iterator[Tracked]:
    """A middleware core (unit from X-User-Id) whose events land, deduplicated, in memory."""
    setup = make_tracked(assigner)
    yield setup
    setup.client.close()
