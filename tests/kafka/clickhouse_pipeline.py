"""Helpers for the Kafka -> ClickHouse tests: publishing batches, loading a topic into a
ClickHouse database until every message is in, reading the stored event ids."""

from __future__ import annotations

import time
from collections.abc import Sequence

import msgspec
from confluent_kafka import Producer

from splitlab.server.kafka_forward import messages
from splitlab.store.clickhouse.connection import Connection
from splitlab.store.clickhouse.kafka_loader import KafkaClickHouseLoader
from splitlab.tracking.events import Event
from splitlab.tracking.kafka import producer_config

_encode = msgspec.json.Encoder().encode_lines


def publish(bootstrap: str, topic: str, batches: Sequence[Sequence[Event]]) -> int:
    """Each batch as the collector's forwarder publishes it (one message per unit); the
    number of messages."""
    producer = Producer(producer_config(bootstrap))
    count = 0
    for batch in batches:
        for key, value in messages(_encode(batch)):
            producer.produce(topic, key=key, value=value)
            count += 1
    assert producer.flush(30) == 0
    return count


def load_messages(loader: KafkaClickHouseLoader, expected: int, timeout: float = 60.0) -> int:
    """Call `loader` until it loaded `expected` messages (or `timeout` passed), then a few
    more times (a message beyond `expected` would show up); the messages loaded."""
    loaded = 0
    deadline = time.monotonic() + timeout
    while loaded < expected and time.monotonic() < deadline:
        loaded += loader.load_once(0.2).messages
    for _ in range(3):
        loaded += loader.load_once(0.2).messages
    return loaded


def stored_ids(client: Connection, db: str) -> list[str]:
    """Every event id as the summary sees it (``FINAL``: rows with an equal key merged)."""
    _, rows = client.query(
        f"SELECT event_id FROM {db}.exposures FINAL "
        f"UNION ALL SELECT event_id FROM {db}.metric_events FINAL"
    )
    return [str(r[0]) for r in rows]


def row_count(client: Connection, db: str) -> int:
    """Rows in the two tables as inserted (duplicates not merged away yet included)."""
    _, rows = client.query(
        f"SELECT (SELECT count() FROM {db}.exposures) + (SELECT count() FROM {db}.metric_events)"
    )
    return int(rows[0][0])
