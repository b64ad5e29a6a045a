"""`splitlab toggle EXPERIMENT_ID VARIANT`: force one variant for everyone (or --clear it)."""

from __future__ import annotations

import click

from splitlab.cli.database import db_option, open_registry
from splitlab.evaluation import set_toggle


@click.command("toggle")
@click.argument("experiment_id")
@click.argument("variant", required=False)
@click.option("--clear", is_flag=True, help="Remove the toggle: assignment goes back to normal.")
@db_option
@click.option("--reason", required=True, help="Why (recorded in the audit log).")
@click.option("--by", "by", required=True, help="Who (recorded in the audit log).")
def toggle(
    experiment_id: str, variant: str | None, clear: bool, db_path: str, reason: str, by: str
) -> None:
    """Force VARIANT (usually control) for everyone, immediately and reversibly.

    Exits 3 when refused (unknown variant, finished experiment, nothing to change).
    """
    if clear == (variant is not None):
        raise click.UsageError("give either a VARIANT to force or --clear")
    on_server = f"use POST /v1/experiments/{experiment_id}/toggle on that server"
    with open_registry(db_path, on_server=on_server) as registry:
        experiment = set_toggle(registry, experiment_id, variant, by=by, reason=reason)
    if experiment.forced_variant is None:
        click.echo(f"{experiment_id}: toggle cleared; assignment is back to normal")
    else:
        click.echo(f"{experiment_id}: everyone now gets {experiment.forced_variant}")
