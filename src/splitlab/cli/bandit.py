"""`splitlab bandit status EXP [--json]` and `splitlab bandit update EXP`."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from splitlab.cli.clickhouse import clickhouse_options, open_events
from splitlab.cli.database import db_option, events_db_option, open_registry
from splitlab.evaluation.bandit import BanditUpdater, bandit_status


@click.group("bandit")
def bandit() -> None:
    """A multi-armed bandit's weight updates and readout (docs/bandits.md)."""


@bandit.command("status")
@click.argument("experiment_id")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the status JSON.")
def status(experiment_id: str, db_path: str, as_json: bool) -> None:
    """Show EXPERIMENT_ID's weight updates and the readout of the latest."""
    on_server = f"use GET /v1/experiments/{experiment_id}/bandit on that server"
    with open_registry(db_path, on_server=on_server) as registry:
        data = bandit_status(registry, experiment_id)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    console = Console(highlight=False)
    console.print(
        f"[bold]{experiment_id}[/]: {data['status']}, weights version {data['weightsVersion']}"
    )
    if data["updates"]:
        last = data["updates"][-1]
        table = Table(title=f"Update {last['version']} at {last['at']}", title_justify="left")
        for column in ("arm", "units", "reward mean", "P(best)", "weight"):
            table.add_column(column)
        for arm, row in last["arms"].items():
            mean = row["rewardMean"]
            table.add_row(
                arm,
                str(row["units"]),
                "-" if mean is None else f"{mean:.4g}",
                f"{row['pBest']:.3f}",
                f"{row['weight']:.3f}",
            )
        console.print(table)
        srm = last["srm"]
        console.print(
            f"SRM (anytime-valid): p = {srm.get('pValue')}, detected: {srm.get('detected')}"
        )
    readout = data["readout"]
    console.print(f"Readout ({readout['method']}):")
    for c in readout["comparisons"]:
        if c["estimate"] is None:
            console.print(f"  {c['arm']} - {c['control']}: not enough data")
        else:
            console.print(
                f"  {c['arm']} - {c['control']}: {c['estimate']:.4g} "
                f"[{c['lower']:.4g}, {c['upper']:.4g}]"
            )
    console.print(f"Estimated regret: {readout['regret']:.4g}")
    console.print(readout["note"])


@bandit.command("update")
@click.argument("experiment_id")
@events_db_option
@clickhouse_options
def update(experiment_id: str, db_path: str | None) -> None:
    """Compute and write EXPERIMENT_ID's next weights now (whether due or not)."""
    on_server = "the server updates bandits itself; stop it to update from the command line"
    with open_events(db_path, on_server=on_server) as (store, registry):
        result = BanditUpdater(store, registry).update(registry.get(experiment_id))
    weights = ", ".join(f"{a} {w:.3f}" for a, w in result.weights.items())
    click.echo(f"{experiment_id}: weights version {result.version}: {weights}")
