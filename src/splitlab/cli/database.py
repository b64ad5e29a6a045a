"""Opening a splitlab database from the command line: the event store and its registry.

Every ``--db`` command opens its file through :func:`open_file` (or :func:`open_store`, built
on it), so a file that cannot be opened is one clean message and exit code 3 whatever the
command: a file held by a running ``splitlab serve`` (DuckDB lets one process open it), a
directory that does not exist, a file that is not a DuckDB database, or (for commands that
need an existing database) a mistyped path, which would otherwise create a new empty one.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click
import duckdb

from splitlab.config.sources import SourceCatalog
from splitlab.errors import SplitlabError
from splitlab.store.duckdb_store import DuckDBStore
from splitlab.store.errors import DatabaseOpenError, database_open_error
from splitlab.store.registry import Registry
from splitlab.store.registry_backend import RegistryBackend

if TYPE_CHECKING:
    from splitlab.store.pgregistry.registry import PostgresRegistry

T = TypeVar("T")

#: The environment variable naming the PostgreSQL registry (as ``--registry`` does).
REGISTRY_ENV = "SPLITLAB_REGISTRY"
_REGISTRY_KEY = "splitlab.registry"

_db_option = click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The splitlab database file (DuckDB), as given to `splitlab serve --db`.",
)


def _remember_registry(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    ctx.meta[_REGISTRY_KEY] = value or ""


#: ``--registry``: where the registry lives when not in the ``--db`` file (PostgreSQL).
registry_option = click.option(
    "--registry",
    envvar=REGISTRY_ENV,
    default="",
    metavar="postgresql://...",
    expose_value=False,
    callback=_remember_registry,
    help="Keep the registry (experiments, audit log, looks, keys, webhooks) in this "
    f"PostgreSQL database instead of the --db file; also {REGISTRY_ENV}.",
)


def db_option(command: Callable[..., T]) -> Callable[..., T]:
    """The ``--db`` option shared by the commands that open a database, with ``--registry``."""
    return _db_option(registry_option(command))


_events_db_option = click.option(
    "--db",
    "db_path",
    default=None,
    type=click.Path(dir_okay=False),
    help="The splitlab database file (DuckDB), as given to `splitlab serve --db`. Not needed "
    "with both --registry and --clickhouse: the file is not opened then.",
)


def events_db_option(command: Callable[..., T]) -> Callable[..., T]:
    """``--db`` and ``--registry`` for the commands that read events (with
    :func:`~splitlab.cli.clickhouse.clickhouse_options`): ``--db`` may be left out when both
    ``--registry`` and ``--clickhouse`` are given (:func:`~splitlab.cli.clickhouse.open_events`
    says so otherwise)."""
    return _events_db_option(registry_option(command))


def registry_address() -> str:
    """The ``--registry`` given to the running command (or ``SPLITLAB_REGISTRY``), or ''."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and _REGISTRY_KEY in ctx.meta:
        return str(ctx.meta[_REGISTRY_KEY])
    return os.environ.get(REGISTRY_ENV, "")


def connect_registry(address: str) -> PostgresRegistry:
    """The PostgreSQL registry at ``address`` (migrated), or a clean error saying why not."""
    from splitlab.store.pgregistry.registry import PostgresRegistry, is_postgres_address

    if not is_postgres_address(address):
        raise DatabaseUnavailableError(
            f"--registry {address!r}: expected a PostgreSQL address (postgresql://...)"
        )
    return PostgresRegistry.connect(address)


#: What to do instead while a server holds the file, when the command has no better advice.
EVALUATE_ON_SERVER = "take looks on that server with POST /v1/experiments/{id}/evaluate"


class DatabaseUnavailableError(SplitlabError):
    """The ``--db`` file cannot be opened (locked, missing, not a DuckDB file)."""

    code = "database_unavailable"


def open_file(
    path: str | Path,
    opener: Callable[[str], T],
    *,
    must_exist: bool = True,
    on_server: str = EVALUATE_ON_SERVER,
) -> T:
    """``opener(path)``, with every way the file can fail to open as one clean message.

    ``must_exist``: refuse a path that does not exist instead of creating an empty database.
    ``on_server``: what to do on a running server instead (an HTTP route, usually), said in
    the message when the file is locked.
    """
    target = Path(path)
    if target.is_dir():
        raise DatabaseUnavailableError(f"--db {path}: is a directory, expected a database file")
    if not target.parent.is_dir():
        raise DatabaseUnavailableError(f"--db {path}: the directory {target.parent} does not exist")
    if must_exist and not target.exists():
        raise DatabaseUnavailableError(
            f"--db {path}: no such database file (check the path; `splitlab experiments create "
            "FILE --db PATH` or `splitlab serve --db PATH` create a database)"
        )
    try:
        try:
            return opener(str(target))
        except duckdb.Error as exc:  # an opener other than DuckDBStore (keys: duckdb.connect)
            raise database_open_error(str(path), exc) from None
    except DatabaseOpenError as exc:
        raise DatabaseUnavailableError(_explain(str(path), exc, on_server)) from None
    except OSError as exc:
        raise DatabaseUnavailableError(
            f"--db {path}: cannot open it ({exc.strerror or exc})"
        ) from None


def _explain(path: str, error: DatabaseOpenError, on_server: str) -> str:
    """One line for a database that cannot be opened, in the shell user's terms."""
    if error.kind == "locked":
        holder = f"process {error.holder_pid}" if error.holder_pid else "another process"
        return (
            f"--db {path} is locked by {holder}, most likely a running `splitlab serve` "
            f"(DuckDB lets one process open the file): {on_server}, or stop the server and "
            "run this again"
        )
    if error.kind == "not_duckdb":
        return f"--db {path}: not a DuckDB database file (expected a splitlab database)"
    return f"--db {path}: cannot open it ({error.detail})"


def open_store(
    path: str | Path,
    *,
    must_exist: bool = True,
    on_server: str = EVALUATE_ON_SERVER,
    sources: SourceCatalog | None = None,
) -> DuckDBStore:
    """The event store at ``path`` (see :func:`open_file`), reading SQL metrics from
    `sources`; the caller closes it."""
    opener = functools.partial(DuckDBStore, sources=sources)
    return open_file(path, opener, must_exist=must_exist, on_server=on_server)


@contextmanager
def open_database(
    path: str,
    *,
    must_exist: bool = True,
    on_server: str = EVALUATE_ON_SERVER,
    sources: SourceCatalog | None = None,
) -> Iterator[tuple[DuckDBStore, RegistryBackend]]:
    """The store at ``path`` and the registry (in the same file, or in PostgreSQL when
    ``--registry`` names one); both closed on exit."""
    address = registry_address()
    registry = connect_registry(address) if address else None
    try:
        store = open_store(path, must_exist=must_exist, on_server=on_server, sources=sources)
        try:
            yield store, registry if registry is not None else Registry.for_store(store)
        finally:
            store.close()
    finally:
        if registry is not None:
            registry.close()


@contextmanager
def open_registry(
    path: str, *, must_exist: bool = True, on_server: str = EVALUATE_ON_SERVER
) -> Iterator[RegistryBackend]:
    """The registry alone: in PostgreSQL when ``--registry`` names one (the ``--db`` file is
    not opened, so this works while a server holds it), else in the ``--db`` file."""
    address = registry_address()
    if not address:
        with open_database(path, must_exist=must_exist, on_server=on_server) as (_, registry):
            yield registry
        return
    registry = connect_registry(address)
    try:
        yield registry
    finally:
        registry.close()


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
