"""`splitlab load-kafka`: load a Kafka topic of events into a splitlab database file or into
the ClickHouse store's tables.

The loader assigns itself every partition and keeps each partition's next offset in the
target: in DuckDB in the transaction that inserts the rows, in ClickHouse after the rows
settled (docs/kafka.md). No consumer group is joined and nothing is committed to the broker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import click
from click.core import ParameterSource

from splitlab.cli.clickhouse import (
    CLICKHOUSE_ENV,
    check_address,
    check_database,
    clickhouse_options,
    clickhouse_target,
)

if TYPE_CHECKING:
    from splitlab.store.clickhouse.connection import Connection
    from splitlab.store.kafka_loader import LoadStats

logger = logging.getLogger(__name__)


def kafka_options(function: click.decorators.FC) -> click.decorators.FC:
    """``--kafka`` and ``--kafka-topic`` (also SPLITLAB_KAFKA, SPLITLAB_KAFKA_TOPIC)."""
    from splitlab.server.kafka_forward import DEFAULT_TOPIC

    function = click.option(
        "--kafka-topic", "kafka_topic", default=DEFAULT_TOPIC, show_default=True,
        envvar="SPLITLAB_KAFKA_TOPIC", metavar="TOPIC",
        help="The Kafka topic of events. Also SPLITLAB_KAFKA_TOPIC.",
    )(function)  # fmt: skip
    return click.option(
        "--kafka", "kafka", default="", envvar="SPLITLAB_KAFKA", metavar="HOST:PORT[,...]",
        help="Kafka bootstrap servers. Also SPLITLAB_KAFKA.",
    )(function)  # fmt: skip


def _clickhouse_options(function: click.decorators.FC) -> click.decorators.FC:
    """The ``--clickhouse...`` options of serve and evaluate, ``--clickhouse`` saying where
    this command loads."""
    return clickhouse_options(
        function,
        url_help="Load into the ClickHouse store instead of --db: a server's HTTP address "
        "(http://host:8123) or chdb:DIR (the engine in-process).",
    )


@click.command("load-kafka")
@click.option("--db", type=click.Path(dir_okay=False),
              help="The splitlab database file to load into (created if missing).")  # fmt: skip
@_clickhouse_options
@click.option("--database", default=None, metavar="NAME", hidden=True,
              deprecated="use --clickhouse-database NAME",
              help="Deprecated: --clickhouse-database.")  # fmt: skip
@click.option("--shard", "shards", multiple=True, metavar="URL",
              help="With --clickhouse (the entry, holding the Distributed tables): a shard's "
                   "address, repeated in the order of the cluster's shards.")  # fmt: skip
@click.option("--cluster", default=None, metavar="NAME",
              help="With --shard: the cluster's name in the servers' remote_servers.")  # fmt: skip
@click.option("--settle", default=None, type=click.FloatRange(0), metavar="SECONDS",
              help="With --clickhouse: record offsets this long after ClickHouse acknowledged "
                   "the rows (default 60; docs/kafka.md).")  # fmt: skip
@kafka_options
@click.option("--batch", default=20_000, show_default=True, type=click.IntRange(1),
              help="Messages per transaction (per insert into ClickHouse) at most.")  # fmt: skip
@click.option("--exit-when-idle", "idle", type=click.FloatRange(0, min_open=True),
              metavar="SECONDS",
              help="Stop after this many seconds without a message (default: run until "
                   "stopped).")  # fmt: skip
def load_kafka(
    db: str | None,
    database: str | None,
    shards: tuple[str, ...],
    cluster: str | None,
    settle: float | None,
    kafka: str,
    kafka_topic: str,
    batch: int,
    idle: float | None,
) -> None:
    """Load the events of a Kafka topic into --db or --clickhouse, exactly once, until stopped.

    Resumes from the offsets recorded in the database; duplicates (by eventId) are dropped.
    DuckDB lets one process write the file: stop the loader before evaluating from the same
    file, or load into a file that nothing else writes. With --clickhouse the rows go into the
    ClickHouse store's tables and each partition's offset is recorded in ClickHouse once the
    rows settled (--settle); a ClickHouse restart makes the loader read the topic again from
    there (docs/kafka.md).
    """
    if not kafka:
        raise click.UsageError("--kafka (or SPLITLAB_KAFKA) is required: the bootstrap servers")
    chosen = clickhouse_target()
    clickhouse = chosen.url if chosen is not None else None
    ctx = click.get_current_context()
    if (db is None) == (clickhouse is None):
        got = "neither"
        if db is not None:
            source = ctx.get_parameter_source("clickhouse")
            got = f"both: --clickhouse from {CLICKHOUSE_ENV}"
            if source is ParameterSource.COMMANDLINE:
                got = "both"
        raise click.UsageError(
            "give exactly one of --db FILE (DuckDB) and --clickhouse URL (ClickHouse, or "
            f"{CLICKHOUSE_ENV}) (got {got})"
        )
    explicit = ctx.get_parameter_source("clickhouse_database") is ParameterSource.COMMANDLINE
    if database is not None and explicit:
        raise click.UsageError("--database is the old name of --clickhouse-database: give one")
    if db is not None and (database is not None or explicit or settle is not None or shards):
        raise click.UsageError(
            "--clickhouse-database, --shard and --settle go with --clickhouse, not --db"
        )
    if bool(shards) != (cluster is not None):
        raise click.UsageError("--shard and --cluster go together (a sharded ClickHouse)")
    if shards and any(u.startswith("chdb:") for u in (clickhouse or "", *shards)):
        raise click.UsageError(
            "a sharded ClickHouse needs server addresses (http://...), not chdb:"
        )
    for option, url in [("--clickhouse", clickhouse), *(("--shard", u) for u in shards)]:
        if url is not None:
            check_address(option, url)
    logging.basicConfig(level=logging.WARNING)
    if db is not None:
        _load_duckdb(db, kafka, kafka_topic, batch, idle)
    else:
        assert chosen is not None
        target = _Target(
            chosen.url, database or chosen.database, chosen.user, chosen.password, shards,
            cluster,
        )  # fmt: skip
        _load_clickhouse(target, settle, kafka, kafka_topic, batch, idle)


def _load_duckdb(db: str, kafka: str, topic: str, batch: int, idle: float | None) -> None:
    from pathlib import Path

    import duckdb

    from splitlab.cli.database import open_file
    from splitlab.store.kafka_loader import KafkaLoader

    con = open_file(db, duckdb.connect, must_exist=False, on_server="stop the server first")
    try:
        loader = KafkaLoader(
            con, kafka, topic, Path(f"{db}.kafka-loading.ndjson"), batch_messages=batch
        )
        click.echo(f"loading {topic} from {kafka} into {db}", err=True)
        _run(loader, idle, db, retryable=())
    finally:
        con.close()


class _Target(NamedTuple):
    """Where --clickhouse loads: one server (or chDB), or a cluster through its entry."""

    url: str
    database: str
    user: str
    password: str
    shards: tuple[str, ...]
    cluster: str | None


def _load_clickhouse(
    target: _Target, settle: float | None, kafka: str, topic: str, batch: int, idle: float | None
) -> None:
    from splitlab.cli.clickhouse import redact
    from splitlab.store.clickhouse.connection import connect
    from splitlab.store.clickhouse.http import ClickHouseError
    from splitlab.store.clickhouse.kafka_loader import (
        KafkaClickHouseLoader,
        ShardedKafkaLoader,
    )

    database = check_database(target.database)  # before anything is opened
    password = target.password

    def client(url: str) -> Connection:
        return connect(url, user=target.user, password=password)

    options: dict[str, Any] = {
        "batch_messages": batch,
        "settle_s": 60.0 if settle is None else settle,
    }

    def scrub(text: str) -> str:
        """`text` without the addresses' user information or the password."""
        for url in (target.url, *target.shards):
            text = text.replace(url.rstrip("/"), redact(url).rstrip("/"))
        return text.replace(password, "***") if password else text

    for url in (target.url, *target.shards):
        if url.startswith(("http://", "https://")):
            _refuse_a_refusal(client(url), scrub)
    loader: KafkaClickHouseLoader
    if target.cluster is not None:
        shards = [client(url) for url in target.shards]
        loader = ShardedKafkaLoader(
            client(target.url), shards, database, target.cluster, kafka, topic, **options
        )
    else:
        loader = KafkaClickHouseLoader(client(target.url), database, kafka, topic, **options)

    where = f"{redact(target.url)} database {database}"
    if target.shards:
        where += f" (cluster {target.cluster}, {len(target.shards)} shards)"
    click.echo(f"loading {topic} from {kafka} into {where}", err=True)
    try:
        _run(loader, idle, where, retryable=(ClickHouseError,), scrub=scrub)
    except ClickHouseError as exc:
        raise ClickHouseError(scrub(str(exc))) from None


