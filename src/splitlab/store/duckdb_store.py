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
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from splitlab.config.adaptive import CanaryMetric
from splitlab.config.models import Experiment
from splitlab.config.sources import SourceCatalog
from splitlab.stats.intervals import CanaryData
from splitlab.stats.sums import ExperimentSums, SliceSums
from splitlab.stats.switchback import cell_sums
from splitlab.stats.switchback_cells import SwitchbackCells
from splitlab.store.bandit_sql import BanditData, bandit_data_from_rows, plan_bandit
from splitlab.store.base import DataQuality, IngestResult
from splitlab.store.canary_sql import (
    canary_data,
    duckdb_buckets_sql,
    duckdb_sql,
    plan_canary,
    sketches_from_rows,
    split_parts,
    thresholds,
)
from splitlab.store.capping_sql import refuse_caps
from splitlab.store.cluster_sql import plan_cluster_summary
from splitlab.store.errors import StoreError, database_open_error
from splitlab.store.loader import Loader
from splitlab.store.log import AppendLog, Position
from splitlab.store.quality_sql import data_quality_sql, quality_from_rows
from splitlab.store.quantile_sql import quantile_sums
from splitlab.store.sql_views import SqlRows, fetch_sql_rows, first_exposure, registered
from splitlab.store.summary_sql import (
    cutoff_millis,
    plan_summary,
    sums_from_rows,
    used_params,
)
from splitlab.store.survival_sql import survival_sums
from splitlab.store.switchback_sql import CellResult, plan_cells, read_cells
from splitlab.store.tables import create_tables
from splitlab.store.versions_sql import plan_versions, versions_from_rows
from splitlab.store.writepath import LoaderThread, LoadPolicy, LogWriter
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
        sources: SourceCatalog | None = None,
    ) -> None:
        self.path = Path(path)
        #: Where SQL metrics (``metric.sql``) read their rows (:mod:`.sql_views`).
        self.sources = sources
        try:
            self._con: Any = duckdb.connect(str(self.path))
        except duckdb.Error as exc:
            raise database_open_error(str(self.path), exc) from exc
        #: Held by anyone using :attr:`connection` (DuckDB connections are not thread-safe).
        self.lock = threading.RLock()
        create_tables(self._con)
        self._log = AppendLog(
            Path(log_dir) if log_dir is not None else Path(f"{self.path}.log"),
            segment_bytes=segment_bytes,
            max_pending_bytes=max_pending_bytes,
            sync=sync,
        )
        self._writer = LogWriter(self._log, recent_ids)
        self._loader = Loader(
            self._con.cursor(),
            self._log,
            Path(f"{self.path}.loading.ndjson"),
            dedup_window_ms=int(dedup_window_s * 1000),
        )
        #: The data-quality counts of the last summary, keyed by (experiment, cut-off, loaded
        #: position); a look asks for them right after the summary (see :meth:`data_quality`).
        self._quality: tuple[tuple[str, int, Position], DataQuality] | None = None
        self._closing = threading.Lock()
        self._closed = False
        #: Called first by :meth:`close` (components with their own writers on this file).
        self._close_hooks: list[Callable[[], None]] = []
        # A failed load is logged and retried at the next interval; the records stay in the
        # log meanwhile, and :meth:`flush` reports the error if it lasts.
        policy = LoadPolicy(
            interval_s=load_interval_s,
            retryable=(duckdb.Error, OSError, StoreError),
            target="DuckDB",
            thread_name="splitlab-loader",
        )
        self._loads = LoaderThread(self._loader, self._log, policy)
        self._loads.catch_up()  # on start: replay the log from the recorded position
        self._loads.start()

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
        return self._writer.submit(events)

    def ingest(self, events: Sequence[Event]) -> IngestResult:
        """Write `events` durably and return once they are fsync'd."""
        return self._writer.ingest(events)

    # ------------------------------------------------------------------ loading

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until everything acknowledged so far is loaded into DuckDB.

        Raises :class:`StoreError` when that does not happen within `timeout` seconds (the
        loader's last error, if any, is in the message).
        """
        self._loads.wait_loaded(self._log.durable_position, timeout)

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
        *,
        known_caps: Mapping[tuple[str, str], float] | None = None,
    ) -> ExperimentSums:
        """The experiment's sufficient statistics, computed in DuckDB (see summary_sql; for a
        cluster design, sums over clusters: cluster_sql).

        Metrics with a cap are capped per unit before the sums (``sums.capping`` says how);
        `known_caps` gives percentile caps fixed at an earlier look, by (metric, target).

        The same pass counts the data-quality problems; they are kept for a following
        :meth:`data_quality` call with the same experiment, cut-off and loaded data.

        A switchback experiment's sums are over its cells (:meth:`switchback_cells`; segments
        are not computed for it).
        """
        if experiment.is_switchback:
            refuse_caps(experiment, "a switchback design")
            return cell_sums(experiment, self._switchback(experiment, cutoff).cells)
        segments = [segment] if isinstance(segment, str) else list(segment or [])
        self.flush()
        millis = cutoff_millis(cutoff)
        if experiment.is_cluster:
            refuse_caps(experiment, "a cluster design")
            plan = plan_cluster_summary(experiment, millis, segments)
        else:
            plan = plan_summary(experiment, millis, segments, known_caps)
        sql_rows = self._sql_rows(experiment, millis)
        with self.lock, registered(self._con, sql_rows):
            # The position before the query: a load committed meanwhile makes the key older
            # than the data, so the counts are recomputed rather than reused stale.
            key = (experiment.experiment_id, millis, self._loader.position)
            cursor = self._con.execute(plan.sql, plan.params)
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
            sums = sums_from_rows(experiment, plan, columns, rows)
            if not experiment.is_cluster:
                sums = quantile_sums(experiment, sums, millis, self._run)
                sums = survival_sums(experiment, sums, plan.metrics, millis, self._run, segments)
        quality = quality_from_rows(experiment, plan, columns, rows)
        with self.lock:
            self._quality = None if quality is None else (key, quality)
        return sums

    def switchback_cells(
        self, experiment: Experiment, cutoff: datetime | None = None
    ) -> SwitchbackCells:
        """The cell table of a switchback experiment (:mod:`splitlab.store.switchback_sql`):
        one row per (unit, period) cell of the analysis window, with its variant and each
        metric's cell outcome. Without a cut-off the window ends at the last complete period
        before now."""
        return self._switchback(experiment, cutoff).cells

    def _switchback(self, experiment: Experiment, cutoff: datetime | None) -> CellResult:
        self.flush()
        millis = int(time.time() * 1000) if cutoff is None else cutoff_millis(cutoff)
        plan = plan_cells(experiment, millis)

        def run(sql: str, params: dict[str, Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
            cursor = self._con.execute(sql, params)
            return [d[0] for d in cursor.description], cursor.fetchall()

        with self.lock:
            key = (experiment.experiment_id, cutoff_millis(cutoff), self._loader.position)
            result = read_cells(experiment, plan, millis, run)
        with self.lock:
            self._quality = (key, result.quality)
        return result

    def data_quality(self, experiment: Experiment, cutoff: datetime | None = None) -> DataQuality:
        """Units in more than one variant and metric events that do not fit an exposure
        (for a cluster design also clusters in more than one variant and exposures without a
        cluster id).

        Right after :meth:`summary` of the same experiment and cut-off, with nothing loaded
        since, these are the counts that summary's query computed (used once); otherwise one
        pass over the experiment's metric events. Rows written straight into the tables
        through :attr:`connection` between the two calls are not seen by the reused counts.
        A switchback's counts: metric events without the unit's ``clusterId`` (as
        ``unexposedMetricEvents``) and events claiming a variant other than their cell's.
        """
        self.flush()
        millis = cutoff_millis(cutoff)
        with self.lock:
            cached, self._quality = self._quality, None
            if cached is not None and cached[0] == (
                experiment.experiment_id,
                millis,
                self._loader.position,
            ):
                return cached[1]
        if experiment.is_switchback:
            return self._switchback(experiment, cutoff).quality
        params = {"exp": experiment.experiment_id, "cutoff": millis}
        with self.lock:
            row = self._con.execute(data_quality_sql(experiment.is_cluster), params).fetchone()
        return DataQuality(experiment.experiment_id, *(int(v) for v in row))

    def close(self) -> None:
        """Write and load what is pending, then close the log and the database (once)."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
        for hook in self._close_hooks:
            try:
                hook()
            except Exception:
                logger.exception("closing a component of %s failed", self.path)
        self._log.close()
        self._loads.stop()
        try:
            self._loads.catch_up()
        except (duckdb.Error, OSError, StoreError) as exc:
            logger.error("events left in the log, loaded on the next start: %s", exc)
        with self.lock:
            self._con.close()

    def __enter__(self) -> DuckDBStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, sql: str, params: dict[str, Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        """One query under the caller's lock: its column names and rows."""
        cursor = self._con.execute(sql, params)
        return [d[0] for d in cursor.description], cursor.fetchall()

    # ------------------------------------------------------------------ bandits

    def bandit_data(
        self, experiment: Experiment, boundaries: Sequence[int], cutoff: datetime
    ) -> BanditData:
        """A bandit's reward sums and newly exposed units per update batch
        (:mod:`splitlab.store.bandit_sql`); `boundaries` are the update times (epoch ms)."""
        self.flush()
        millis = cutoff_millis(cutoff)
        plan = plan_bandit(experiment, boundaries, millis)
        with self.lock:
            rows = self._con.execute(plan.sql, plan.params).fetchall()
        return bandit_data_from_rows(experiment, plan, rows, boundaries, millis)

    # ------------------------------------------------------------------ canary

    def canary_intervals(
        self,
        experiment: Experiment,
        metrics: Sequence[CanaryMetric],
        *,
        start: datetime,
        end: datetime,
        interval_seconds: int,
    ) -> CanaryData:
        """The data of one canary judgment (:mod:`splitlab.store.canary_sql`): per metric the
        intervals ``k`` (counted from ``start`` in steps of ``interval_seconds``) and the step
        totals per variant, and for quantile metrics the clustered sums; each event name is
        read once whatever the number of metrics on it."""
        plan = plan_canary(experiment, metrics, start, end, interval_seconds)
        if not plan.events:
            return CanaryData({}, {}, {})
        self.flush()
        with self.lock:
            buckets: list[Any] = []
            if plan.sketch_events:
                sql = duckdb_buckets_sql(plan)
                buckets = self._con.execute(sql, used_params(sql, plan.params)).fetchall()
            sketches = sketches_from_rows(experiment, buckets)
            found = thresholds(metrics, sketches, experiment.variant_names)
            rows = self._con.execute(*duckdb_sql(plan, found)).fetchall()
        return canary_data(experiment, metrics, *split_parts(rows), sketches, found)

    # ------------------------------------------------------------------ components

    def on_close(self, hook: Callable[[], None]) -> None:
        """Have :meth:`close` call `hook` first, while the connection is still open (the
        sticky store stops its loader and loads what its log holds)."""
        self._close_hooks.append(hook)

    # ------------------------------------------------------------------ weights versions

    def weights_version_sums(
        self, experiment: Experiment, boundaries: Sequence[int], cutoff: datetime | None = None
    ) -> list[SliceSums]:
        """A sticky experiment's units and sums per weights version
        (:mod:`splitlab.store.versions_sql`); `boundaries` are the starts of the versions
        after the first (epoch ms)."""
        refuse_caps(experiment, "the per-weights-version sums (weights changed while running)")
        self.flush()
        plan = plan_versions(experiment, cutoff_millis(cutoff), boundaries)
        sql_rows = self._sql_rows(experiment, cutoff_millis(cutoff))
        with self.lock, registered(self._con, sql_rows):
            columns, rows = self._run(plan.sql, plan.params)
        return versions_from_rows(experiment, plan, boundaries, columns, rows)

    # ------------------------------------------------------------------ SQL metrics

    def _sql_rows(self, experiment: Experiment, cutoff_ms: int) -> SqlRows:
        """The rows of the experiment's SQL metrics (:mod:`splitlab.store.sql_views`), fetched
        from their sources without holding the lock; empty without SQL metrics."""
        if not any(metric.sql is not None for _, metric in experiment.metrics.all()):
            return SqlRows({})
        with self.lock:
            first = first_exposure(self._con, experiment, cutoff_ms)
        return fetch_sql_rows(experiment, self.sources, first, cutoff_ms)

    # ------------------------------------------------------------------ the log

    @property
    def event_log(self) -> AppendLog:
        """The durable log acknowledgements rest on (a Kafka forwarder reads it too)."""
        return self._log
