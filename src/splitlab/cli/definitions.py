"""`splitlab validate` and `splitlab schema`: experiment definitions from the shell."""

from __future__ import annotations

import json
import sys

import click

from splitlab.config import ConfigError, experiment_schema_text, load_experiment
from splitlab.config.errors import count


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def validate(files: tuple[str, ...], as_json: bool) -> None:
    """Check experiment definition FILES; list every problem with its JSON path.

    Exits 0 when every file is valid, 3 when any is not.
    """
    report = []
    for path in files:
        try:
            experiment = load_experiment(path)
        except ConfigError as exc:
            report.append({"file": path, "valid": False, "problems": exc.details()})
            if not as_json:
                click.secho(f"{path}: invalid ({count(len(exc.problems), 'problem')})", fg="red")
                for problem in exc.problems:
                    click.echo(f"  - {problem}")
        else:
            report.append({"file": path, "valid": True, "experimentId": experiment.id})
            if not as_json:
                click.secho(f"{path}: valid ({experiment.id})", fg="green")
    if as_json:
        click.echo(json.dumps(report, indent=2))
    if not all(r["valid"] for r in report):
        sys.exit(3)


@click.command()
def schema() -> None:
    """Print the JSON Schema of an experiment definition."""
    click.echo(experiment_schema_text(), nl=False)
