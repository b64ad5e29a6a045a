"""`splitlab experiments create|update|list --db PATH`: the definitions registered in a database."""

from __future__ import annotations

import json

import click

from splitlab.cli.database import db_option, open_registry
from splitlab.cli.designs import design_label
from splitlab.config import ConfigError, load_experiment
from splitlab.config.layering import check_against
from splitlab.evaluation import register, update_definition
from splitlab.store.registry_records import DuplicateExperimentError


@click.group("experiments")
def experiments() -> None:
    """Register experiment definitions in a database, update and list them."""


@experiments.command("create")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@db_option
@click.option("--by", "by", default="cli", show_default=True, help="Who (audit log).")
def create(files: tuple[str, ...], db_path: str, by: str) -> None:
    """Register the definitions in FILES (each validated first; ids must be new).

    A definition whose status is ``running`` is registered as a draft and launched, so the
    audit log records the launch. Exits 3 when a definition is invalid, its id is already
    registered, its status cannot be reached from draft, or its layer range overlaps
    another's (among the files or the registered experiments; then none is registered).
    """
    loaded = [(path, load_experiment(path)) for path in files]
    with open_registry(
        db_path, must_exist=False, on_server="use POST /v1/experiments on that server"
    ) as registry:
        # The files as one set, with what is registered: none is registered when any of
        # them conflicts in a layer (register() checks each against the registry again).
        everyone = [e for _, e in loaded]
        registered = registry.experiments()
        taken = {e.id for e in registered}
        for path, experiment in loaded:
            # before the layer check, which would take it for a replacement of its namesake
            if experiment.id in taken:
                raise DuplicateExperimentError(
                    f"{path}: experimentId {experiment.id!r}: already registered "
                    "(expected a new id; `splitlab experiments update` replaces a registered definition)"
                )
            others = [e for e in everyone if e is not experiment] + registered
            problems = check_against(experiment, others)
            if problems:
                raise ConfigError(problems, path)
        for path, experiment in loaded:
            register(registry, experiment, by=by, reason=f"registered from {path}")
            click.echo(f"registered {experiment.id} ({experiment.status.value})")


@experiments.command("update")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@db_option
@click.option("--reason", required=True, help="Why (recorded in the audit log).")
@click.option("--by", "by", required=True, help="Who (recorded in the audit log).")
def update(file: str, db_path: str, reason: str, by: str) -> None:
    """Replace a registered definition with FILE (same id), for a ramp-up or new targeting.

    After launch only name, description, trafficAllocation, targeting and
    evaluation.schedule may change. Exits 3 when refused.
    """
    experiment = load_experiment(file)
    on_server = f"use PUT /v1/experiments/{experiment.id} on that server"
    with open_registry(db_path, on_server=on_server) as registry:
        update_definition(registry, experiment, by=by, reason=reason)
    click.echo(f"updated {experiment.id}")


@experiments.command("list")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the definitions as JSON.")
def list_command(db_path: str, as_json: bool) -> None:
    """List the registered experiments: id, status, name and design (tab-separated)."""
    with open_registry(db_path, on_server="use GET /v1/experiments on that server") as registry:
        found = registry.experiments()
    if as_json:
        click.echo(json.dumps([e.to_wire() for e in found], indent=2))
        return
    for e in found:
        toggled = f" (toggled: {e.forced_variant})" if e.forced_variant else ""
        click.echo(f"{e.id}\t{e.status.value}{toggled}\t{e.name}\t{design_label(e)}")
