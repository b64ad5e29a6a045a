"""``--clickhouse URL``: keep a server's events in ClickHouse, shared by several replicas.

``splitlab serve --db FILE --clickhouse URL`` writes accepted events to a local fsync'd log
beside the database file (``FILE.ch-log/``), acknowledges them from there as before, and
loads them into ClickHouse in the background (:class:`~splitlab.store.clickhouse.ClickHouseStore`).
Looks, the dashboard and the monitors read ClickHouse, so replicas on one registry and one
ClickHouse see every replica's events. Everything else stays where it was (docs/clickhouse.md,
"With splitlab serve").

The user name and the password come from the options or from ``SPLITLAB_CLICKHOUSE_USER`` /
``SPLITLAB_CLICKHOUSE_PASSWORD``; nothing this module prints contains the password, nor the
user information of an address written as ``http://user:password@host:8123``.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import click

from splitlab.config.sources import SourceCatalog
from splitlab.errors import SplitlabError

if TYPE_CHECKING:
    from splitlab.store.clickhouse.store import ClickHouseStore
    from splitlab.store.duckdb_store import DuckDBStore
    from splitlab.store.registry_backend import RegistryBackend

logger = logging.getLogger(__name__)

CLICKHOUSE_ENV = "SPLITLAB_CLICKHOUSE"
_META = "splitlab.clickhouse"
#: How long the start waits for the first load pass (schema, marker, what an earlier run
#: left in the log); a pass still loading a large backlog then goes on in the background.
START_TIMEOUT_S = 30.0
#: How long the start's first request to a server may take.
PROBE_TIMEOUT_S = 10.0


class ClickHouseUnavailableError(SplitlabError):
    """ClickHouse cannot be used at start (unreachable, refused, a bad option)."""

    code = "clickhouse_unavailable"


@dataclass(frozen=True)
class ClickHouseTarget:
    """Where the events go: the address, the database, and the credentials."""

    url: str
    database: str = "splitlab"
    user: str = "default"
    password: str = ""

    @property
    def shown(self) -> str:
        """The address as it may be printed (no user information)."""
        return redact(self.url)

    def log_dir(self, db: str | Path) -> Path:
        """The store's durable log beside the ``--db`` file `db`."""
        return Path(f"{db}.ch-log")


