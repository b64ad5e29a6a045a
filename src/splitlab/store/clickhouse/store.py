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
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from splitlab.config.adaptive import CanaryMetric
from splitlab.config.errors import ConfigError
from splitlab.config.models import Experiment
from splitlab.config.sources import SourceCatalog
from splitlab.config.sql_checks import sql_metric_paths
from splitlab.stats.intervals import CanaryData
from splitlab.stats.sums import ExperimentSums, SliceSums
from splitlab.stats.switchback import cell_sums
from splitlab.stats.switchback_cells import SwitchbackCells
from splitlab.store.bandit_sql import BanditData, bandit_data_from_rows
from splitlab.store.base import DataQuality, IngestResult
from splitlab.store.canary_sql import canary_data, plan_canary, sketches_from_rows, thresholds
from splitlab.store.capping_sql import refuse_caps
from splitlab.store.clickhouse.bandit_sql import plan_clickhouse_bandit
from splitlab.store.clickhouse.canary_sql import clickhouse_buckets_sql, clickhouse_sql
from splitlab.store.clickhouse.cluster_sql import plan_clickhouse_cluster_summary
from splitlab.store.clickhouse.connection import connect
from splitlab.store.clickhouse.http import ClickHouseError, identifier
from splitlab.store.clickhouse.loader import ClickHouseLoader
from splitlab.store.clickhouse.quantile_sql import quantile_sums
from splitlab.store.clickhouse.sql import (
    Dedup,
    as_grouping_rows,
    data_quality_sql,
    plan_clickhouse_summary,
)
from splitlab.store.clickhouse.sql_metric import READ_ONLY, check_sql_metrics, has_sql
from splitlab.store.clickhouse.survival_sql import clickhouse_curve, clickhouse_time_to_event
from splitlab.store.clickhouse.switchback_sql import plan_clickhouse_cells
from splitlab.store.clickhouse.versions_sql import plan_clickhouse_versions
from splitlab.store.errors import StoreError
from splitlab.store.log import AppendLog, Position
from splitlab.store.sql_validation import SqlValidation
from splitlab.store.summary_sql import cutoff_millis, sums_from_rows
from splitlab.store.survival_sql import survival_sums
from splitlab.store.switchback_sql import CellResult, read_cells
from splitlab.store.versions_sql import versions_from_rows
from splitlab.store.writepath import LoaderThread, LoadPolicy, LogWriter
from splitlab.tracking.events import Event

logger = logging.getLogger(__name__)

#: Longest pause between load attempts while ClickHouse is unreachable.
_MAX_BACKOFF_S = 5.0


