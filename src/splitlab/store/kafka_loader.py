"""Loading a Kafka topic of events into DuckDB, exactly once, without consumer groups.

The loader assigns itself every partition of the topic (``Consumer.assign``; no group
membership, no offset commits to the broker). Each batch of messages is inserted in one
DuckDB transaction that also records, per partition, the offset of the next message to read
(table ``splitlab_kafka_offsets``). A crash before the commit leaves rows and offsets as they
were, and the batch is read again on start; after the commit both moved together. On start the
loader seeks each partition to its recorded offset (a partition never seen starts at its
beginning).

Rows are deduplicated by ``eventId`` exactly as the log loader does
(:mod:`splitlab.store.loader`: in the batch, and against stored rows in the batch's time range
widened by the dedup window), so a batch published twice (a forwarder that crashed before
recording its position, a client that retried) is counted once.

Message values are newline-delimited events in the project's wire form
(:class:`~splitlab.tracking.events.Event`), as the collector's forwarder and the tracking
client's Kafka transport publish them.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splitlab.store.errors import StoreError
from splitlab.store.loader import load_batch_file

logger = logging.getLogger(__name__)

OFFSETS_TABLE = """
CREATE TABLE IF NOT EXISTS splitlab_kafka_offsets (
    topic VARCHAR NOT NULL,
    "partition" INTEGER NOT NULL,
    next_offset BIGINT NOT NULL,
    PRIMARY KEY (topic, "partition")
)
"""


def consumer_config(bootstrap: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Consumer settings for self-assigned partitions: nothing is committed to the broker
    (the group id is required by the client but no group is joined)."""
    return {
        "bootstrap.servers": bootstrap,
        "group.id": "splitlab-loader",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        "fetch.max.bytes": 64 << 20,
        "logger": logging.getLogger("splitlab.kafka.client"),  # librdkafka's own messages
        **(extra or {}),
    }


@dataclass
class LoadStats:
    """What a loader's ``load_once`` did."""

    messages: int = 0
    events: int = 0


@dataclass
class Batch:
    """Messages read from the topic: their values (newline-terminated), how many messages, and
    per partition the offset after the last one."""

    values: list[bytes] = field(default_factory=list)
    messages: int = 0
    ends: dict[int, int] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return sum(v.count(b"\n") for v in self.values)


class TopicReader:
    """Every partition of `topic`, assigned to itself, each from a given next offset.

    No consumer group is joined and nothing is committed to the broker: where to resume is the
    caller's business (it stores :attr:`offsets` with its rows). Partitions added to the topic
    later are picked up within 10 s, from their beginning.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        offsets: dict[int, int],
        *,
        consumer: dict[str, Any] | None = None,
        metadata_timeout_s: float = 30.0,
    ) -> None:
        from confluent_kafka import Consumer

        self.topic = topic
        self._consumer = Consumer(consumer_config(bootstrap, consumer))
        self._metadata_timeout = metadata_timeout_s
        #: Partition -> offset of the next message to read.
        self.offsets = dict(offsets)
        self._assigned: set[int] = set()
        self._checked = 0.0
        self._assign_new_partitions()

    def _assign_new_partitions(self) -> None:
        """Assign the topic's partitions not assigned yet, each at its next offset."""
        from confluent_kafka import KafkaException

        self._checked = time.monotonic()
        try:
            metadata = self._consumer.list_topics(self.topic, timeout=self._metadata_timeout)
        except KafkaException as exc:
            raise StoreError(
                f"Kafka: could not read the partitions of {self.topic!r}: {exc}"
            ) from None
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None:
            error = topic.error if topic is not None else "not found"
            raise StoreError(f"Kafka: topic {self.topic!r}: {error}")
        new = sorted(set(topic.partitions) - self._assigned)
        if not new:
            return
        self._consumer.incremental_assign(self._at_offsets(new))
        self._assigned.update(new)
        logger.info("loading %s partitions %s", self.topic, new)

    def _at_offsets(self, partitions: list[int]) -> list[Any]:
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        return [
            TopicPartition(self.topic, p, self.offsets.get(p, OFFSET_BEGINNING)) for p in partitions
        ]

    def read(self, max_messages: int, timeout: float) -> Batch:
        """Up to `max_messages` messages (waiting up to `timeout` for the first); moves
        :attr:`offsets` past them."""
        if time.monotonic() - self._checked > 10:
            self._assign_new_partitions()  # partitions added to the topic meanwhile
        batch = Batch()
        for message in self._consumer.consume(max_messages, timeout):
            error = message.error()
            if error is not None:
                raise StoreError(f"Kafka: {error}")
            partition, offset = message.partition(), message.offset()
            if partition is None or offset is None:
                continue  # not a message from a partition (no such message without an error)
            if offset < self.offsets.get(partition, 0):
                continue  # before the next offset (a batch the broker sent whole)
            batch.messages += 1
            batch.ends[partition] = max(batch.ends.get(partition, 0), offset + 1)
            value = message.value()
            if value:
                batch.values.append(value if value.endswith(b"\n") else value + b"\n")
        self.offsets.update(batch.ends)
        return batch

    def rewind(self, offsets: dict[int, int]) -> None:
        """Read every partition again from `offsets` (a partition missing there: from its
        beginning). Messages fetched before are dropped by the client."""
        self.offsets = dict(offsets)
        assigned = sorted(self._assigned)
        self._consumer.incremental_unassign(self._at_offsets(assigned))
        self._consumer.incremental_assign(self._at_offsets(assigned))

    def lag(self, loaded: dict[int, int]) -> int:
        """Messages on the broker after `loaded` (from the partitions' high watermarks)."""
        from confluent_kafka import TopicPartition

        total = 0
        for partition in sorted(self._assigned):
            _, high = self._consumer.get_watermark_offsets(
                TopicPartition(self.topic, partition), timeout=self._metadata_timeout
            )
            total += max(0, high - loaded.get(partition, 0))
        return total

    def close(self) -> None:
        """Leave the broker (nothing to commit)."""
        self._consumer.close()


