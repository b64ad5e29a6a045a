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
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from typing import ClassVar

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


class ClickHouseLoader:
    """Loads the records of `log` into database `db` of `client` (used by one thread)."""

    #: The tables rows are inserted into (exposures, metric events), and settings for that.
    tables: ClassVar[tuple[str, str]] = (EXPOSURES, METRIC_EVENTS)
    insert_settings: ClassVar[Mapping[str, str]] = {}

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
        self._client = client
        self._db = db
        self._log = log
        self._batch_bytes = batch_bytes
        self._settle_s = settle_s
        self._clock = clock
        self._file = log.directory / "position.json"
        self._encoder = RowEncoder()
        self._schema_ready = False
        self._token = uuid.uuid4().hex
        self._marked = False
        #: Loads not yet recorded: (clock time of the load, position after it).
        self._unsettled: deque[tuple[float, Position]] = deque()
        self.recorded = self._read_position()
        #: How far the log has been loaded (in memory; at least :attr:`recorded`).
        self.position = self.recorded

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

    def load_once(self) -> int:
        """Load one batch of durable records; the number loaded (0: caught up).

        Raises :class:`~splitlab.store.clickhouse.http.ClickHouseError` when ClickHouse is
        unreachable or refuses the rows; nothing is recorded then, and the next call retries.
        """
        try:
            if not self._schema_ready:
                self.ensure_schema()
            self._check_restart()
        except ClickHouseError:
            self._schema_ready = False  # a server that lost its tables gets them back
            raise
        durable = self._log.durable_position
        payloads, end = self._log.read_batch(self.position, self._batch_bytes, durable)
        if payloads:
            exposures, metrics = self._encoder.rows(payloads)
            self._client.insert(f"{self._db}.{self.tables[0]}", exposures, self.insert_settings)
            self._client.insert(f"{self._db}.{self.tables[1]}", metrics, self.insert_settings)
        else:
            end = max(end, durable)
        if end > self.position:
            self.position = end
            self._unsettled.append((self._clock(), end))
        self.settle()
        return len(payloads)

    def close(self) -> None:
        """Close the loader's connections."""
        self._client.close()

    def _check_restart(self) -> None:
        """Load everything unrecorded again if the server restarted since the last look.

        The marker is a row in a ``Memory`` table: such a table keeps its definition across
        a restart but not its rows, so a missing marker means the server started afresh.
        """
        marker = {"token": self._token}
        _, rows = self._client.query(
            f"SELECT count() FROM {self._db}.{ALIVE} WHERE token = $token", marker
        )
        if int(rows[0][0]) > 0:
            return
        if self._marked and self.position > self.recorded:
            logger.warning(
                "ClickHouse restarted; loading the log again from %s (rows loaded since may "
                "not have reached its disk)",
                self.recorded,
            )
            self._unsettled.clear()
            self.position = self.recorded
        self._client.execute(f"INSERT INTO {self._db}.{ALIVE} VALUES ($token)", marker)
        self._marked = True

    # ------------------------------------------------------------------ the position

    def settle(self, now: float | None = None) -> None:
        """Record the newest position loaded at least ``settle_s`` ago; free older segments."""
        now = self._clock() if now is None else now
        settled = None
        while self._unsettled and self._unsettled[0][0] <= now - self._settle_s:
            settled = self._unsettled.popleft()[1]
        if settled is not None and settled > self.recorded:
            self._write_position(settled)
            self.recorded = settled
            self._log.release(settled)

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
