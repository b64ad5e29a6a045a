"""`splitlab serve --db PATH`: the HTTP API, the collector and the dashboard in one process."""

from __future__ import annotations

import logging

import click

from splitlab.cli.clickhouse import clickhouse_options
from splitlab.cli.kafka import kafka_options
from splitlab.cli.sources import sources_option

logger = logging.getLogger(__name__)


@click.command("serve")
@click.option("--db", required=True, type=click.Path(dir_okay=False),
              help="The splitlab database file (created if missing).")  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on.")  # fmt: skip
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))  # fmt: skip
@click.option("--scheduler/--no-scheduler", default=True, show_default=True,
              help="Take each running experiment's scheduled looks in this process.")  # fmt: skip
@click.option("--cors-origin", "cors_origins", multiple=True, metavar="ORIGIN",
              help="A browser origin (https://app.example.com) allowed to call the SDK routes; "
                   "repeatable; also SPLITLAB_CORS_ORIGINS (comma-separated). '*' allows any "
                   "origin (discouraged).")  # fmt: skip
@sources_option
@click.option("--registry", default="", envvar="SPLITLAB_REGISTRY", metavar="postgresql://...",
              help="Keep the registry (experiments, audit log, looks, keys, webhooks) in this "
                   "PostgreSQL database, shared by several servers; events stay in --db "
                   "(or --clickhouse). "
                   "Also SPLITLAB_REGISTRY.")  # fmt: skip
@kafka_options
@clickhouse_options
def serve(
    db: str,
    host: str,
    port: int,
    log_level: str,
    scheduler: bool,
    cors_origins: tuple[str, ...],
    sources_path: str | None,
    registry: str,
    kafka: str,
    kafka_topic: str,
) -> None:
    """Serve the HTTP API (/v1), the event collector and the dashboard.

    When the database holds no active admin key, one is created and printed once, so a new
    installation can sign in to the dashboard and call the API. Scheduled looks run in the
    server (DuckDB lets one process write the file); --no-scheduler leaves them to
    POST /v1/experiments/{id}/evaluate. --sources names the catalog that SQL metrics read
    (their queries are dry-run when a definition is created or replaced). --kafka also
    publishes every accepted event to --kafka-topic (acknowledged from the local log first,
    then forwarded: docs/kafka.md). --clickhouse keeps the events in ClickHouse instead of
    --db, so replicas on one registry see each other's events in looks and the dashboard
    (acknowledged from a log beside --db first, then loaded: docs/clickhouse.md).
    """
    import os

    from splitlab.cli.clickhouse import clickhouse_target, open_clickhouse
    from splitlab.cli.database import connect_registry, open_store
    from splitlab.cli.ports import ensure_port_free
    from splitlab.cli.sources import load_catalog
    from splitlab.server.context import ServerContext
    from splitlab.server.cors import ENV, parse_origins
    from splitlab.server.run import run_server

    origins = parse_origins([*cors_origins, os.environ.get(ENV, "")])
    target = clickhouse_target()
    if kafka and target is not None:
        raise click.UsageError(
            "--kafka and --clickhouse: give one (the forwarder publishes the --db file's "
            "events; with --clickhouse the replicas share ClickHouse instead)"
        )

    catalog = load_catalog(sources_path)
    ensure_port_free(host, port)  # before a new admin key is created and shown
    on_server = "a second server cannot share the file; use the running one"
    shared = connect_registry(registry) if registry else None  # before the store: fail early
    events = None
    try:
        store = open_store(db, must_exist=False, on_server=on_server, sources=catalog)
        if target is not None:  # after the file's lock: one server per log directory
            try:
                events = open_clickhouse(target, target.log_dir(db), sources=catalog)
            except BaseException:
                store.close()
                raise
    except BaseException:
        if shared is not None:
            shared.close()
        raise
    if kafka:
        from splitlab.server.kafka_forward import KafkaForwarder

        forwarder = KafkaForwarder(store.event_log, kafka, kafka_topic).start()
        store.on_close(forwarder.close)  # before the store closes: forward what is durable
    ctx = ServerContext.open(store, shared, event_store=events)
    if kafka:
        ctx.kafka_health = forwarder.health
    try:
        key = ctx.bootstrap_admin_key()
        if key is not None:
            click.secho(f"Admin key (shown once): {key}", fg="yellow")
        where = f" with the registry in {shared.address}" if shared is not None else ""
        if target is not None:
            where += f", events in ClickHouse {target.shown} ({target.database})"
        click.echo(f"splitlab serving {db}{where} at http://{host}:{port}/")
        if "*" in origins:
            click.secho("CORS allows every origin ('*'): any site can use a page's SDK key",
                        fg="yellow", err=True)  # fmt: skip
        run_server(ctx, host, port, log_level, scheduler=scheduler, cors_origins=origins)
    finally:
        if ctx.event_store is not None:  # its last load first; what fails stays in its log
            ctx.event_store.close()
        ctx.store.close()
        ctx.registry.close()
