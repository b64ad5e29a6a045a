"""`splitlab holdouts --db PATH`: every holdout, its scope and the experiments it covers."""

from __future__ import annotations

import json

import click

from splitlab.cli.database import db_option, open_registry
from splitlab.evaluation.holdout_view import holdout_rows


@click.command("holdouts")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print what GET /v1/holdouts returns.")
def holdouts(db_path: str, as_json: bool) -> None:
    """List the holdouts: status, percent held out, scope and covered experiments.

    One block per holdout: a tab-separated line (id, status, percent held out, scope), then
    one indented line per experiment it covers now, with its status. Exits 3 when the
    database cannot be opened.
    """
    with open_registry(db_path, on_server="use GET /v1/holdouts on that server") as registry:
        rows = holdout_rows(registry.experiments())
    if as_json:
        click.echo(json.dumps({"holdouts": [r.to_dict() for r in rows]}, indent=2))
        return
    if not rows:
        click.echo("no holdouts (an experiment with design.type 'holdout')")
        return
    for row in rows:
        click.echo(f"{row.holdout_id}\t{row.status}\t{row.percent:g}% held out\t{row.scope}")
        if not row.covered:
            click.echo("    covers no experiment yet")
        for experiment_id, status in row.covered:
            click.echo(f"    {experiment_id}\t{status}")
