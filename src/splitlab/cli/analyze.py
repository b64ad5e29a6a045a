"""`splitlab analyze EXPERIMENT.json --sums SUMS.json`: results from sufficient statistics.

This is also how a team that keeps its events in its own warehouse uses splitlab: compute the
sums there (the JSON of docs/architecture.md), analyse them here.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from splitlab.config import Experiment, load_experiment
from splitlab.stats import ExperimentSums, SumsError, analyze


def _read_sums(path: str, definition: Experiment) -> ExperimentSums:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise click.FileError(path, hint=exc.strerror or str(exc)) from exc
    except json.JSONDecodeError as exc:
        raise SumsError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    return ExperimentSums.from_dict(data, experiment=definition)


@click.command("analyze")
@click.argument("experiment", type=click.Path(dir_okay=False, exists=True))
@click.option(
    "--sums",
    "sums_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True),
    help="Sufficient statistics JSON (units and per-metric sums per variant).",
)
@click.option("--look", type=click.IntRange(min=1), help="Look number (default: the sums').")
@click.option("--segment", help='Analyse one segment of the sums, e.g. "country=US".')
@click.option("--json", "as_json", is_flag=True, help="Print the results JSON.")
def analyze_command(
    experiment: str, sums_path: str, look: int | None, segment: str | None, as_json: bool
) -> None:
    """Analyse EXPERIMENT.json's sufficient statistics and print results and a decision.

    Exits 0 on success and 3 when the definition or the sums are refused.
    """
    definition = load_experiment(experiment)
    sums = _read_sums(sums_path, definition)
    results = analyze(definition, sums, look, segment=segment)
    if as_json:
        click.echo(json.dumps(results.to_dict(), indent=2, allow_nan=False))
        return
    from rich.console import Console

    Console().print(results)