def _refuse_a_refusal(probe: Connection, scrub: Callable[[str], str]) -> None:
    """Ask the server for `SELECT 1` before loading: an answer refusing it (a wrong password,
    an unknown user) is a configuration error, one line and exit code 3, where retrying would
    only repeat it; a server that does not answer is an outage, retried by the loading loop."""
    from splitlab.store.clickhouse.http import ClickHouseError

    try:
        probe.query("SELECT 1")
    except ClickHouseError as exc:
        if exc.__cause__ is None:  # the server answered (unreachable errors carry httpx's)
            raise ClickHouseError(scrub(str(exc).splitlines()[0])) from None
    finally:
        probe.close()


class _Loader(Protocol):
    def load_once(self, timeout: float = 1.0) -> LoadStats: ...

    def close(self) -> None: ...


def _run(
    loader: _Loader,
    idle: float | None,
    target: str,
    retryable: tuple[type[Exception], ...],
    scrub: Callable[[str], str] = str,
) -> None:
    """Load until stopped (or `idle` seconds without a message); `retryable` failures (the
    target unreachable) are logged and retried with a back-off of up to 5 s."""
    messages = events = 0
    pause = 0.0
    last = time.monotonic()
    try:
        while True:
            try:
                stats = loader.load_once(timeout=0.5)
            except retryable as exc:
                pause = min(5.0, max(pause * 2, 0.1))
                logger.warning("loading failed (retrying in %.1f s): %s", pause, scrub(str(exc)))
                time.sleep(pause)
                if idle is not None and time.monotonic() - last >= max(idle, 30.0):
                    raise
                continue
            pause = 0.0
            messages += stats.messages
            events += stats.events
            if stats.messages:
                last = time.monotonic()
            elif idle is not None and time.monotonic() - last >= idle:
                break
    finally:
        loader.close()
        click.echo(f"loaded {events} events ({messages} messages) into {target}", err=True)
