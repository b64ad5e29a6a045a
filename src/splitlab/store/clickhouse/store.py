"""``ClickHouseStore``: the event store interface over a ClickHouse server.

The write path is the embedded store's: events are appended to a local durable log with group
commit and acknowledged once fsync'd, so an acknowledgement never depends on ClickHouse being
up. A background thread loads the log into ClickHouse (:mod:`.loader`); while ClickHouse is
unreachable it keeps retrying with back-off and the log keeps the records. Reads first wait
until everything acknowledged before the call is loaded (read-your-writes), then run the
sufficient-statistics SQL in ClickHouse (:mod:`.sql`); only per-variant sums come back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path

import msgspec

from splitlab.config.models import Experiment
from splitlab.stats.sums import ExperimentSums
from splitlab.store.base import DataQuality, IngestResult
from splitlab.store.clickhouse.http import ClickHouseClient, ClickHouseError, identifier
from splitlab.store.clickhouse.loader import ClickHouseLoader
from splitlab.store.clickhouse.sql import (
    Dedup,
    as_grouping_rows,
    data_quality_sql,
    plan_clickhouse_summary,
)
from splitlab.store.errors import StoreError
from splitlab.store.log import AppendLog, Position
from splitlab.store.recent import RecentIds
from splitlab.store.summary_sql import NO_CUTOFF, plan_summary, sums_from_rows
from splitlab.tracking.events import Event

logger = logging.getLogger(__name__)

#: Longest pause between load attempts while ClickHouse is unreachable.
_MAX_BACKOFF_S = 5.0


class ClickHouseStore:
    """Events in ClickHouse at `url`, acknowledged from a durable log in `log_dir`."""

    def __init__(
        self,
        url: str,
        log_dir: Path | str,
        *,
        database: str = "splitlab",
        user: str = "default",
        password: str = "",
        max_pending_bytes: int = 64 << 20,
        segment_bytes: int = 64 << 20,
        load_interval_s: float = 0.5,
        settle_s: float = 60.0,
        recent_ids: int = 200_000,
        sync: bool = True,
        dedup: Dedup = "final",
    ) -> None:
        self.database = identifier(database)
        self._dedup: Dedup = dedup
        self._client = ClickHouseClient(url, user=user, password=password)
        self._log = AppendLog(
            Path(log_dir),
            segment_bytes=segment_bytes,
            max_pending_bytes=max_pending_bytes,
            sync=sync,
        )
        self._recent = RecentIds(recent_ids)
        self._submit_lock = threading.Lock()
        self._encoder = msgspec.json.Encoder()
        self._loader = ClickHouseLoader(
            ClickHouseClient(url, user=user, password=password),
            self.database,
            self._log,
            settle_s=settle_s,
        )
        self._interval = load_interval_s
        self._wake = self._log.listen()
        self._urgent = threading.Event()
        self._loaded = threading.Condition()
        #: Load passes started and finished (each pass first checks for a server restart).
        self._started = 0
        self._finished = 0
        self._last_error: StoreError | None = None
        self._fatal: BaseException | None = None
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run_loader, name="splitlab-clickhouse-loader", daemon=True
        )
        self._thread.start()

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

    def _run_loader(self) -> None:
        """Load in large batches: at most every `load_interval_s`, at once when flushed."""
        last = time.monotonic()
        pause = self._interval
        while not self._stopping:
            self._wake.wait(pause)
            self._urgent.wait(max(0.0, last + pause - time.monotonic()))
            self._wake.clear()
            self._urgent.clear()
            if self._stopping:
                return
            with self._loaded:
                self._started += 1
            error: StoreError | None = None
            try:
                while self._loader.load_once():
                    pass
            except ClickHouseError as exc:
                error = exc
            except (OSError, StoreError) as exc:
                logger.error("reading the event log failed; the loader stops: %s", exc)
                with self._loaded:
                    self._fatal = exc
                    self._loaded.notify_all()
                return
            if error is None:
                pause = self._interval
            else:
                logger.warning("loading events into ClickHouse failed (will retry): %s", error)
                pause = min(_MAX_BACKOFF_S, max(pause, 0.05) * 2)
            last = time.monotonic()
            with self._loaded:
                self._finished += 1
                self._last_error = error
                self._loaded.notify_all()

    def flush(self, timeout: float | None = 60.0) -> None:
        """Wait until everything acknowledged so far is loaded into ClickHouse.

        Waits for a whole load pass that starts after the call, so that a restart of the
        server that lost rows is noticed (and the rows loaded again) before a read. Raises
        :class:`ClickHouseError` if that pass failed.
        """
        target = self._log.durable_position
        with self._loaded:
            started = self._started
        self._wake.set()
        self._urgent.set()
        with self._loaded:
            ok = self._loaded.wait_for(
                lambda: self._fatal is not None or self._finished > started, timeout
            )
            if self._fatal is not None:
                raise StoreError(f"the event loader stopped: {self._fatal}")
            if not ok:
                raise ClickHouseError(f"events were not loaded into ClickHouse within {timeout} s")
            if self._last_error is not None:
                raise ClickHouseError(str(self._last_error))
            if self._loader.position < target:
                raise ClickHouseError("events were not loaded into ClickHouse")

    @property
    def loaded_position(self) -> Position:
        """How far the log has been loaded into ClickHouse."""
        return self._loader.position

    # ------------------------------------------------------------------ reading

    def summary(
        self,
        experiment: Experiment,
        cutoff: datetime | None = None,
        segment: str | Sequence[str] | None = None,
    ) -> ExperimentSums:
        """The experiment's sufficient statistics, computed in ClickHouse (see :mod:`.sql`)."""
        segments = [segment] if isinstance(segment, str) else list(segment or [])
        self.flush()
        millis = _millis(cutoff)
        reference = plan_summary(experiment, millis, segments)
        plan = plan_clickhouse_summary(
            self.database, experiment, reference.metrics, millis, segments, self._dedup
        )
        columns, rows = self._client.query(plan.sql, plan.params)
        columns, shaped = as_grouping_rows(plan, columns, rows)
        return sums_from_rows(experiment, reference, columns, shaped)

    def data_quality(self, experiment: Experiment, cutoff: datetime | None = None) -> DataQuality:
        """Units in more than one variant and metric events that do not fit an exposure."""
        self.flush()
        millis = _millis(cutoff)
        params = {
            "exp": experiment.experiment_id,
            "cutoff": NO_CUTOFF if millis is None else millis,
        }
        _, rows = self._client.query(data_quality_sql(self.database, self._dedup), params)
        return DataQuality(experiment.experiment_id, *(int(v) for v in rows[0]))

    def close(self) -> None:
        """Write what is pending to the log, try a last load, and release the connections.

        Records that could not be loaded stay in the log and are loaded on the next start.
        """
        self._log.close()
        self._stopping = True
        self._wake.set()
        self._urgent.set()
        self._thread.join()
        if self._fatal is None:
            try:
                while self._loader.load_once():
                    pass
            except ClickHouseError as exc:
                logger.warning("events stay in the log until the next start: %s", exc)
        self._loader.close()
        self._client.close()

    def __enter__(self) -> ClickHouseStore:
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
