"""`splitlab scheduler --db PATH`: run looks when their schedules say they are due."""

from __future__ import annotations

import logging
from datetime import datetime

import click

from splitlab.cli.database import db_option, open_database, parse_instant
from splitlab.evaluation import Scheduler


@click.command("scheduler")
@db_option
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
def scheduler(
    db_path: str, once: bool, until: datetime | None, now: datetime | None, poll: float
) -> None:
    """Take the scheduled looks of every running experiment (evaluation.schedule).

    Each look uses its schedule tick as data cut-off. Exits 0; failures of single looks are
    logged and the scheduler goes on.
    """
    if now is not None and not once:
        raise click.UsageError("--now is only meaningful with --once")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    on_server = "that server takes the scheduled looks itself (unless run with --no-scheduler)"
    with open_database(db_path, on_server=on_server) as (store, registry):
        fixed = now
        runner = (
            Scheduler(store, registry, clock=lambda: fixed, poll_seconds=poll)
            if fixed is not None
            else Scheduler(store, registry, poll_seconds=poll)
        )
        records = runner.run_once() if once else runner.run(until=until)
    for record in records:
        variant = f" {record.variant}" if record.variant else ""
        click.echo(
            f"{record.experiment_id}: look {record.number} at cut-off "
            f"{record.cutoff.isoformat()} -> {record.action}{variant}"
        )
    if not records:
        click.echo("no look was due")
