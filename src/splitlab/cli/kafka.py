"""`splitlab load-kafka`: load a Kafka topic of events into a splitlab database file.

The loader assigns itself every partition and keeps each partition's next offset in the
database, in the transaction that inserts the rows (docs/kafka.md); no consumer group is
joined and nothing is committed to the broker.
"""

from __future__ import annotations

import logging
import time

import click

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


@click.command("load-kafka")
@click.option("--db", required=True, type=click.Path(dir_okay=False),
              help="The splitlab database file to load into (created if missing).")  # fmt: skip
@kafka_options
@click.option("--batch", default=20_000, show_default=True, type=click.IntRange(1),
              help="Messages per transaction at most.")  # fmt: skip
@click.option("--exit-when-idle", "idle", type=click.FloatRange(0, min_open=True),
              metavar="SECONDS",
              help="Stop after this many seconds without a message (default: run until "
                   "stopped).")  # fmt: skip
def load_kafka(db: str, kafka: str, kafka_topic: str, batch: int, idle: float | None) -> None:
    """Load the events of a Kafka topic into --db, exactly once, until stopped.

    Resumes from the offsets recorded in the database; duplicates (by eventId) are dropped.
    DuckDB lets one process write the file: stop the loader before evaluating from the same
    file, or load into a file that nothing else writes.
    """
    from pathlib import Path

    import duckdb

    from splitlab.cli.database import open_file
    from splitlab.store.kafka_loader import KafkaLoader

    if not kafka:
        raise click.UsageError("--kafka (or SPLITLAB_KAFKA) is required: the bootstrap servers")
    logging.basicConfig(level=logging.WARNING)
    con = open_file(db, duckdb.connect, must_exist=False, on_server="stop the server first")
    messages = events = 0
    try:
        loader = KafkaLoader(
            con, kafka, kafka_topic, Path(f"{db}.kafka-loading.ndjson"), batch_messages=batch
        )
        click.echo(f"loading {kafka_topic} from {kafka} into {db}", err=True)
        last = time.monotonic()
        try:
            while True:
                stats = loader.load_once(timeout=0.5)
                messages += stats.messages
                events += stats.events
                if stats.messages:
                    last = time.monotonic()
                elif idle is not None and time.monotonic() - last >= idle:
                    break
        finally:
            loader.close()
            click.echo(f"loaded {events} events ({messages} messages) into {db}", err=True)
    finally:
        con.close()
