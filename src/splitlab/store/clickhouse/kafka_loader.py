"""Loading a Kafka topic of events into the ClickHouse store's tables, without consumer groups.

The topic side is :class:`splitlab.store.kafka_loader.TopicReader`, as for DuckDB: every
partition assigned to the loader itself, nothing committed to the broker. The ClickHouse side
is :class:`.loader.SettlingLoader`, as for the store's own log: ClickHouse has no transaction
that could hold the rows and the offsets together, so

* the rows of a batch are inserted first (``exposures``, ``metric_events``; the summary counts
  each ``event_id`` once, so a batch loaded twice is harmless), and each partition's next
  offset is recorded afterwards: a crash in between reads the batch again;
* the offsets are recorded only ``settle_s`` seconds after ClickHouse acknowledged the rows
  (ClickHouse does not fsync the parts an INSERT writes, so an operating-system crash of its
  host can lose rows it acknowledged until the kernel writes them back);
* when ClickHouse restarted (the loader's marker row in a ``Memory`` table is gone), the
  loader reads the offsets back from ClickHouse and reads the topic again from there.

Where the offsets live: the table ``kafka_offsets`` in the same ClickHouse database,
``ReplacingMergeTree(recorded_at)`` keyed by ``(topic, topic_partition)`` and read with
``argMax(next_offset, recorded_at)`` (so it is correct before and after background merges).
With the rows, not in a file beside the loader: a restored backup or a server that lost its
data rewinds the loader to match (it reads the topic again from what the server holds, within
the topic's retention), and the loader keeps no state of its own. An offsets row lost in a
crash only makes the loader read more again, never less.

:class:`ShardedKafkaLoader` loads a sharded cluster the way the sharded store loads its log
(:class:`.sharded.ShardedTables`); the offsets table is on the entry server.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import msgspec

from splitlab.store.clickhouse.connection import Connection
from splitlab.store.clickhouse.loader import SettlingLoader
from splitlab.store.clickhouse.sharded import ShardedTables
from splitlab.store.kafka_loader import Batch, LoadStats, TopicReader

logger = logging.getLogger(__name__)

#: Each partition's next offset, per topic (newest ``recorded_at`` wins).
OFFSETS = "kafka_offsets"
OFFSETS_DDL = """CREATE TABLE IF NOT EXISTS {db}.kafka_offsets (
    topic String,
    topic_partition Int32,
    next_offset Int64,
    recorded_at Int64
) ENGINE = ReplacingMergeTree(recorded_at) ORDER BY (topic, topic_partition)"""

#: Partition -> offset of the next message.
Offsets = dict[int, int]


_encode_lines = msgspec.json.Encoder().encode_lines


class _OffsetRow(msgspec.Struct):
    topic: str
    topic_partition: int
    next_offset: int
    recorded_at: int


class KafkaClickHouseLoader(SettlingLoader[Offsets]):
    """Loads `topic` on the brokers `bootstrap` into database `db` of `client` (one thread;
    module docstring). Nothing is contacted before the first :meth:`load_once`."""

    source: ClassVar[str] = "topic"

    def __init__(
        self,
        client: Connection,
        db: str,
        bootstrap: str,
        topic: str,
        *,
        batch_messages: int = 20_000,
        settle_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        consumer: dict[str, Any] | None = None,
        metadata_timeout_s: float = 30.0,
    ) -> None:
        super().__init__(client, db, {}, settle_s=settle_s, clock=clock)
        self.topic = topic
        self._bootstrap = bootstrap
        self._batch = batch_messages
        self._consumer = consumer
        self._metadata_timeout = metadata_timeout_s
        self._reader: TopicReader | None = None
        #: A batch read but not inserted yet (ClickHouse failed): inserted at the next call.
        self._pending: Batch | None = None
        self._version = 0

    def ensure_schema(self) -> None:
        """The store's tables and the offsets table."""
        super().ensure_schema()
        self._client.execute(OFFSETS_DDL.format(db=self._db))

    def load_once(self, timeout: float = 1.0) -> LoadStats:
        """Read up to one batch of messages (waiting up to `timeout` for the first) and insert
        their events; record offsets that have settled.

        Raises :class:`~splitlab.store.clickhouse.http.ClickHouseError` when ClickHouse is
        unreachable or refuses the rows (the batch is kept and inserted at the next call) and
        :class:`~splitlab.store.errors.StoreError` when the topic cannot be read.
        """
        self._prepare()
        if self._reader is None:
            self._rewind()  # the offsets recorded in ClickHouse, and the topic from there
        assert self._reader is not None
        batch = self._pending or self._reader.read(self._batch, timeout)
        if not batch.ends:
            self.settle()
            return LoadStats()
        self._pending = batch
        self._insert(batch.values)
        self._pending = None
        self._loaded({**self.position, **batch.ends})
        return LoadStats(batch.messages, batch.events)

    def lag(self) -> int:
        """Messages on the broker not loaded yet (from the partitions' high watermarks)."""
        return 0 if self._reader is None else self._reader.lag(self.position)

    def close(self) -> None:
        """Leave the broker (nothing to commit) and close the connection."""
        if self._reader is not None:
            self._reader.close()
        super().close()

    # ------------------------------------------------------------------ the offsets

    def _rewind(self) -> None:
        """Read the topic again from the offsets ClickHouse holds (after a restart: what it
        has kept; a server that lost the table starts every partition from its beginning)."""
        self._pending = None
        self.recorded = self._read_offsets()
        self.position = dict(self.recorded)
        if self._reader is None:
            self._reader = TopicReader(
                self._bootstrap,
                self.topic,
                self.position,
                consumer=self._consumer,
                metadata_timeout_s=self._metadata_timeout,
            )
        else:
            self._reader.rewind(self.position)

    def _read_offsets(self) -> Offsets:
        _, rows = self._client.query(
            f"SELECT topic_partition, argMax(next_offset, recorded_at) FROM {self._db}.{OFFSETS} "
            "WHERE topic = $topic GROUP BY topic_partition",
            {"topic": self.topic},
        )
        return {int(p): int(o) for p, o in rows}

    def _record(self, position: Offsets) -> None:
        """One row per partition that moved, versioned by wall-clock nanoseconds (increasing
        within this process even if the clock steps back)."""
        self._version = max(time.time_ns(), self._version + 1)
        rows = [
            _OffsetRow(self.topic, p, o, self._version)
            for p, o in sorted(position.items())
            if self.recorded.get(p) != o
        ]
        if rows:
            self._client.insert(f"{self._db}.{OFFSETS}", _encode_lines(rows))


class ShardedKafkaLoader(ShardedTables[Offsets], KafkaClickHouseLoader):
    """Loads `topic` into a sharded cluster (:mod:`.sharded`): rows through the ``Distributed``
    tables of `entry` (sharded by unit), the offsets table on `entry`, a restart marker on
    every shard."""

    def __init__(
        self,
        entry: Connection,
        shards: Sequence[Connection],
        db: str,
        cluster: str,
        bootstrap: str,
        topic: str,
        **options: Any,
    ) -> None:
        super().__init__(entry, db, bootstrap, topic, **options)
        self._use_shards(shards, cluster)
