"""`splitlab status EXPERIMENT_ID [NEW_STATUS]`: show or change an experiment's status."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from splitlab.cli.database import db_option, open_registry
from splitlab.config import Status
from splitlab.evaluation import change_status, history
from splitlab.evaluation.look_view import look_curves
from splitlab.evaluation.survival_view import curve_lines
from splitlab.stats.versions import split_text


@click.command("status")
@click.argument("experiment_id")
@click.argument("new_status", required=False, type=click.Choice([s.value for s in Status]))
@db_option
@click.option("--reason", help="Why (required for a change; recorded in the audit log).")
@click.option("--by", "by", help="Who (required for a change; recorded in the audit log).")
@click.option("--variant", help="With 'shipped': the variant everyone gets.")
@click.option("--json", "as_json", is_flag=True, help="Print status and history as JSON.")
def status(
    experiment_id: str,
    new_status: str | None,
    db_path: str,
    reason: str | None,
    by: str | None,
    variant: str | None,
    as_json: bool,
) -> None:
    """Show EXPERIMENT_ID's status and audit log, or move it to NEW_STATUS.

    Allowed: draft -> running; running -> paused | stopped | rolled_back | shipped;
    paused -> running | stopped | rolled_back | shipped. Exits 3 on a refused change.
    """
    on_server = f"use GET or POST /v1/experiments/{experiment_id}/audit|status on that server"
    with open_registry(db_path, on_server=on_server) as registry:
        if new_status is not None:
            if not reason or not by:
                raise click.UsageError("a status change needs --reason and --by (both recorded)")
            before = registry.get(experiment_id).status
            after = change_status(
                registry, experiment_id, new_status, by=by, reason=reason, variant=variant
            )
            if not as_json:
                click.echo(f"{experiment_id}: {before.value} -> {after.status.value}")
        experiment = registry.get(experiment_id)
        changes = history(registry, experiment_id)
        looks = registry.looks(experiment_id, include_peeks=False)
    latest = looks[-1] if looks else None
    if as_json:
        data = {
            "experimentId": experiment.id,
            "status": experiment.status.value,
            "shippedVariant": experiment.shipped_variant,
            "forcedVariant": experiment.forced_variant,
            "history": [c.to_dict() for c in changes],
        }
        click.echo(json.dumps(data, indent=2))
        return
    if new_status is not None:
        return
    console = Console(highlight=False)
    extra = ""
    if experiment.shipped_variant:
        extra += f", shipped variant {experiment.shipped_variant}"
    if experiment.forced_variant:
        extra += f", toggled to {experiment.forced_variant} for everyone"
    console.print(f"[bold]{experiment.id}[/]: {experiment.status.value}{extra}")
    table = Table(title="Changes", title_justify="left")
    for column in ("at", "kind", "from", "to", "by", "reason", "look"):
        table.add_column(column)
    for c in changes:
        was, now = c.from_value or "-", c.to_value or "-"
        details = c.details or {}
        if "weightsVersion" in details:  # a live weights change: a new weights version
            was = f"weights {split_text(details['previousWeights'])}"
            now = f"weights v{details['weightsVersion']}: {split_text(details['weights'])}"
        table.add_row(
            c.to_dict()["at"],
            c.kind,
            was,
            now,
            c.by,
            c.reason,
            "-" if c.look is None else str(c.look),
        )
    console.print(table)
    curves = None if latest is None else look_curves(latest.to_dict())
    if latest is not None and curves:  # retention and time-to-event metrics
        console.print(
            f"[bold]At look {latest.number}[/] (data up to {latest.to_dict()['cutoff']}):"
        )
        for line in curve_lines(curves):
            console.print(line, markup=False)
