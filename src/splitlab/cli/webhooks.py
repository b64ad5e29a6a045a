"""`splitlab webhooks add|list|remove|deliveries --db PATH`: webhook subscriptions.

Subscriptions live in the database file; run these while the server is stopped (DuckDB lets
one process open a file for writing), or use ``/v1/webhooks`` on a running server, whose
worker delivers the notifications (see docs/webhooks.md).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import click
import duckdb

from splitlab.cli.database import db_option, open_file, open_registry, registry_address
from splitlab.store.webhooks import EVENT_TYPES, WebhookStore


@contextmanager
def _hooks(db: str, create: bool = False) -> Iterator[WebhookStore]:
    """The subscriptions in ``db`` (which must exist unless ``create``); closed on exit."""
    on_server = "manage webhooks on that server with GET, POST or DELETE /v1/webhooks"
    if registry_address():  # the subscriptions live with the registry, in PostgreSQL
        with open_registry(db, on_server=on_server) as registry:
            yield WebhookStore.for_store(registry, create=False)
        return
    connection = open_file(db, duckdb.connect, must_exist=not create, on_server=on_server)
    try:
        yield WebhookStore(connection, threading.Lock())
    finally:
        connection.close()


@click.group("webhooks")
def webhooks() -> None:
    """Subscribe URLs to notifications of automatic actions and decisions."""


@webhooks.command("add")
@click.argument("url")
@db_option
@click.option("--secret", default=None,
              help="Signing secret (at least 16 characters); omitted: one is generated.")  # fmt: skip
@click.option("--event", "events", multiple=True, type=click.Choice(sorted(EVENT_TYPES)),
              help="An event type to receive (repeat it); none: every type.")  # fmt: skip
@click.option("--description", default="", help="A label to recognise the subscription by.")
@click.option("--json", "as_json", is_flag=True, help="Print the subscription as JSON.")
def add(
    url: str, db_path: str, secret: str | None, events: tuple[str, ...], description: str,
    as_json: bool,
) -> None:  # fmt: skip
    """Subscribe URL; prints the signing secret (the only time it is shown)."""
    with _hooks(db_path, create=True) as store:
        hook, shown = store.add(url, secret=secret, events=events, description=description)
    if as_json:
        click.echo(json.dumps({**hook.to_dict(), "secret": shown}))
        return
    click.echo(f"{hook.webhook_id}  {url}  events: {', '.join(hook.events) or 'all'}")
    if secret is None:
        click.echo(f"secret (shown once): {shown}")


@webhooks.command("list")
@db_option
@click.option("--all", "include_removed", is_flag=True, help="Include removed subscriptions.")
@click.option("--json", "as_json", is_flag=True, help="Print the subscriptions as JSON.")
def list_hooks(db_path: str, include_removed: bool, as_json: bool) -> None:
    """List subscriptions with their deliveries by state (never the secrets)."""
    with _hooks(db_path) as store:
        found = [
            {**h.to_dict(), "deliveries": store.counts(h.webhook_id)}
            for h in store.subscriptions(include_removed=include_removed)
        ]
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for h in found:
        n = h["deliveries"]
        state = f"removed {h['removed']}" if h["removed"] else "active"
        click.echo(
            f"{h['id']}  {state}  {h['url']}  secret {h['secretHint']}  "
            f"events: {', '.join(h['events']) or 'all'}  pending {n['pending']}, "
            f"delivered {n['delivered']}, dead {n['dead']}"
        )


@webhooks.command("remove")
@click.argument("webhook_id")
@db_option
def remove(webhook_id: str, db_path: str) -> None:
    """End the subscription WEBHOOK_ID (its pending deliveries are cancelled)."""
    with _hooks(db_path) as store:
        hook = store.remove(webhook_id)
    click.echo(f"removed {hook.webhook_id} ({hook.url})")


@webhooks.command("deliveries")
@click.argument("webhook_id")
@db_option
@click.option("--state", type=click.Choice(["pending", "delivered", "dead", "cancelled"]))
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print the deliveries as JSON.")
def deliveries(webhook_id: str, db_path: str, state: str | None, limit: int, as_json: bool) -> None:
    """The delivery log of WEBHOOK_ID, newest first (dead ones with --state dead)."""
    with _hooks(db_path) as store:
        found = store.deliveries(webhook_id, state=state, limit=limit)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for d in found:
        last = d["lastStatus"] or d["lastError"] or ""
        click.echo(f"{d['eventId']}  {d['type']:<28} {d['experimentId']}  {d['state']:<9} "
                   f"attempts {d['attempts']}  {last}")  # fmt: skip
