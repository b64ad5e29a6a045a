"""The embedded event store: a durable log in front of one DuckDB file.

``DuckDBStore("events.duckdb")`` keeps

* ``events.duckdb``: the DuckDB database (events, the loader's log position, and whatever
  other components such as the registry put there through :attr:`DuckDBStore.connection`);
* ``events.duckdb.log/``: the append-only log that makes an acknowledgement durable.

Writing (:meth:`~DuckDBStore.submit`, :meth:`~DuckDBStore.ingest`) appends to the log with
group commit and answers once the record is fsync'd. A background loader thread moves records
into DuckDB in large deduplicating transactions (:mod:`splitlab.store.loader`). On start, the
log is replayed from the position recorded in DuckDB. Reading (:meth:`~DuckDBStore.summary`)
first waits until everything acknowledged before the call is loaded (read-your-writes).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import msgspec

from splitlab.config.models import Experiment
from splitlab.stats.sums import ExperimentSums
from splitlab.store.base import DataQuality, IngestResult
from splitlab.store.errors import StoreError
from splitlab.store.loader import SCHEMA, Loader
from splitlab.store.log import AppendLog, Position
from splitlab.store.recent import RecentIds
from splitlab.store.summary_sql import (
    DATA_QUALITY_SQL,
    NO_CUTOFF,
    plan_summary,
    quality_from_rows,
    sums_from_rows,
)
from splitlab.tracking.events import Event

logger = logging.getLogger(__name__)


class DuckDBStore:
    """Events in one DuckDB file, acknowledged from a durable log (see the module docstring)."""

    def __init__(
        self,
        path: Path | str,
        *,
        max_pending_bytes: int = 64 << 20,
        segment_bytes: int = 64 << 20,
        load_interval_s: float = 0.5,
        recent_ids: int = 200_000,
        log_dir: Path | str | None = None,
        dedup_window_s: float = 86_400.0,
        sync: bool = True,
    ) -> None:
        self.path = Path(path)
        self._con: Any = duckdb.connect(str(self.path))
        #: Held by anyone using :attr:`connection` (DuckDB connections are not thread-safe).
        self.lock = threading.RLock()
        self._con.execute(SCHEMA)
        self._log = AppendLog(
            Path(log_dir) if log_dir is not None else Path(f"{self.path}.log"),
            segment_bytes=segment_bytes,
            max_pending_bytes=max_pending_bytes,
            sync=sync,
        )
        self._recent = RecentIds(recent_ids)
        self._submit_lock = threading.Lock()
        self._encoder = msgspec.json.Encoder()
        self._loader = Loader(
            self._con.cursor(),
            self._log,
            Path(f"{self.path}.loading.ndjson"),
            dedup_window_ms=int(dedup_window_s * 1000),
        )
        self._interval = load_interval_s
        self._wake = self._log.listen()
        self._urgent = threading.Event()
        self._loaded = threading.Condition()
        self._loader_error: BaseException | None = None
        #: The data-quality counts of the last summary, keyed by (experiment, cut-off, loaded
        #: position); a look asks for them right after the summary (see :meth:`data_quality`).
        self._quality: tuple[tuple[str, int | None, Position], DataQuality] | None = None
        self._stopping = False
        self._closed = False
        self._catch_up()
        self._thread = threading.Thread(
            target=self._run_loader, name="splitlab-loader", daemon=True
        )
        self._thread.start()

    @property
    def connection(self) -> Any:
        """The DuckDB connection, shared with other components; hold :attr:`lock` to use it."""
        return self._con

    # ------------------------------------------------------------------ writing

    def submit(self, events: Sequence[Event]) -> Future[IngestResult]:
        """Queue `events` for the log; the future resolves once they are durable.

        Raises :class:`~splitlab.store.errors.OverloadedError` at once when the write queue is
        full; the future fails with :class:`StoreError` when the write failed.
        """
        result: Future[IngestResult] = Future()
        with self._submit_lock:
            fresh, waits, duplicates = self._recent.claim(events)
            if fresh:
                try:
                    written = self._log.submit(self._encoder.encode_lines(fresh))
                except StoreError:
                    self._recent.forget(fresh, None)
                    raise
                self._recent.attach(fresh, written)
                waits.append(written)
        _after_all(waits, result, IngestResult(len(fresh), duplicates))
        return result

    def ingest(self, events: Sequence[Event]) -> IngestResult:
        """Write `events` durably and return once they are fsync'd."""
        return self.submit(events).result()

    # ------------------------------------------------------------------ loading

    def _catch_up(self) -> None:
        """Load everything durable (on start: replay the log from the recorded position)."""
        while self._loader.load_once():
            with self._loaded:
                self._loaded.notify_all()

    def _run_loader(self) -> None:
        """Load in large batches: at most every `load_interval_s`, at once when flushed.

        A failed load (DuckDB or the disk) is logged and retried at the next interval; the
        records stay in the log meanwhile, and :meth:`flush` reports the error if it lasts.
        """
        last = time.monotonic()
        while True:
            self._wake.wait(self._interval)
            self._urgent.wait(max(0.0, last + self._interval - time.monotonic()))
            self._wake.clear()
            self._urgent.clear()
            if self._stopping:
                return
            try:
                self._catch_up()
            except (duckdb.Error, OSError, StoreError) as exc:
                logger.error("loading events into DuckDB failed (will retry): %s", exc)
                error: BaseException | None = exc
            else:
                error = None
            last = time.monotonic()
            with self._loaded:
                self._loader_error = error
                self._loaded.notify_all()

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until everything acknowledged so far is loaded into DuckDB.

        Raises :class:`StoreError` when that does not happen within `timeout` seconds (the
        loader's last error, if any, is in the message).
        """
        target = self._log.durable_position
        deadline = time.monotonic() + timeout
        with self._loaded:
            while self._loader.position < target:
                self._wake.set()
                self._urgent.set()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    cause = f": {self._loader_error}" if self._loader_error else ""
                    raise StoreError(f"events were not loaded within {timeout:g} s{cause}")
                self._loaded.wait(remaining)

    @property
    def loaded_position(self) -> Position:
        """How far the log has been loaded into DuckDB."""
        return self._loader.position

    # ------------------------------------------------------------------ reading

    def summary(
        self,
        experiment: Experiment,
        cutoff: datetime | None = None,
        segment: str | Sequence[str] | None = None,
    ) -> ExperimentSums:
        """The experiment's sufficient statistics, computed in DuckDB (see summary_sql).

        The same pass counts the data-quality problems; they are kept for a following
        :meth:`data_quality` call with the same experiment, cut-off and loaded data.
        """
        segments = [segment] if isinstance(segment, str) else list(segment or [])
        self.flush()
        millis = _millis(cutoff)
        plan = plan_summary(experiment, millis, segments)
        with self.lock:
            # The position before the query: a load committed meanwhile makes the key older
            # than the data, so the counts are recomputed rather than reused stale.
            key = (experiment.experiment_id, millis, self._loader.position)
            cursor = self._con.execute(plan.sql, plan.params)
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        quality = quality_from_rows(experiment, plan, columns, rows)
        with self.lock:
            self._quality = None if quality is None else (key, quality)
        return sums_from_rows(experiment, plan, columns, rows)

    def data_quality(self, experiment: Experiment, cutoff: datetime | None = None) -> DataQuality:
        """Units in more than one variant and metric events that do not fit an exposure.

        Right after :meth:`summary` of the same experiment and cut-off, with nothing loaded
        since, these are the counts that summary's query computed (used once); otherwise one
        pass over the experiment's metric events. Rows written straight into the tables
        through :attr:`connection` between the two calls are not seen by the reused counts.
        """
        self.flush()
        millis = _millis(cutoff)
        with self.lock:
            cached, self._quality = self._quality, None
            if cached is not None and cached[0] == (
                experiment.experiment_id,
                millis,
                self._loader.position,
            ):
                return cached[1]
        params = {
            "exp": experiment.experiment_id,
            "cutoff": NO_CUTOFF if millis is None else millis,
        }
        with self.lock:
            row = self._con.execute(DATA_QUALITY_SQL, params).fetchone()
        return DataQuality(experiment.experiment_id, *(int(v) for v in row))

    def close(self) -> None:
        """Write and load what is pending, then close the log and the database (once)."""
        with self._loaded:
            if self._closed:
                return
            self._closed = True
        self._log.close()
        self._stopping = True
        self._wake.set()
        self._urgent.set()
        self._thread.join()
        try:
            self._catch_up()
        except (duckdb.Error, OSError, StoreError) as exc:
            logger.error("events left in the log, loaded on the next start: %s", exc)
        with self.lock:
            self._con.close()

    def __enter__(self) -> DuckDBStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _millis(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise StoreError(f"cut-off {moment.isoformat()}: expected a timezone-aware date-time")
    return int(moment.timestamp() * 1000)


def _after_all(
    waits: Sequence[Future[Position]], result: Future[IngestResult], value: IngestResult
) -> None:
    """Resolve `result` with `value` once every future in `waits` succeeded (or fail it)."""
    pending = [f for f in waits if not f.done()]
    for future in waits:
        if future.done() and future.exception() is not None:
            result.set_exception(future.exception() or StoreError("write failed"))
            return
    if not pending:
        result.set_result(value)
        return
    remaining = [len(pending)]
    lock = threading.Lock()

    def done(future: Future[Position]) -> None:
        error = future.exception()
        with lock:
            if result.done():
                return
            if error is not None:
                result.set_exception(error)
                return
            remaining[0] -= 1
            if remaining[0] == 0:
                result.set_result(value)

    for future in pending:
        future.add_done_callback(done)
