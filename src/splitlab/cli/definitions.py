"""`splitlab validate` and `splitlab schema`: experiment definitions from the shell."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from splitlab.cli.sources import load_catalog, sources_option
from splitlab.config import ConfigError, Experiment, experiment_schema_text, load_experiment
from splitlab.config.errors import Problem, count
from splitlab.config.layering import check_against


def _files(paths: tuple[str, ...]) -> list[str]:
    """The files named, a directory standing for the ``*.json`` files directly in it."""
    out: list[str] = []
    for path in paths:
        if Path(path).is_dir():
            out += sorted(str(p) for p in Path(path).glob("*.json") if p.is_file())
        else:
            out.append(path)
    return out


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@sources_option
def validate(files: tuple[str, ...], as_json: bool, sources_path: str | None) -> None:
    """Check experiment definition FILES (a directory: its *.json files) as one set.

    Each file is checked alone, then the valid ones together: experiments of one layer must
    hold disjoint ranges and share assignment.hashKey. Every problem is listed with its JSON
    path. Exits 0 when every file is valid, 3 when any is not.

    SQL metrics: with --sources (or SPLITLAB_SOURCES) each query is checked against the
    catalog and run once with LIMIT 0 on its source to check its columns; without a catalog
    only its syntax is checked.
    """
    from splitlab.store.sql_validation import validate_sql_metrics

    catalog = load_catalog(sources_path)
    results: list[tuple[str, Experiment | None, list[Problem]]] = []
    for path in _files(files):
        try:
            results.append((path, load_experiment(path), []))
        except ConfigError as exc:
            results.append((path, None, exc.problems))
    everyone = [e for _, e, _ in results if e is not None]
    notes: dict[str, str] = {}
    for path, experiment, problems in results:
        if experiment is not None:
            problems += check_against(experiment, [e for e in everyone if e is not experiment])
            found = validate_sql_metrics(experiment, catalog)
            problems += found.problems
            if found.note is not None:
                notes[path] = found.note
    report: list[dict[str, Any]] = []
    for path, experiment, problems in results:
        if experiment is not None and not problems:
            report.append({"file": path, "valid": True, "experimentId": experiment.id})
            if path in notes:
                report[-1]["sqlMetrics"] = notes[path]
            if not as_json:
                click.secho(f"{path}: valid ({experiment.id})", fg="green")
                if path in notes:
                    click.echo(f"  {notes[path]}")
            continue
        report.append({"file": path, "valid": False, "problems": [p.to_dict() for p in problems]})
        if not as_json:
            click.secho(f"{path}: invalid ({count(len(problems), 'problem')})", fg="red")
            for problem in problems:
                click.echo(f"  - {problem}")
    if as_json:
        click.echo(json.dumps(report, indent=2))
    if not report:
        click.secho("error: no definition files found", fg="red", err=True)
    if not report or not all(r["valid"] for r in report):
        sys.exit(3)


@click.command()
def schema() -> None:
    """Print the JSON Schema of an experiment definition."""
    click.echo(experiment_schema_text(), nl=False)
