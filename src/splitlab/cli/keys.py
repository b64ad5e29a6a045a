"""`splitlab keys create|list|revoke --db PATH`: API keys of a splitlab database.

Keys live in the database file; run these while the server is stopped (DuckDB lets one
process open a file for writing), or use ``POST /v1/keys`` on a running server.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import click
import duckdb

from splitlab.server.keys import KeyKind, KeyStore

DB_OPTION = click.option(
    "--db",
    "db",
    required=True,
    type=click.Path(dir_okay=False),
    help="The splitlab database file (the one `splitlab serve --db` uses).",
)


def _keys(db: str, create: bool = False) -> KeyStore:
    if not create and not Path(db).exists():
        raise click.BadParameter(f"no database at {db!r}", param_hint="--db")
    try:
        connection = duckdb.connect(db)
    except duckdb.IOException as exc:
        raise click.ClickException(
            f"cannot open {db!r} ({exc}); is `splitlab serve` using it? Stop it, or manage "
            "keys over HTTP with POST /v1/keys"
        ) from None
    return KeyStore(connection, threading.Lock())


@click.group("keys")
def keys() -> None:
    """Create, list and revoke API keys (admin: everything; sdk: config, assign, events)."""


@keys.command("create")
@DB_OPTION
@click.option(
    "--kind",
    required=True,
    type=click.Choice([k.value for k in KeyKind]),
    help="admin: may change experiments; sdk: may read the config, assign and send events.",
)
@click.option("--name", default="", help="A label to recognise the key by (team, service).")
@click.option("--json", "as_json", is_flag=True, help="Print the key as JSON.")
def create(db: str, kind: str, name: str, as_json: bool) -> None:
    """Create a key and print it (the only time it is shown; only its hash is stored)."""
    new = _keys(db, create=True).create(kind, name)
    if as_json:
        click.echo(json.dumps({"key": new.key.to_dict(), "secret": new.secret}))
        return
    click.echo(new.secret)
    click.echo(f"{kind} key {new.key.key_id} created; store it now, it is not shown again.",
               err=True)  # fmt: skip


@keys.command("list")
@DB_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the keys as JSON.")
def list_keys(db: str, as_json: bool) -> None:
    """List keys (never the secrets)."""
    found = _keys(db).list()
    if as_json:
        click.echo(json.dumps([k.to_dict() for k in found], indent=2))
        return
    for k in found:
        state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
        click.echo(f"{k.key_id}  {k.kind.value:<5}  {state:<24}  {k.name}")


@keys.command("revoke")
@click.argument("key_id")
@DB_OPTION
def revoke(key_id: str, db: str) -> None:
    """Revoke the key KEY_ID (the 12-digit id shown by `keys list`) at once."""
    key = _keys(db).revoke(key_id)
    click.echo(f"revoked {key.kind.value} key {key.key_id}")