def redact(url: str) -> str:
    """`url` without its user information (``http://user:secret@host`` -> ``http://host``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _remember(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    ctx.meta[f"{_META}.{param.name}"] = value or ""


_URL_HELP = (
    "The events are in this ClickHouse server (shared by replicas: `splitlab serve "
    "--clickhouse` acknowledges them from a local log beside --db and loads them in the "
    "background) instead of the --db file. chdb:DIR runs chDB in-process (one process only)."
)


def clickhouse_options(
    function: click.decorators.FC, *, url_help: str = _URL_HELP
) -> click.decorators.FC:
    """``--clickhouse``, ``--clickhouse-database``, ``--clickhouse-user`` and
    ``--clickhouse-password`` (also the SPLITLAB_CLICKHOUSE... variables); the command reads
    them with :func:`clickhouse_target`. `url_help`: what ``--clickhouse`` does for this
    command."""
    function = click.option(
        "--clickhouse-password", default="", envvar="SPLITLAB_CLICKHOUSE_PASSWORD",
        metavar="SECRET", expose_value=False, callback=_remember,
        help="The ClickHouse password (prefer SPLITLAB_CLICKHOUSE_PASSWORD: options show in "
             "the process list). Never printed.",
    )(function)  # fmt: skip
    function = click.option(
        "--clickhouse-user", default="default", show_default=True,
        envvar="SPLITLAB_CLICKHOUSE_USER", metavar="NAME", expose_value=False,
        callback=_remember, help="The ClickHouse user. Also SPLITLAB_CLICKHOUSE_USER.",
    )(function)  # fmt: skip
    function = click.option(
        "--clickhouse-database", default="splitlab", show_default=True,
        envvar="SPLITLAB_CLICKHOUSE_DATABASE", metavar="NAME", expose_value=False,
        callback=_remember,
        help="The ClickHouse database of the event tables (created if missing). Also "
             "SPLITLAB_CLICKHOUSE_DATABASE.",
    )(function)  # fmt: skip
    return click.option(
        "--clickhouse", default="", envvar=CLICKHOUSE_ENV, metavar="http://HOST:8123",
        expose_value=False, callback=_remember,
        help=f"{url_help} Also {CLICKHOUSE_ENV}.",
    )(function)  # fmt: skip


def clickhouse_target() -> ClickHouseTarget | None:
    """What the running command's ``--clickhouse...`` options name (None without
    ``--clickhouse``)."""
    ctx = click.get_current_context(silent=True)
    meta = ctx.meta if ctx is not None else {}
    url = str(meta.get(f"{_META}.clickhouse", ""))
    if not url:
        return None
    return ClickHouseTarget(
        url,
        str(meta.get(f"{_META}.clickhouse_database") or "splitlab"),
        str(meta.get(f"{_META}.clickhouse_user") or "default"),
        str(meta.get(f"{_META}.clickhouse_password", "")),
    )


@contextmanager
def open_events(
    path: str | None, *, on_server: str, sources: SourceCatalog | None = None
) -> Iterator[tuple[DuckDBStore | ClickHouseStore, RegistryBackend]]:
    """The event store and the registry of a command that takes looks: as
    :func:`~splitlab.cli.database.open_database` gives them, or with ``--clickhouse`` the
    events in ClickHouse (read only: a temporary log that stays empty) and the registry in
    PostgreSQL (``--registry``: the ``--db`` file is not opened) or in the ``--db`` file.

    `path` (``--db``) may be None only with both ``--registry`` and ``--clickhouse``; a
    usage error (exit 2) naming the missing options otherwise."""
    from splitlab.cli.database import (
        connect_registry,
        open_database,
        open_store,
        registry_address,
    )
    from splitlab.store.registry import Registry

    target = clickhouse_target()
    address = registry_address()
    if path is None:
        require_db(target is not None, bool(address))
    if target is None:
        assert path is not None
        with open_database(path, on_server=on_server, sources=sources) as found:
            yield found
        return
    with ExitStack() as stack:
        registry: RegistryBackend
        if address:
            shared = connect_registry(address)
            stack.callback(shared.close)
            registry = shared
        else:
            assert path is not None
            local = open_store(path, on_server=on_server)
            stack.callback(local.close)
            registry = Registry.for_store(local)
        log_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="splitlab-ch-"))
        store = open_clickhouse(target, Path(log_dir), sources=sources)
        stack.callback(store.close)
        yield store, registry


def require_db(clickhouse: bool, registry: bool) -> None:
    """The usage error of a command reading events without ``--db`` while the events
    (without `clickhouse`) or the registry (without `registry`) would be read from it."""
    if clickhouse and registry:
        return
    missing = [
        option
        for option, given in [
            ("--registry postgresql://... (or SPLITLAB_REGISTRY)", registry),
            (f"--clickhouse URL (or {CLICKHOUSE_ENV})", clickhouse),
        ]
        if not given
    ]
    raise click.UsageError(
        "--db FILE is required unless both --registry and --clickhouse are given (the file "
        f"is not opened then); missing: {' and '.join(missing)}",
        ctx=click.get_current_context(silent=True),
    )


def open_clickhouse(
    target: ClickHouseTarget, log_dir: Path, *, sources: SourceCatalog | None = None
) -> ClickHouseStore:
    """The ClickHouse store at `target` with its log in `log_dir`, its first load pass done
    (database and tables created, the server answering), or one clean error saying why not."""
    from splitlab.store.clickhouse.http import ClickHouseClient, ClickHouseError
    from splitlab.store.clickhouse.store import ClickHouseStore
    from splitlab.store.errors import StoreError

    check_database(target.database)
    check_address("--clickhouse", target.url)
    where = f"--clickhouse {target.shown}"
    if target.url.startswith(("http://", "https://")):
        probe = ClickHouseClient(
            target.url, user=target.user, password=target.password, timeout=PROBE_TIMEOUT_S
        )
        try:
            probe.query("SELECT 1")
        except ClickHouseError as exc:
            raise ClickHouseUnavailableError(f"{where}: {_said(exc, target)}") from None
        finally:
            probe.close()
    try:
        store = ClickHouseStore(
            target.url, log_dir, database=target.database, user=target.user,
            password=target.password, sources=sources,
        )  # fmt: skip
    except (ClickHouseError, OSError) as exc:
        raise ClickHouseUnavailableError(f"{where}: {_said(exc, target)}") from None
    except RuntimeError as exc:  # chDB: the directory is open in another process
        raise ClickHouseUnavailableError(
            f"{where}: chDB cannot open it ({_said(exc, target)}); chDB opens a directory in "
            "one process only: share events between processes through a ClickHouse server"
        ) from None
    try:
        store.flush(timeout=START_TIMEOUT_S)  # the schema, and what an earlier run left
    except StoreError as exc:
        if not store.health()["available"]:  # a load pass failed: refused, or unreachable
            store.close()
            raise ClickHouseUnavailableError(f"{where}: {_said(exc, target)}") from None
        # No pass failed: a large backlog left by an earlier run is still being loaded.
        logger.warning("%s: still loading the log left by an earlier run (%s)", where,
                       _said(exc, target))  # fmt: skip
    return store


def _said(error: Exception, target: ClickHouseTarget) -> str:
    """The error's first line, without the address's user information or the password."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    text = text.replace(target.url.rstrip("/"), target.shown.rstrip("/"))
    return text.replace(target.password, "***") if target.password else text


def check_address(option: str, url: str) -> None:
    """Refuse, before anything is opened, an address that is neither http(s):// nor chdb:
    (rather than trying it, or retrying it as an outage)."""
    if not url.startswith(("http://", "https://", "chdb:")):
        raise ClickHouseUnavailableError(
            f"{option} {redact(url)}: expected http://HOST:PORT (ClickHouse's HTTP interface) "
            "or chdb:DIR"
        )


def check_database(name: str) -> str:
    """`name` if it can name a ClickHouse database, else one clean error naming the option."""
    from splitlab.store.clickhouse.http import ClickHouseError, identifier

    try:
        return identifier(name)
    except ClickHouseError:
        raise ClickHouseUnavailableError(
            f"--clickhouse-database {name!r}: expected letters, digits and '_'"
        ) from None
