"""`splitlab assign`: which variant a unit gets in an experiment, and why."""

from __future__ import annotations

import json
from typing import Any

import click

from splitlab.assignment import ExperimentAssignmentService, resolve_unit
from splitlab.config import load_experiment


def parse_attribute(text: str) -> tuple[str, Any]:
    """``key=value`` -> (key, value): the value JSON-decoded when it is valid JSON, else text.

    So ``bot=true`` gives True, ``age=30`` gives 30, ``region=US`` and ``zip=02134`` give
    strings, and ``name="true"`` gives the string "true".
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise click.BadParameter(
            f"expected key=value with a non-empty key (got {text!r})", param_hint="'--attr'"
        )
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("unit")
@click.option(
    "--attr",
    "attrs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A unit attribute for targeting or hashKey; repeatable. VALUE is JSON-decoded when "
    "valid JSON (true, 42, [1,2]), else taken as text.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the assignment as JSON.")
def assign(file: str, unit: str, attrs: tuple[str, ...], as_json: bool) -> None:
    """Assign UNIT to the experiment defined in FILE and print the variant and the reason.

    When the experiment's hashKey names an attribute given with --attr, that attribute's
    value is the unit hashed (cluster randomisation); otherwise UNIT is.
    """
    experiment = load_experiment(file)
    attributes = dict(parse_attribute(a) for a in attrs)
    service = ExperimentAssignmentService([experiment])
    result = service.assign(unit, experiment.experiment_id, attributes)
    hashed = resolve_unit(experiment.assignment.hash_key, unit, attributes)
    if as_json:
        payload = {
            "experimentId": result.experiment_id,
            "unitId": hashed if hashed is not None else unit,
            "variant": result.variant,
            "reason": result.reason.value,
        }
        click.echo(json.dumps(payload))
        return
    variant = result.variant if result.variant is not None else "(no variant)"
    click.echo(f"{variant}  reason: {result.reason.value}")
