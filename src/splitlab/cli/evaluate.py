"""`splitlab evaluate EXPERIMENT_ID --db PATH`: one look, recorded, with an exit code per decision.

The hook for teams that already run Airflow or cron; the exit code lets a CI/CD pipeline gate
on the decision (docs/evaluation.md).
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from splitlab.cli.clickhouse import clickhouse_options, open_events
from splitlab.cli.database import events_db_option, parse_instant
from splitlab.cli.designs import results_design_lines
from splitlab.cli.sources import load_catalog, sources_option
from splitlab.evaluation import EvaluationError, run_look
from splitlab.evaluation.look import results_json
from splitlab.evaluation.look_view import look_curves
from splitlab.evaluation.survival_view import curve_lines
from splitlab.stats.versions import versions_line
from splitlab.store.registry import LookRecord, format_time

#: Exit code per decision of a new look (errors, including a refused look, exit 3).
EXIT_CODES: dict[str, int] = {
    "continue": 0,
    "peek": 0,
    "ship": 10,
    "stop": 11,
    "rollback": 12,
    "halt": 13,
}

_COLOURS = {
    "continue": "cyan",
    "ship": "green",
    "stop": "yellow",
    "rollback": "red",
    "halt": "red",
    "peek": "red",
}


@click.command("evaluate")
@click.argument("experiment_id")
@events_db_option
@clickhouse_options
@click.option("--json", "as_json", is_flag=True, help="Print the look's results JSON.")
@click.option(
    "--peek",
    is_flag=True,
    help="A read-only peek: recorded, but it cannot trigger a decision or a status change.",
)
@click.option(
    "--cutoff",
    callback=parse_instant,
    help="Data cut-off, ISO-8601 (UTC when no offset; default: now).",
)
@click.option("--by", "triggered_by", default="cli", show_default=True, help="Who or what asks.")
@click.option("--history", is_flag=True, help="List the looks ledger instead of looking.")
@click.option(
    "--show",
    type=click.IntRange(min=1),
    help="Re-render ledger entry SEQ exactly as recorded instead of looking.",
)
@sources_option
def evaluate(
    experiment_id: str,
    db_path: str | None,
    as_json: bool,
    peek: bool,
    cutoff: datetime | None,
    triggered_by: str,
    history: bool,
    show: int | None,
    sources_path: str | None,
) -> None:
    """Take a look at EXPERIMENT_ID: store -> statistics -> one decision, recorded.

    Exit codes of a new look: 0 continue (or a peek), 10 ship, 11 stop, 12 rollback, 13 halt;
    3 when the look is refused (maxPeeks reached, unknown experiment, ...).
    """
    on_server = f"take the look on that server with POST /v1/experiments/{experiment_id}/evaluate"
    catalog = load_catalog(sources_path)
    with open_events(db_path, on_server=on_server, sources=catalog) as (store, registry):
        if history or show is not None:
            registry.get(experiment_id)
            records = registry.looks(experiment_id)
            if history:
                _print_history(records, as_json)
                return
            match = [r for r in records if r.seq == show]
            if not match:
                raise EvaluationError(
                    f"--show: no ledger entry {show} for {experiment_id!r} "
                    f"(expected 1..{len(records)})",
                    field="show",
                    value=show,
                )
            _print_record(match[0], as_json)
            return
        record = run_look(
            store, registry, experiment_id, cutoff=cutoff, triggered_by=triggered_by, peek=peek
        )
        _print_record(record, as_json)
    sys.exit(EXIT_CODES.get(record.action, 0))


def _print_record(record: LookRecord, as_json: bool) -> None:
    if as_json:
        click.echo(results_json(record))
        return
    doc = record.to_dict()
    console = Console(highlight=False)
    what = "peek" if record.peek else f"look {record.number} of {doc['results']['maxPeeks']}"
    console.print(
        f"[bold]{record.experiment_id}[/] {what} (ledger #{record.seq}), data cut-off "
        f"{doc['cutoff']}, by {record.triggered_by}"
    )
    if record.peek:
        console.print(
            "[bold red]READ-ONLY PEEK: not a planned look; it cannot trigger a decision.[/]"
        )
    decision = doc["decision"]
    colour = _COLOURS.get(decision["action"], "white")
    label = decision["action"].upper() + (f" {decision['variant']}" if decision["variant"] else "")
    console.print(f"Decision: [bold {colour}]{label}[/]")
    for reason in decision["reasons"]:
        console.print(f"  - {reason}")
    if "weightsVersions" in doc:  # a sticky experiment whose weights changed
        console.print(versions_line(doc["weightsVersions"]), markup=False)
    for line in results_design_lines(doc["results"].get("design")):
        console.print(line, markup=False)
    for action in doc["actions"]:
        console.print(f"[bold]Status changed to {action['to']}[/]: {action['reason']}")
    table, notes = _metrics_table(doc["results"])
    console.print(table)
    for note in notes:
        console.print(f"[dim]  not estimable: {note}[/]")
    for line in curve_lines(look_curves(doc)):  # retention and time-to-event metrics
        console.print(line, markup=False)
    segments = doc.get("segments")
    if segments:
        console.print(f"[dim]{segments['note']}[/]")


def _metrics_table(results: dict[str, Any]) -> tuple[Table, list[str]]:
    """One row per metric and variant; reasons for "not estimable" are returned as notes."""
    table = Table(title="Metrics at this look", title_justify="left")
    for column in ("metric (role)", "variant", "relative effect", "interval", "adj. p", "verdict"):
        table.add_column(column, overflow="fold")
    notes: list[str] = []
    for metric in results["metrics"]:
        for c in metric["comparisons"]:
            rel = c.get("relative") or {}
            estimate, lower, upper = rel.get("estimate"), rel.get("lower"), rel.get("upper")
            effect = "n/a" if estimate is None else f"{estimate:+.2%}"
            interval = "n/a" if lower is None or upper is None else f"{lower:+.2%} .. {upper:+.2%}"
            p = c.get("adjustedPValue")
            verdict = c["guardrail"]["verdict"] if "guardrail" in c else c["direction"]
            if not c["estimable"]:
                verdict = "not estimable"
                note = f"{metric['name']}: {c['reason']}"
                if note not in notes:
                    notes.append(note)
            table.add_row(
                f"{metric['name']} ({metric['role']})",
                c["variant"],
                effect,
                interval,
                "n/a" if p is None else f"{p:.3g}",
                verdict,
            )
    return table, notes


def _print_history(records: list[LookRecord], as_json: bool) -> None:
    rows = [
        {
            "seq": r.seq,
            "look": r.number,
            "peek": r.peek,
            "at": format_time(r.at),
            "cutoff": format_time(r.cutoff),
            "triggeredBy": r.triggered_by,
            "action": r.action,
            "variant": r.variant,
        }
        for r in records
    ]
    if as_json:
        import json

        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Looks ledger", title_justify="left")
    for column in ("#", "look", "at", "cut-off", "by", "decision"):
        table.add_column(column)
    for row in rows:
        decision = str(row["action"]) + (f" {row['variant']}" if row["variant"] else "")
        look = f"peek after {row['look']}" if row["peek"] else str(row["look"])
        table.add_row(
            str(row["seq"]),
            look,
            str(row["at"]),
            str(row["cutoff"]),
            str(row["triggeredBy"]),
            decision,
        )
    Console(highlight=False).print(table)