class ClickHouseStore:
    """Events in ClickHouse at `url`, acknowledged from a durable log in `log_dir`.

    `url`: a server's HTTP address, or ``chdb:PATH`` for the engine in-process (chDB).
    """

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
        sources: SourceCatalog | None = None,
    ) -> None:
        #: The catalog of SQL metrics' sources (:mod:`.sql_metric`: ``clickhouse`` ones).
        self.sources = sources
        self.database = identifier(database)
        self._dedup: Dedup = dedup
        self._client = connect(url, user=user, password=password)
        self._log = AppendLog(
            Path(log_dir),
            segment_bytes=segment_bytes,
            max_pending_bytes=max_pending_bytes,
            sync=sync,
        )
        self._writer = LogWriter(self._log, recent_ids)
        self._loader = self._new_loader(url, user, password, settle_s)
        # ClickHouse being unreachable is retried with back-off (the log keeps the records);
        # failing to read the log itself stops the loader.
        policy = LoadPolicy(
            interval_s=load_interval_s,
            retryable=(ClickHouseError,),
            fatal=(OSError, StoreError),
            max_backoff_s=_MAX_BACKOFF_S,
            target="ClickHouse",
            thread_name="splitlab-clickhouse-loader",
        )
        self._loads = LoaderThread(self._loader, self._log, policy)
        self._loads.start()

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

    def flush(self, timeout: float | None = 60.0) -> None:
        """Wait until everything acknowledged so far is loaded into ClickHouse.

        Waits for a whole load pass that starts after the call, so that a restart of the
        server that lost rows is noticed (and the rows loaded again) before a read. Raises
        :class:`ClickHouseError` if that pass failed.
        """
        target = self._log.durable_position
        if not self._loads.wait_pass(timeout):
            raise ClickHouseError(f"events were not loaded into ClickHouse within {timeout} s")
        if self._loads.last_error is not None:
            raise ClickHouseError(str(self._loads.last_error))
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
        *,
        known_caps: Mapping[tuple[str, str], float] | None = None,
    ) -> ExperimentSums:
        """The experiment's sufficient statistics, computed in ClickHouse (see :mod:`.sql`;
        for a cluster design, sums over clusters: :mod:`.cluster_sql`; for a switchback, sums
        over its cells: :meth:`switchback_cells`)."""
        if experiment.is_switchback:
            refuse_caps(experiment, "a switchback design")
            return cell_sums(experiment, self._switchback(experiment, cutoff).cells)
        segments = [segment] if isinstance(segment, str) else list(segment or [])
        self.flush()
        query = self._reader(experiment)
        millis = cutoff_millis(cutoff)
        if experiment.is_cluster:
            refuse_caps(experiment, "a cluster design")
            plan = plan_clickhouse_cluster_summary(
                self.database, experiment, millis, segments, self._dedup
            )
        else:
            plan = plan_clickhouse_summary(
                self.database, experiment, millis, segments, self._dedup, known_caps
            )
        columns, rows = query(plan.sql, plan.params)
        columns, shaped = as_grouping_rows(plan, columns, rows)
        sums = sums_from_rows(experiment, plan, columns, shaped)
        if experiment.is_cluster:
            return sums
        sums = quantile_sums(self.database, experiment, sums, millis, self._dedup, query)
        return survival_sums(
            experiment,
            sums,
            plan.metrics,
            millis,
            query,
            segments,
            curve=partial(clickhouse_curve, self.database, self._dedup),
            time_to_event=partial(clickhouse_time_to_event, self.database, self._dedup),
        )

    def switchback_cells(
        self, experiment: Experiment, cutoff: datetime | None = None
    ) -> SwitchbackCells:
        """The cell table of a switchback (:mod:`splitlab.store.switchback_sql`'s rules)."""
        return self._switchback(experiment, cutoff).cells

    def _switchback(self, experiment: Experiment, cutoff: datetime | None) -> CellResult:
        self.flush()
        millis = int(time.time() * 1000) if cutoff is None else cutoff_millis(cutoff)
        plan = plan_clickhouse_cells(self.database, experiment, millis, self._dedup)

        def run(sql: str, params: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
            return self._client.query(sql, params)

        return read_cells(experiment, plan, millis, run)

    def data_quality(self, experiment: Experiment, cutoff: datetime | None = None) -> DataQuality:
        """Units in more than one variant and metric events that do not fit an exposure
        (for a cluster design also clusters in more than one variant and exposures without a
        cluster id; a switchback's: see :meth:`DuckDBStore.data_quality`)."""
        if experiment.is_switchback:
            return self._switchback(experiment, cutoff).quality
        self.flush()
        millis = cutoff_millis(cutoff)
        params = {"exp": experiment.experiment_id, "cutoff": millis}
        sql = data_quality_sql(self.database, self._dedup, experiment.is_cluster)
        _, rows = self._client.query(sql, params)
        return DataQuality(experiment.experiment_id, *(int(v) for v in rows[0]))

    def close(self) -> None:
        """Write what is pending to the log, try a last load, and release the connections.

        Records that could not be loaded stay in the log and are loaded on the next start.
        """
        self._log.close()
        self._loads.stop()
        if self._loads.fatal is None:
            try:
                self._loads.catch_up()
            except ClickHouseError as exc:
                logger.warning("events stay in the log until the next start: %s", exc)
        self._loader.close()
        self._client.close()

    def __enter__(self) -> ClickHouseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ bandits

    def bandit_data(
        self, experiment: Experiment, boundaries: Sequence[int], cutoff: datetime
    ) -> BanditData:
        """A bandit's reward sums and newly exposed units per update batch
        (:mod:`splitlab.store.clickhouse.bandit_sql`)."""
        self.flush()
        millis = cutoff_millis(cutoff)
        plan = plan_clickhouse_bandit(self.database, experiment, boundaries, millis, self._dedup)
        _, rows = self._client.query(plan.sql, plan.params)
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
        """The data of one canary judgment computed in ClickHouse (:mod:`.canary_sql`; the
        same numbers as :meth:`DuckDBStore.canary_intervals`)."""
        plan = plan_canary(experiment, metrics, start, end, interval_seconds)
        if not plan.events:
            return CanaryData({}, {}, {})
        self.flush()
        buckets: list[list[Any]] = []
        if plan.sketch_events:
            _, buckets = self._client.query(
                clickhouse_buckets_sql(self.database, plan, self._dedup), plan.params
            )
        sketches = sketches_from_rows(experiment, buckets)
        found = thresholds(metrics, sketches, experiment.variant_names)
        moments_sql, step_sql, params = clickhouse_sql(self.database, plan, found, self._dedup)
        _, moments = self._client.query(moments_sql, params)
        _, step = self._client.query(step_sql, params)
        return canary_data(experiment, metrics, moments, step, sketches, found)

    # ------------------------------------------------------------------ weights versions

    def weights_version_sums(
        self, experiment: Experiment, boundaries: Sequence[int], cutoff: datetime | None = None
    ) -> list[SliceSums]:
        """A sticky experiment's units and sums per weights version
        (:mod:`splitlab.store.versions_sql`); `boundaries` are the starts of the versions
        after the first (epoch ms)."""
        refuse_caps(experiment, "the per-weights-version sums (weights changed while running)")
        self.flush()
        query = self._reader(experiment)
        millis = cutoff_millis(cutoff)
        plan = plan_clickhouse_versions(self.database, experiment, millis, boundaries, self._dedup)
        columns, rows = query(plan.sql, plan.params)
        return versions_from_rows(experiment, plan, boundaries, columns, rows)

    # ------------------------------------------------------------------ layouts

    def _new_loader(self, url: str, user: str, password: str, settle_s: float) -> ClickHouseLoader:
        """The loader of this store's log (the sharded store loads through its cluster)."""
        return ClickHouseLoader(
            connect(url, user=user, password=password), self.database, self._log, settle_s=settle_s
        )

    # ------------------------------------------------------------------ SQL metrics

    def check_sql_metrics(self, experiment: Experiment) -> None:
        """Check `experiment`'s SQL metrics before a look (:mod:`.sql_metric`): each names a
        ``clickhouse`` source of :attr:`sources`, and its query is one SELECT without table
        functions that returns ``unit_id``, ``timestamp``, ``value`` (a ``LIMIT 0`` run on
        the server, read-only). Raises :class:`~splitlab.config.errors.ConfigError` naming
        each metric's JSON path."""
        check_sql_metrics(experiment, self.sources, self._client)

    def _reader(
        self, experiment: Experiment
    ) -> Callable[[str, dict[str, Any]], tuple[list[str], list[list[Any]]]]:
        """How the reads of `experiment`'s sums are sent: with :data:`.sql_metric.READ_ONLY`
        settings, after :meth:`check_sql_metrics`, when a metric is defined in SQL (its query
        is part of them)."""
        if not has_sql(experiment):
            return self._client.query
        self.check_sql_metrics(experiment)

        def read_only(sql: str, params: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
            return self._client.query(sql, params, READ_ONLY)

        return read_only

    def validate_sql_metrics(self, experiment: Experiment) -> SqlValidation:
        """What ``splitlab validate --sources`` finds for `experiment` on this store, without
        raising: every problem of :meth:`check_sql_metrics` (the source combinations this
        store runs, the read-only checks, a ``LIMIT 0`` run of each query on the server), in
        the shape of :func:`splitlab.store.sql_validation.validate_sql_metrics`."""
        paths = sql_metric_paths(experiment)
        try:
            check_sql_metrics(experiment, self.sources, self._client)
        except ConfigError as exc:
            return SqlValidation(exc.problems, len(paths), True)
        return SqlValidation([], len(paths), True)

    # ------------------------------------------------------------------ a server's reads

    def read(
        self, sql: str, params: Mapping[str, object] | None = None
    ) -> tuple[list[str], list[list[Any]]]:
        """Run the SELECT `sql` once everything acknowledged so far is loaded (as a summary
        does); its column names and rows (the dashboard's counts:
        :mod:`.progress_sql`)."""
        self.flush()
        return self._client.query(sql, params)

    def health(self) -> dict[str, Any]:
        """The loader as ``/healthz`` shows it: ``available`` is False while the last load
        pass failed (ClickHouse unreachable or refusing rows; the log keeps the events) or
        the loader stopped; ``loaded`` is whether every acknowledged event is in ClickHouse."""
        error = self._loads.fatal or self._loads.last_error
        found: dict[str, Any] = {
            "available": error is None,
            "loaded": self._loader.position >= self._log.durable_position,
        }
        if error is not None:
            found["error"] = str(error).splitlines()[0][:300]
        return found
