"""Moving durable log records into ClickHouse, and remembering how far that got.

ClickHouse has no transaction that could hold the rows and the log position together (the
DuckDB loader's trick), so this loader relies on deduplication instead: the summary counts
each ``event_id`` once, so loading a record twice is harmless and only skipping one would do
harm. The rule is therefore "never move the recorded position past rows that might not be
safe in ClickHouse":

* rows are inserted first, the position is recorded afterwards (a crash in between loads the
  records again on start);
* ClickHouse 18.16 does not fsync the parts an INSERT writes, so an operating-system crash
  of the ClickHouse host can lose rows it already acknowledged, until the kernel writes them
  back (``vm.dirty_expire_centisecs``, 30 s by default). The recorded position therefore lags
  the loaded one by ``settle_s`` seconds, and the log keeps those records;
* when the server restarted (a marker row in a ``Memory`` table is gone), everything loaded
  since the recorded position is loaded again.

The position lives in ``position.json`` in the log directory, replaced atomically.

:class:`SettlingLoader` holds what does not depend on the source (tables, restart marker,
settle lag); the Kafka topic's loader (:mod:`.kafka_loader`) shares it.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Mapping
from typing import ClassVar, Generic, TypeVar

from splitlab.store.clickhouse.connection import Connection
from splitlab.store.clickhouse.http import ClickHouseError
from splitlab.store.clickhouse.schema import (
    ADD_COLUMNS,
    ALIVE,
    EXPOSURES,
    METRIC_EVENTS,
    SCHEMA,
    RowEncoder,
)
from splitlab.store.errors import StoreError
from splitlab.store.log import AppendLog, Position, fsync_directory

logger = logging.getLogger(__name__)

#: A place in the source: a log position, or each Kafka partition's next offset.
P = TypeVar("P")


class SettlingLoader(ABC, Generic[P]):
    """Rows into database `db` of `client`, and the source's position recorded only once
    those rows settled (module docstring). Used by one thread.

    A subclass reads its source, calls :meth:`_prepare` before reading, :meth:`_insert` with
    the events and :meth:`_loaded` with the position after them; it says where a position is
    recorded (:meth:`_record`) and how the source goes back to the recorded one
    (:meth:`_rewind`).
    """

    #: The tables rows are inserted into (exposures, metric events), and settings for that.
    tables: ClassVar[tuple[str, str]] = (EXPOSURES, METRIC_EVENTS)
    insert_settings: ClassVar[Mapping[str, str]] = {}
    #: What is loaded again after a restart (for the log message).
    source: ClassVar[str] = "log"

    def __init__(
        self,
        client: Connection,
        db: str,
        recorded: P,
        *,
        settle_s: float,
        clock: Callable[[], float],
    ) -> None:
        self._client = client
        self._db = db
        self._settle_s = settle_s
        self._clock = clock
        self._encoder = RowEncoder()
        self._schema_ready = False
        self._token = uuid.uuid4().hex
        self._marked = False
        #: Loads not yet recorded: (clock time of the load, position after it).
        self._unsettled: deque[tuple[float, P]] = deque()
        #: The position recorded (read back at the next start).
        self.recorded = recorded
        #: How far the source has been loaded (in memory; at or after :attr:`recorded`).
        self.position = recorded

    # ------------------------------------------------------------------ loading

    def ensure_schema(self) -> None:
        """Create the database and tables if they are missing; add newer columns to old ones."""
        self._ensure_tables(self._client)
        self._schema_ready = True

    def _ensure_tables(self, client: Connection) -> None:
        """The tables in `client`'s server (the statement that adds a column depends on its
        version: :class:`.dialect.Dialect`)."""
        dialect = client.dialect()
        for statement in SCHEMA:
            client.execute(statement.format(db=self._db))
        _, rows = client.query(
            "SELECT table, name FROM system.columns WHERE database = $db", {"db": self._db}
        )
        present = {(str(table), str(name)) for table, name in rows}
        for table, column, kind in ADD_COLUMNS:
            if (table, column) in present:
                continue
            logger.info("adding %s to %s.%s (made by an older splitlab)", column, self._db, table)
            try:
                client.execute(dialect.add_column(f"{self._db}.{table}", column, kind))
            except ClickHouseError as exc:
                if "Code: 44," not in str(exc):  # 44 (18.16): another loader added it meanwhile
                    raise

    def _prepare(self) -> None:
        """The tables, then the restart marker: called before each read of the source.

        Raises :class:`ClickHouseError` when ClickHouse is unreachable.
        """
        try:
            if not self._schema_ready:
                self.ensure_schema()
            self._check_restart()
        except ClickHouseError:
            self._schema_ready = False  # a server that lost its tables gets them back
            raise

    def _insert(self, payloads: list[bytes]) -> None:
        """The events of `payloads` (newline-delimited JSON) into the two tables."""
        exposures, metrics = self._encoder.rows(payloads)
        self._client.insert(f"{self._db}.{self.tables[0]}", exposures, self.insert_settings)
        self._client.insert(f"{self._db}.{self.tables[1]}", metrics, self.insert_settings)

    def _loaded(self, position: P) -> None:
        """ClickHouse acknowledged the rows up to `position`: recorded once settled."""
        self.position = position
        self._unsettled.append((self._clock(), position))
        self.settle()

    def close(self) -> None:
        """Close the loader's connections."""
        self._client.close()

    def _marked_servers(self) -> list[Connection]:
        """The servers whose restart can lose rows (each gets a marker)."""
        return [self._client]

    def _check_restart(self) -> None:
        """Load everything unrecorded again if a server restarted since the last look.

        The marker is a row in a ``Memory`` table: such a table keeps its definition across
        a restart but not its rows, so a missing marker means the server started afresh.
        """
        marker = {"token": self._token}
        query = f"SELECT count() FROM {self._db}.{ALIVE} WHERE token = $token"
        servers = self._marked_servers()
        missing = [s for s in servers if int(s.query(query, marker)[1][0][0]) == 0]
        if not missing:
            return
        if self._marked:
            logger.warning(
                "ClickHouse restarted; loading the %s again from %s (rows loaded since may "
                "not have reached its disk)",
                self.source,
                self.recorded,
            )
            self._unsettled.clear()
            self._rewind()
        for server in missing:
            server.execute(f"INSERT INTO {self._db}.{ALIVE} VALUES ($token)", marker)
        self._marked = True

    def _rewind(self) -> None:
        """Make the next read start at :attr:`recorded` again."""
        self.position = self.recorded

    # ------------------------------------------------------------------ the position

    def settle(self, now: float | None = None) -> None:
        """Record the newest position loaded at least ``settle_s`` ago."""
        now = self._clock() if now is None else now
        settled: P | None = None
        count = 0
        for loaded_at, position in self._unsettled:
            if loaded_at > now - self._settle_s:
                break
            settled, count = position, count + 1
        if settled is None:
            return
        if settled != self.recorded:
            self._record(settled)  # may fail: the entries stay for the next call
            self.recorded = settled
        for _ in range(count):
            self._unsettled.popleft()

    @abstractmethod
    def _record(self, position: P) -> None:
        """Make `position` the one the next start begins at (durably)."""


