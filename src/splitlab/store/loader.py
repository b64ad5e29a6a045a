"""Moving durable log records into DuckDB in large, deduplicating, exactly-once batches.

Each load reads records after the position recorded in DuckDB, inserts their events in one
transaction, and records the new position in that same transaction. A crash before the commit
leaves both unchanged (the records are loaded again on start); after the commit, both moved
together. So no record is loaded twice and none is skipped.

Unit keys: every unit id gets a dense integer ``unit_key`` the first time a batch carries it
(table ``unit_keys``, filled in the same transaction), and both event tables store it beside
``unit_id``. The summary joins and groups 10 million events by that integer instead of the
string, which measured about 25% faster (docs/benchmarks.md). A key is never reused or
changed, so a unit's events share one key across batches, experiments and restarts.

Deduplication by ``eventId``: duplicates inside a batch are dropped with a window function,
and the batch is anti-joined against the rows already stored in the batch's time range
widened by ``dedup_window_ms`` on each side (24 hours by default). The range lets DuckDB skip
most of the table by its min/max zone maps; the widening catches a retried *request* whose
events keep their derived ``eventId`` but get a new timestamp. The ranged anti-join measured
at a fraction of the disk and load time of a primary key (docs/architecture.md, "Storage
design").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from splitlab.store.log import Position

logger = logging.getLogger(__name__)

_COLUMNS = (
    "{eventId: 'VARCHAR', type: 'VARCHAR', experimentId: 'VARCHAR', variant: 'VARCHAR', "
    "unitId: 'VARCHAR', timestamp: 'BIGINT', metric: 'VARCHAR', value: 'DOUBLE', "
    "attributes: 'JSON', clusterId: 'VARCHAR'}"
)

#: The batch's units with their keys: the stored key, or the next free one for a new unit
#: (numbered after ``$base``, the largest key so far, in the order of the unit ids).
BATCH_KEYS = """
CREATE OR REPLACE TEMP TABLE _splitlab_keys AS
SELECT b.unit_id, u.unit_key IS NULL AS new,
       coalesce(u.unit_key, $base + sum((u.unit_key IS NULL)::BIGINT)
                OVER (ORDER BY b.unit_id ROWS UNBOUNDED PRECEDING)) AS unit_key
FROM (SELECT DISTINCT unitId AS unit_id FROM _splitlab_batch) b
LEFT JOIN unit_keys u ON b.unit_id = u.unit_id
"""

_INSERT_EXPOSURES = """
INSERT INTO exposures (event_id, experiment_id, variant, unit_id, ts, attributes, unit_key,
                       cluster_id)
SELECT b.eventId, b.experimentId, b.variant, b.unitId, b.timestamp, b.attributes, k.unit_key,
       b.clusterId
FROM (SELECT * FROM _splitlab_batch WHERE type = 'exposure'
      QUALIFY row_number() OVER (PARTITION BY eventId) = 1) b
JOIN _splitlab_keys k ON b.unitId = k.unit_id
ANTI JOIN (SELECT event_id FROM exposures WHERE ts BETWEEN $lo AND $hi) e
    ON b.eventId = e.event_id
"""

#: A metric event without a value counts 1 (docs/events.md), as the collector reads it and
#: as the ClickHouse store loads it: an Event given straight to ``ingest``/``submit`` with
#: ``value=None`` (or no ``metric``, stored as ``''`` like ClickHouse) is acknowledged, so it
#: must load rather than fail every later load of the log on the NOT NULL columns.
_INSERT_METRICS = """
INSERT INTO metric_events (event_id, experiment_id, variant, unit_id, metric, value, ts, unit_key,
                           cluster_id)
SELECT b.eventId, b.experimentId, b.variant, b.unitId, coalesce(b.metric, ''),
       coalesce(b.value, 1.0), b.timestamp, k.unit_key, b.clusterId
FROM (SELECT * FROM _splitlab_batch WHERE type = 'metric'
      QUALIFY row_number() OVER (PARTITION BY eventId) = 1) b
