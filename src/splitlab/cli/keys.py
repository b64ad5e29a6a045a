"""`splitlab keys create|list|revoke --db PATH`: API keys of a splitlab database.

Keys live in the database file; run these while the server is stopped (DuckDB lets one
process open a file for writing), or use ``POST /v1/keys`` on a running server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import click
import duckdb

from splitlab.cli.database import db_option, open_file, open_registry, registry_address
from splitlab.server.keys import KeyKind, KeyStore


@contextmanager
def _keys(db: str, create: bool = False) -> Iterator[KeyStore]:
    """The keys in ``db`` (which must exist unless ``create``); the file is closed on exit."""
    on_server = "manage keys on that server with GET, POST or DELETE /v1/keys"
    if registry_address():  # the keys live with the registry, in PostgreSQL
        with open_registry(db, on_server=on_server) as registry:
            yield KeyStore(registry.connection, registry.lock)
        return
    connection = open_file(db, duckdb.connect, must_exist=not create, on_server=on_server)
    try:
        yield KeyStore(connection, threading.Lock())
    finally:
        connection.close()


@click.group("keys")
def keys() -> None:
    """Create, list and revoke API keys (admin: everything; sdk: config, assign, events)."""


@keys.command("create")
@db_option
@click.option(
    "--kind",
    required=True,
    type=click.Choice([k.value for k in KeyKind]),
    help="admin: may change experiments; sdk: may read the config, assign and send events.",
)
@click.option("--name", default="", help="A label to recognise the key by (team, service).")
@click.option("--json", "as_json", is_flag=True, help="Print the key as JSON.")
def create(db_path: str, kind: str, name: str, as_json: bool) -> None:
    """Create a key and print it (the only time it is shown; only its hash is stored)."""
    with _keys(db_path, create=True) as store:
        new = store.create(kind, name)
    if as_json:
        click.echo(json.dumps({"key": new.key.to_dict(), "secret": new.secret}))
        return
    click.echo(new.secret)
    click.echo(f"{kind} key {new.key.key_id} created; store it now, it is not shown again.",
               err=True)  # fmt: skip


@keys.command("list")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the keys as JSON.")
def list_keys(db_path: str, as_json: bool) -> None:
    """List keys (never the secrets)."""
    with _keys(db_path) as store:
        found = store.list()
    if as_json:
        click.echo(json.dumps([k.to_dict() for k in found], indent=2))
        return
    for k in found:
        state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
        click.echo(f"{k.key_id}  {k.kind.value:<5}  {state:<24}  {k.name}")


@keys.command("revoke")
@click.argument("key_id")
@db_option
def revoke(key_id: str, db_path: str) -> None:
    """Revoke the key KEY_ID (the 12-digit id shown by `keys list`) at once."""
    with _keys(db_path) as store:
        key = store.revoke(key_id)
    click.echo(f"revoked {key.kind.value} key {key.key_id}")
