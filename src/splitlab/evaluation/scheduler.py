"""Scheduled looks for deployments without an orchestrator (`splitlab scheduler`).

A running experiment is due when the latest tick of its ``evaluation.schedule`` at or before
now is later than both its launch (its last change to ``running``, or its registration) and
the data cut-off of its last planned look, and planned looks remain (``maxPeeks``). A due look
runs with the tick as its data cut-off, so the same tick gives the same look whenever the
scheduler gets to it. Ticks missed while the scheduler was down are not replayed one by one:
the next pass takes one look at the latest tick. Paused, draft and finished experiments are
skipped. Teams with Airflow or cron call ``splitlab evaluate`` instead.

Several schedulers may share one registry (servers replicated on a PostgreSQL registry):
each look is taken once. A scheduler records a look only if the ledger still holds the
number of planned looks it saw when it found the look due, checked again under the
registry's lock when the look is written; the others skip it (:class:`LookTakenError`).

The clock and the sleep are injected, so tests drive the scheduler with a fake clock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from splitlab.config import Experiment, Status
from splitlab.evaluation.errors import EvaluationError, LookTakenError
from splitlab.evaluation.look import LookStore, run_look
from splitlab.evaluation.schedule import parse_schedule
from splitlab.store.registry import LookRecord
from splitlab.store.registry_backend import RegistryBackend

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DueLook:
    """A look that the schedule calls for: which experiment, at which tick (the cut-off)."""

    experiment_id: str
    tick: datetime
    #: How many planned looks the ledger held when the look was found due.
    planned: int | None = None


def launched_at(registry: RegistryBackend, experiment: Experiment) -> datetime:
    """When the experiment last started running (or was registered, if it was never moved)."""
    starts = [c.at for c in registry.changes(experiment.id) if c.to_value == Status.RUNNING]
    return starts[-1] if starts else registry.created_at(experiment.id)


def due_looks(registry: RegistryBackend, now: datetime) -> list[DueLook]:
    """Every running experiment whose schedule has ticked since its last planned look."""
    due: list[DueLook] = []
    for experiment in registry.experiments():
        if experiment.status is not Status.RUNNING or experiment.is_bandit:
            continue  # a bandit has no looks: evaluation.bandit updates its weights
        tick = parse_schedule(experiment.evaluation.schedule).latest(now)
        if tick <= launched_at(registry, experiment):
            continue
        planned = registry.looks(experiment.id, include_peeks=False)
        if planned and planned[-1].cutoff >= tick:
            continue
        ev = experiment.evaluation
        if len(planned) >= ev.max_peeks and not ev.allow_extra_looks:
            logger.info("%s: all %d planned looks taken", experiment.id, ev.max_peeks)
            continue
        due.append(DueLook(experiment.id, tick, len(planned)))
    return due


def next_tick(registry: RegistryBackend, now: datetime) -> datetime | None:
    """The earliest future tick over the running experiments (None when none is running)."""
    ticks = [
        parse_schedule(e.evaluation.schedule).next_after(now)
        for e in registry.experiments()
        if e.status is Status.RUNNING
    ]
    return min(ticks, default=None)


class Scheduler:
    """Runs due looks: :meth:`run_once` for one pass, :meth:`run` until a time (or forever)."""

    def __init__(
        self,
        store: LookStore,
        registry: RegistryBackend,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        poll_seconds: float = 60.0,
    ) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        self.sleep = sleep
        self.poll_seconds = poll_seconds

    def run_once(self) -> list[LookRecord]:
        """One pass: every due look is taken (failures are logged and the pass goes on)."""
        now = self.clock()
        records: list[LookRecord] = []
        for due in due_looks(self.registry, now):
            try:
                record = run_look(
                    self.store,
                    self.registry,
                    due.experiment_id,
                    cutoff=due.tick,
                    triggered_by="scheduler",
                    now=now,
                    after_looks=due.planned,
                )
            except LookTakenError:  # several servers share the registry: one of them took it
                logger.info("%s: look at %s taken by another scheduler", due.experiment_id,
                            due.tick.isoformat())  # fmt: skip
                continue
            except EvaluationError as exc:
                logger.error("%s: scheduled look refused: %s", due.experiment_id, exc)
                continue
            records.append(record)
        return records

    def run(self, until: datetime | None = None) -> list[LookRecord]:
        """Pass after pass, sleeping until the next tick (at most ``poll_seconds``)."""
        records: list[LookRecord] = []
        while True:
            records += self.run_once()
            now = self.clock()
            if until is not None and now >= until:
                return records
            wake = next_tick(self.registry, now) or now + timedelta(seconds=self.poll_seconds)
            if until is not None:
                wake = min(wake, until)
            self.sleep(min(max((wake - now).total_seconds(), 0.0), self.poll_seconds))
