"""`splitlab check EXPERIMENT_ID --db PATH`: is a dry run ready to scale up?"""

from __future__ import annotations

import json
import sys
from datetime import datetime

import click
from rich.console import Console

from splitlab.cli.clickhouse import clickhouse_options, open_events
from splitlab.cli.database import events_db_option, parse_instant
from splitlab.cli.sources import load_catalog, sources_option
from splitlab.evaluation import launch_check

#: Exit code when a check fails (0 when ready; 3 for errors such as an unknown experiment).
EXIT_NOT_READY = 1


@click.command("check")
@click.argument("experiment_id")
@events_db_option
@clickhouse_options
@click.option(
    "--traffic",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=None,
    help="The allocation the experiment ran at, when not its definition's trafficAllocation "
    "(the default).",
)
@click.option(
    "--target",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=1.0,
    show_default=True,
    help="The allocation to reach, step by step.",
)
@click.option("--cutoff", callback=parse_instant, help="Data cut-off, ISO-8601 (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@sources_option
def check(
    experiment_id: str,
    db_path: str | None,
    traffic: float | None,
    target: float,
    cutoff: datetime | None,
    as_json: bool,
    sources_path: str | None,
) -> None:
    """The launch check: SRM, event metadata, guardrails and metric data before a ramp-up.

    The experiment is taken to run at its definition's trafficAllocation (a 1% dry run, a
    25% step, ...) unless --traffic says otherwise; the answer recommends the next step above
    it (1% -> 5% -> 25% -> 50% -> 100%, capped at --target). Exits 0 when ready, 1 when not
    ready, 3 on errors.
    """
    on_server = f"read the sums on that server with GET /v1/experiments/{experiment_id}/summary"
    catalog = load_catalog(sources_path)
    with open_events(db_path, on_server=on_server, sources=catalog) as (store, registry):
        experiment = registry.get(experiment_id)
        report = launch_check(
            store, experiment, traffic=traffic, target=target, cutoff=cutoff, registry=registry
        )
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        console = Console(highlight=False)
        verdict = "[bold green]READY[/]" if report.ready else "[bold red]NOT READY[/]"
        console.print(f"{experiment_id}: {verdict}")
        for item in report.checks:
            mark = "[green]pass[/]" if item.passed else "[red]FAIL[/]"
            console.print(f"  {mark} {item.name}: {item.detail}")
        console.print(report.recommendation)
    if not report.ready:
        sys.exit(EXIT_NOT_READY)
