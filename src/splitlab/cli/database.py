"""Opening a splitlab database from the command line: the event store and its registry."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click

from splitlab.store.duckdb_store import DuckDBStore
from splitlab.store.registry import Registry

#: The ``--db`` option shared by the evaluation commands.
db_option = click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The splitlab database file (DuckDB), as given to `splitlab serve --db`.",
)


@contextmanager
def open_database(path: str) -> Iterator[tuple[DuckDBStore, Registry]]:
    """The store at ``path`` and the registry in the same file; closed on exit."""
    store = DuckDBStore(path)
    try:
        yield store, Registry.for_store(store)
    finally:
        store.close()


def parse_instant(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """A click callback: ISO-8601 text to an aware UTC datetime (UTC when no offset is given)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO-8601 time (expected like 2026-03-02T09:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