class ClickHouseLoader(SettlingLoader[Position]):
    """Loads the records of `log` into database `db` of `client` (used by one thread)."""

    def __init__(
        self,
        client: Connection,
        db: str,
        log: AppendLog,
        *,
        batch_bytes: int = 32 << 20,
        settle_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._batch_bytes = batch_bytes
        self._file = log.directory / "position.json"
        super().__init__(client, db, self._read_position(), settle_s=settle_s, clock=clock)

    def load_once(self) -> int:
        """Load one batch of durable records; the number loaded (0: caught up).

        Raises :class:`~splitlab.store.clickhouse.http.ClickHouseError` when ClickHouse is
        unreachable or refuses the rows; nothing is recorded then, and the next call retries.
        """
        self._prepare()
        durable = self._log.durable_position
        payloads, end = self._log.read_batch(self.position, self._batch_bytes, durable)
        if payloads:
            self._insert(payloads)
        else:
            end = max(end, durable)
        if end > self.position:
            self._loaded(end)
        else:
            self.settle()
        return len(payloads)

    def _record(self, position: Position) -> None:
        """Write the position file and free the segments before `position`."""
        self._write_position(position)
        self._log.release(position)

    def _read_position(self) -> Position:
        try:
            data = json.loads(self._file.read_text())
        except FileNotFoundError:
            return Position(0, 0)
        except (OSError, ValueError) as exc:
            raise StoreError(f"log position {self._file}: unreadable ({exc})") from exc
        return Position(int(data["segment"]), int(data["offset"]))

    def _write_position(self, position: Position) -> None:
        temporary = self._file.with_suffix(".tmp")
        with temporary.open("w") as handle:
            json.dump({"segment": position.segment, "offset": position.offset}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self._file)
        fsync_directory(self._file.parent)
