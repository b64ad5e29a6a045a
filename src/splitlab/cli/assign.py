"""`splitlab assign`: which variant a unit gets in an experiment, and why."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import click

from splitlab.assignment import ExperimentAssignmentService, TimeError, epoch_ms, experiment_unit
from splitlab.assignment.switchback import MAX_TIME_MS
from splitlab.config import load_experiment
from splitlab.tracking.events import MIN_TIMESTAMP_MS

_MILLIS = re.compile(r"^-?\d+$")
AT_RULE = (
    "epoch milliseconds (like 1767268800000) or an ISO 8601 date-time with a UTC offset "
    "(like 2026-01-01T12:00:00Z or 2026-01-01T17:30:00+05:30)"
)


def parse_at(text: str) -> int:
    """``--at``: epoch milliseconds, or ISO 8601 text with an offset, as epoch milliseconds.

    The same range as ``POST /v1/assign``'s ``timestamp``: from 2000-01-01T00:00:00Z to
    8.64e15 ms, so epoch seconds given by mistake (1790000000 is January 1970 in ms) are
    refused rather than assigned in the wrong period.
    """
    millis = _parse_at(text)
    if not MIN_TIMESTAMP_MS <= millis <= MAX_TIME_MS:
        hint = (
            " (epoch seconds? --at takes milliseconds: multiply by 1000)"
            if _MILLIS.match(text.strip()) and 0 <= millis < MIN_TIMESTAMP_MS
            else ""
        )
        raise click.BadParameter(
            f"expected a time from {MIN_TIMESTAMP_MS} (2000-01-01T00:00:00Z) to {MAX_TIME_MS} "
            f"epoch milliseconds (got {text!r}){hint}",
            param_hint="'--at'",
        )
    return millis


def _parse_at(text: str) -> int:
    value = text.strip()
    try:
        if _MILLIS.match(value):
            return epoch_ms(int(value), "--at")
        moment = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise click.BadParameter(
                f"expected {AT_RULE}; {text!r} has no UTC offset", param_hint="'--at'"
            )
        return epoch_ms(moment, "--at")
    except (ValueError, TimeError):
        raise click.BadParameter(
            f"expected {AT_RULE} (got {text!r})", param_hint="'--at'"
        ) from None


def _iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, tz=UTC).isoformat(timespec="milliseconds")


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
@click.option(
    "--at",
    "at_text",
    metavar="TIME",
    help="Switchback experiments: the time to assign at, epoch milliseconds or ISO 8601 with "
    "an offset (2026-01-01T12:00:00Z); default: now.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the assignment as JSON.")
def assign(
    file: str, unit: str, attrs: tuple[str, ...], at_text: str | None, as_json: bool
) -> None:
    """Assign UNIT to the experiment defined in FILE and print the variant and the reason.

    When the experiment's hashKey names an attribute given with --attr, that attribute's
    value is the unit hashed (cluster randomisation); otherwise UNIT is. A switchback's unit
    is its design.unit attribute (--attr region=EU) and its variant depends on --at.
    """
    at = parse_at(at_text) if at_text is not None else None
    experiment = load_experiment(file)
    attributes = dict(parse_attribute(a) for a in attrs)
    service = ExperimentAssignmentService([experiment])
    result = service.assign(unit, experiment.experiment_id, attributes, at=at)
    hashed = experiment_unit(experiment, unit, attributes)
    if as_json:
        payload: dict[str, Any] = {
            "experimentId": result.experiment_id,
            "unitId": hashed if hashed is not None else unit,
            "variant": result.variant,
            "reason": result.reason.value,
        }
        if result.period is not None:
            payload |= {
                "period": result.period,
                "periodStart": result.period_start_ms,
                "switchbackUnit": result.switchback_unit,
            }
        click.echo(json.dumps(payload))
        return
    variant = result.variant if result.variant is not None else "(no variant)"
    line = f"{variant}  reason: {result.reason.value}"
    if result.period is not None and result.period_start_ms is not None:
        line += f"  period: {result.period} (from {_iso(result.period_start_ms)})"
    click.echo(line)