class KafkaLoader:
    """Loads `topic` into the DuckDB connection `con` (one thread; module docstring)."""

    def __init__(
        self,
        con: Any,
        bootstrap: str,
        topic: str,
        scratch: Path,
        *,
        batch_messages: int = 20_000,
        dedup_window_ms: int = 86_400_000,
        consumer: dict[str, Any] | None = None,
        metadata_timeout_s: float = 30.0,
    ) -> None:
        from splitlab.store.tables import create_tables

        self.topic = topic
        self._con = con
        self._scratch = scratch
        self._batch = batch_messages
        self._dedup_window = dedup_window_ms
        create_tables(con)
        con.execute(OFFSETS_TABLE)
        #: Partition -> offset of the next message to load (as committed in DuckDB).
        self.offsets: dict[int, int] = self._recorded_offsets()
        self._reader = TopicReader(
            bootstrap,
            topic,
            self.offsets,
            consumer=consumer,
            metadata_timeout_s=metadata_timeout_s,
        )

    def _recorded_offsets(self) -> dict[int, int]:
        rows = self._con.execute(
            'SELECT "partition", next_offset FROM splitlab_kafka_offsets WHERE topic = ?',
            [self.topic],
        ).fetchall()
        return {int(p): int(o) for p, o in rows}

    def load_once(self, timeout: float = 1.0) -> LoadStats:
        """Read up to one batch of messages (waiting up to `timeout` for the first) and load
        them with their partitions' next offsets in one transaction."""
        batch = self._reader.read(self._batch, timeout)
        if not batch.ends:
            return LoadStats()
        with self._scratch.open("wb") as handle:
            handle.writelines(batch.values)
        try:
            self._load_file(batch.ends)
        except Exception:
            self._reader.rewind(self.offsets)  # read the batch again at the next call
            raise
        finally:
            os.unlink(self._scratch)
        self.offsets.update(batch.ends)
        return LoadStats(batch.messages, batch.events)

    def _load_file(self, ends: dict[int, int]) -> None:
        def record_offsets() -> None:
            self._con.executemany(
                "INSERT OR REPLACE INTO splitlab_kafka_offsets VALUES (?, ?, ?)",
                [[self.topic, p, o] for p, o in sorted(ends.items())],
            )

        load_batch_file(self._con, self._scratch, self._dedup_window, record_offsets)

    def lag(self) -> int:
        """Messages on the broker not loaded yet (from the partitions' high watermarks)."""
        return self._reader.lag(self.offsets)

    def close(self) -> None:
        """Leave the broker (nothing to commit: the offsets are in DuckDB)."""
        self._reader.close()
