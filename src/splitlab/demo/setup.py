"""Build the demo: a fresh store, nine experiments (a holdout among them), weeks of traffic and the scheduled looks.

Timeline: the experiments start ``days`` days before the latest 09:00 UTC, and each simulated
day runs from 09:00 to the next 09:00. After each day the scheduler is run with its clock at
that 09:00, exactly as ``splitlab scheduler`` would have run it live, so every look's data
cut-off, every automatic rollback and every decision happen at the simulated moment. The
server's own assignment view is refreshed after each pass, so a rollback changes what the
next day's visitors get.

The canary release and the bandit run after that, each over its own span at the end of the
timeline, driven by their real components on a simulated clock (:mod:`splitlab.demo.adaptive`):
the bandit's last :data:`BANDIT_DAYS` days with the bandit updater at every update time, then
the canary's last :data:`CANARY_HOURS` hours with the canary monitor at every interval.

Events go through the collector's validation (:func:`splitlab.tracking.events.validate_batch`,
in batches of the collector's size) and are written with the store's durable ``submit``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import msgspec
import numpy as np

from splitlab.config import Experiment, Status, load_experiment
from splitlab.config.adaptive import BanditDesign, CanaryDesign
from splitlab.demo.adaptive import BANDIT, CANARY, Drive, drive_bandit, drive_canary
from splitlab.demo.designed import dispatch_events, dispatch_world, pricing_events
from splitlab.demo.lifetimes import welcome_events
from splitlab.demo.traffic import BEHAVIOUR, events_for, visitors
from splitlab.evaluation.lifecycle import change_status
from splitlab.evaluation.scheduler import Scheduler
from splitlab.server.context import ServerContext
from splitlab.store import DuckDBStore
from splitlab.store.base import IngestResult
from splitlab.tracking.events import Event, validate_batch

logger = logging.getLogger(__name__)

#: The demo's experiments, shipped as package data. The first is the article's with one
#: addition: cart_abandonment_rate has "direction": "decrease" (the article gives none, so the
#: default "increase" would show a fall in abandonment as worse).
DEFINITIONS = (
    "exp-checkout-flow-v3.json",
    "exp-search-ranking-v2.json",
    "exp-homepage-copy-aa.json",
    "exp-pricing-annual-plan.json",
    "exp-dispatch-batching.json",
    # Holds 5% of users out of the experiments tagged "growth" (the checkout flow).
    "holdout-growth-2026.json",
    # Time to the first order and day-7 return: the Kaplan-Meier and retention curves.
    "exp-welcome-offer.json",
)
#: The adaptive experiments, launched for their own span at the end of the timeline.
CANARY_DEFINITION = "exp-orders-db-migration.json"
BANDIT_DEFINITION = "exp-onboarding-bandit.json"
#: The bandit runs over the last this-many days, the canary over the last this-many hours.
BANDIT_DAYS = 3
CANARY_HOURS = 3
#: Steps ``on_day`` is called for after the days: the bandit's span, then the canary's.
ADAPTIVE_PHASES = 2

#: Visitors per simulated day at scale 1: enough for the article's experiment to reach its
#: minSampleSize (15,000 per variant) by its fifth and last look.
VISITORS_PER_DAY = 50_000

BATCH = 1000


@dataclass
class DemoResult:
    """What the demo built: the server context, its keys and the final state."""

    ctx: ServerContext
    db: Path
    admin_key: str
    sdk_key: str
    events: int = 0
    looks: int = 0
    outcome: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    #: The canary's and the bandit's end state in words (their last step, weights version).
    adaptive: dict[str, tuple[str, str]] = field(default_factory=dict)


class _Clock:
    """The scheduler's clock, moved by the simulation."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def latest_0900(now: datetime) -> datetime:
    """The most recent 09:00 UTC at or before `now`."""
    today = now.astimezone(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    return today if today <= now else today - timedelta(days=1)


def scaled(experiment: Experiment, scale: float) -> Experiment:
    """At a scale other than 1, the planned sample shrinks with the traffic (quick tests)."""
    if scale == 1.0:
        return experiment
    ev = experiment.evaluation
    planned = max(100, round(ev.min_sample_size * scale))
    return experiment.model_copy(
        update={"evaluation": ev.model_copy(update={"min_sample_size": planned})}
    )


def _send(ctx: ServerContext, events: list[Event]) -> tuple[int, list[Future[IngestResult]]]:
    """Validate in collector-sized batches and submit; returns the accepted count and futures."""
    known = ctx.known()
    encode = msgspec.json.encode
    futures = []
    accepted = 0
    for k in range(0, len(events), BATCH):
        valid, rejections = validate_batch(encode(events[k : k + BATCH]), known)
        if rejections:
            logger.warning("demo: %d simulated events refused: %s", len(rejections), rejections[0])
        accepted += len(valid)
        futures.append(ctx.store.submit(valid))
    return accepted, futures


def build_demo(
    db: Path,
    *,
    scale: float = 1.0,
    days: int = 14,
    seed: int = 7,
    now: datetime | None = None,
    on_day: Callable[[int], None] | None = None,
    opener: Callable[[Path], DuckDBStore] = DuckDBStore,
) -> DemoResult:
    """Create the demo in a new database file `db` (which must not exist yet).

    ``opener`` opens the new store (the CLI passes one that turns failures into a message).
    """
    if db.exists():
        raise FileExistsError(f"--db {db}: the demo needs a fresh file; remove it or pick another")
    db.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ctx = ServerContext.open(opener(db))
    result = DemoResult(
        ctx, db, ctx.keys.create("admin", "demo").secret, ctx.keys.create("sdk", "demo").secret
    )
    end = latest_0900(now or datetime.now(UTC))
    start = end - timedelta(days=days)
    registry = ctx.registry
    for name in DEFINITIONS:
        _launch(ctx, name, start, scale)
    ctx.refresh()
    clock = _Clock(start)
    scheduler = Scheduler(ctx.store, registry, clock=clock)
    per_day = max(int(VISITORS_PER_DAY * scale), 10)
    # The design experiments draw from their own stream, so the classic experiments' traffic
    # (and so their stories, the A/A's included) is the same as without them.
    designed_rng = np.random.default_rng([seed, 1])
    world = dispatch_world(int(start.timestamp() * 1000), days, designed_rng)
    # The welcome offer too: its orders and returns come from a stream of their own.
    lifetimes_rng = np.random.default_rng([seed, 3])
    end_ms = int(end.timestamp() * 1000)
    for day in range(days):
        day_start = start + timedelta(days=day)
        people = visitors(day, per_day, int(day_start.timestamp() * 1000), rng)
        service = ctx.view.service
        events: list[Event] = []
        for experiment_id, behaviour in BEHAVIOUR.items():
            events += events_for(experiment_id, people, service, rng, behaviour)
        day_ms = int(day_start.timestamp() * 1000)
        events += pricing_events(day, day_ms, scale, service, designed_rng)
        events += dispatch_events(day, world, scale, service, designed_rng)
        events += welcome_events(people, service, end_ms, lifetimes_rng)
        accepted, futures = _send(ctx, events)
        for future in futures:
            future.result()
        result.events += accepted
        clock.now = day_start + timedelta(days=1, minutes=1)
        for record in scheduler.run_once():
            ctx.metrics.add_look(record.action)
            result.looks += 1
        ctx.refresh()
        if on_day is not None:
            on_day(day)
    _adaptive(ctx, result, end, days, seed, on_day)
    for experiment in registry.experiments():
        looks = registry.looks(experiment.id, include_peeks=False)
        action = looks[-1].action if looks else "none"
        result.outcome[experiment.id] = (experiment.status.value, action)
    for experiment_id, (status, what) in result.adaptive.items():
        result.outcome[experiment_id] = (status, what)
    return result


def _launch(ctx: ServerContext, name: str, at: datetime, scale: float) -> Experiment:
    """Register a packaged definition as a draft an hour before `at` and start it at `at`."""
    text = resources.files("splitlab.demo").joinpath(name).read_text(encoding="utf-8")
    experiment = scaled(load_experiment(msgspec.json.decode(text)), scale)
    registry = ctx.registry
    registry.create(
        experiment.model_copy(update={"status": Status.DRAFT}), at=at - timedelta(hours=1)
    )
    return change_status(registry, experiment.id, Status.RUNNING, by="demo",
                         reason="launched for the demo", now=at)  # fmt: skip


def _adaptive(
    ctx: ServerContext,
    result: DemoResult,
    end: datetime,
    days: int,
    seed: int,
    on_day: Callable[[int], None] | None,
) -> None:
    """The bandit's last days, then the canary's last hours, each driven by its real
    component (the bandit updater, the canary monitor) on a simulated clock; ``on_day`` is
    called after each (with ``days`` and ``days + 1``)."""
    from splitlab.evaluation.bandit import BanditUpdater
    from splitlab.evaluation.canary import CanaryMonitor

    registry = ctx.registry
    clock = _Clock(end)
    rng = np.random.default_rng([seed, 2])

    def send(events: list[Event]) -> int:
        accepted, futures = _send(ctx, events)
        for future in futures:
            future.result()
        ctx.store.flush()
        result.events += accepted
        return accepted

    def set_clock(at: datetime) -> None:
        clock.now = at

    drive = Drive(set_clock, send, lambda: ctx.view.service, ctx.refresh,
                  lambda eid: registry.get(eid).status is Status.RUNNING)  # fmt: skip
    bandit_start = end - timedelta(days=min(BANDIT_DAYS, days))
    bandit = _launch(ctx, BANDIT_DEFINITION, bandit_start, 1.0)
    assert isinstance(bandit.design, BanditDesign)
    ctx.refresh()
    updater = BanditUpdater(ctx.store, registry, clock=clock)
    drive_bandit(drive, updater.run_once, bandit_start, end,
                 bandit.design.update_interval_minutes, rng)  # fmt: skip
    final = registry.get(BANDIT)
    assert isinstance(final.design, BanditDesign)
    result.adaptive[BANDIT] = (final.status.value, f"weights v{final.design.weights_version}")
    if on_day is not None:
        on_day(days)

    canary_start = end - timedelta(hours=CANARY_HOURS)
    canary = _launch(ctx, CANARY_DEFINITION, canary_start, 1.0)
    assert isinstance(canary.design, CanaryDesign)
    ctx.refresh()
    monitor = CanaryMonitor(ctx.store, registry, clock=clock)
    drive_canary(drive, monitor.run_once, canary_start, end, canary.design.interval_minutes,
                 rng)  # fmt: skip
    final = registry.get(CANARY)
    assert isinstance(final.design, CanaryDesign)
    percent = final.design.canary_steps[final.design.step].percent
    result.adaptive[CANARY] = (final.status.value, f"canary step {percent:g} %")
    if on_day is not None:
        on_day(days + 1)
