"""`splitlab scheduler --db PATH`: run looks when their schedules say they are due."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import click

from splitlab.cli.clickhouse import clickhouse_options, open_events
from splitlab.cli.database import events_db_option, parse_instant
from splitlab.cli.sources import load_catalog, sources_option
from splitlab.evaluation import Scheduler
from splitlab.evaluation.bandit import BanditUpdater
from splitlab.evaluation.canary import CanaryMonitor
from splitlab.evaluation.monitor import GuardrailMonitor
from splitlab.evaluation.scheduler import next_tick
from splitlab.store.registry import LookRecord


@click.command("scheduler")
@events_db_option
@clickhouse_options
@click.option("--once", is_flag=True, help="One pass over the due looks, then exit.")
@click.option(
    "--until",
    callback=parse_instant,
    help="Run until this time (ISO-8601, UTC when no offset), then exit.",
)
@click.option(
    "--now",
    callback=parse_instant,
    help="With --once: the time to take as now (to replay or test a schedule).",
)
@click.option(
    "--poll",
    type=click.FloatRange(min=1.0),
    default=60.0,
    show_default=True,
    help="Longest sleep between passes, in seconds.",
)
@sources_option
def scheduler(
    db_path: str | None,
    once: bool,
    until: datetime | None,
    now: datetime | None,
    poll: float,
    sources_path: str | None,
) -> None:
    """Take the scheduled looks of every running experiment (evaluation.schedule), judge
    running canaries, update running bandits and run the interval monitor
    (evaluation.monitor) at each pass, as `splitlab serve` does in-process.

    Each look uses its schedule tick as data cut-off. Exits 0; failures of single looks are
    logged and the scheduler goes on.
    """
    if now is not None and not once:
        raise click.UsageError("--now is only meaningful with --once")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # httpx logs every request at INFO: with --clickhouse that was a dozen lines per pass.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    on_server = "that server takes the scheduled looks itself (unless run with --no-scheduler)"
    fixed = now
    clock: Callable[[], datetime] = (
        (lambda: fixed) if fixed is not None else (lambda: datetime.now(UTC))
    )
    notes: list[str] = []
    catalog = load_catalog(sources_path)
    with open_events(db_path, on_server=on_server, sources=catalog) as (store, registry):
        runner = Scheduler(store, registry, clock=clock, poll_seconds=poll)
        canaries = CanaryMonitor(store, registry, clock=clock)
        guardrails = GuardrailMonitor(store, registry, clock=clock)
        bandits = BanditUpdater(store, registry, clock=clock)
        records: list[LookRecord] = []
        while True:
            records += runner.run_once()
            notes += [f"{o.experiment_id}: canary step {o.step} -> {o.action}" for o in
                      canaries.run_once()]  # fmt: skip
            notes += [f"{c.experiment_id}: interval monitor check, guardrails breached: "
                      f"{len(c.breached)}{' (rolled back)' if c.rolled_back else ''}"
                      for c in guardrails.run_once()]  # fmt: skip
            notes += [f"{u.experiment_id}: bandit weights version {u.version}"
                      for u in bandits.run_once()]  # fmt: skip
            moment = clock()
            if once or (until is not None and moment >= until):
                break
            wake = next_tick(registry, moment) or moment + timedelta(seconds=poll)
            if until is not None:
                wake = min(wake, until)
            time.sleep(min(max((wake - moment).total_seconds(), 0.0), poll))
    for note in notes:
        click.echo(note)
    for record in records:
        variant = f" {record.variant}" if record.variant else ""
        click.echo(
            f"{record.experiment_id}: look {record.number} at cut-off "
            f"{record.cutoff.isoformat()} -> {record.action}{variant}"
        )
    if not records and not notes:
        click.echo("no look was due")