JOIN _splitlab_keys k ON b.unitId = k.unit_id
ANTI JOIN (SELECT event_id FROM metric_events WHERE ts BETWEEN $lo AND $hi) e
    ON b.eventId = e.event_id
"""


class LogSource(Protocol):
    """What the loader reads: an :class:`~splitlab.store.log.AppendLog`, or a
    :class:`~splitlab.store.logreader.LogReader` of another process's log."""

    def read_next(self, start: Position, max_bytes: int) -> tuple[list[bytes], Position]: ...

    def release(self, upto: Position) -> None: ...


class Loader:
    """Loads records of `log` into the DuckDB connection `con` (its own cursor, one thread).

    `log_id` names the log in ``splitlab_log_position`` (several logs, one row each).
    """

    LOG_ID = "events"

    def __init__(
        self,
        con: Any,
        log: LogSource,
        scratch: Path,
        batch_bytes: int = 64 << 20,
        dedup_window_ms: int = 86_400_000,
        log_id: str = LOG_ID,
    ) -> None:
        self.LOG_ID = log_id
        self._dedup_window = dedup_window_ms
        self._con = con
        self._log = log
        self._scratch = scratch
        self._batch_bytes = batch_bytes
        self.position = self._recorded_position()

    def _recorded_position(self) -> Position:
        row = self._con.execute(
            'SELECT segment, "offset" FROM splitlab_log_position WHERE log_id = ?', [self.LOG_ID]
        ).fetchone()
        return Position(0, 0) if row is None else Position(int(row[0]), int(row[1]))

    def load_once(self) -> int:
        """Load one batch of durable records; the number of records loaded (0: caught up)."""
        payloads, end = self._log.read_next(self.position, self._batch_bytes)
        if not payloads:
            if end > self.position:  # past segments left empty: record it, free them
                self._commit_position(end)
            return 0
        with self._scratch.open("wb") as handle:
            for payload in payloads:
                handle.write(payload)
        try:
            self._load_file(end)
        finally:
            os.unlink(self._scratch)
        self._log.release(end)
        return len(payloads)

    def _load_file(self, end: Position) -> None:
        load_batch_file(
            self._con, self._scratch, self._dedup_window, lambda: self._upsert_position(end)
        )
        self.position = end

    def _commit_position(self, position: Position) -> None:
        """Move past empty segments (left by rotation) so they can be deleted."""
        self._con.execute("BEGIN TRANSACTION")
        self._upsert_position(position)
        self._con.execute("COMMIT")
        self.position = position
        self._log.release(position)

    def _upsert_position(self, position: Position) -> None:
        self._con.execute(
            "INSERT OR REPLACE INTO splitlab_log_position VALUES (?, ?, ?)",
            [self.LOG_ID, position.segment, position.offset],
        )


def load_batch_file(
    con: Any, scratch: Path, dedup_window_ms: int, record_position: Callable[[], None]
) -> None:
    """Load the newline-delimited events of `scratch` into `con` in one transaction: new unit
    keys, then exposures and metric events not stored before (``eventId`` within
    `dedup_window_ms` of the batch's times); `record_position` writes where the source was
    read up to, in the same transaction, so rows and position commit (or roll back) together.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _splitlab_batch AS SELECT * FROM read_json("
            f"$path, format = 'newline_delimited', columns = {_COLUMNS})",
            {"path": str(scratch)},
        )
        row = con.execute('SELECT min("timestamp"), max("timestamp") FROM _splitlab_batch')
        lo, hi = row.fetchone()
        if lo is not None:
            base = con.execute("SELECT coalesce(max(unit_key), 0) FROM unit_keys").fetchone()
            con.execute(BATCH_KEYS, {"base": base[0]})
            con.execute(
                "INSERT INTO unit_keys SELECT unit_id, unit_key FROM _splitlab_keys WHERE new"
            )
            bounds = {"lo": lo - dedup_window_ms, "hi": hi + dedup_window_ms}
            con.execute(_INSERT_EXPOSURES, bounds)
            con.execute(_INSERT_METRICS, bounds)
            con.execute("DROP TABLE _splitlab_keys")
        record_position()
        con.execute("DROP TABLE _splitlab_batch")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
