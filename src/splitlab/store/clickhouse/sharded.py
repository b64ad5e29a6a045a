"""The ClickHouse store over a sharded cluster: rows sharded by unit, sums added per shard.

Layout (docs/clickhouse.md, "A sharded cluster"): every shard holds the same local tables as
a single server (:data:`.schema.SCHEMA`); the first address (the entry) also holds a
``Distributed`` table over each, ``exposures_all`` and ``metric_events_all``, whose sharding
key is ``cityHash64(unit_id)``. Every row of a unit therefore lives on one shard, and with it
everything the summary computes per unit: deduplication by ``event_id`` (a retried event has
the same unit, so it lands on the same shard and ``FINAL`` merges it there), the first
exposure, the per-unit metric values and the CUPED covariate (events of any experiment, same
unit).

Loading: the loader inserts through the ``Distributed`` tables with
``insert_distributed_sync = 1``, so an insert returns only once every shard has written its
rows; a shard that is down fails the insert, and the loader retries it (deduplication makes
a repeat harmless). Its restart marker lives on every shard: one restarted shard makes the
loader load everything unrecorded again.

Reading: the default ``distributed_product_mode`` refuses the summary's joins of two
``Distributed`` tables, and the per-unit subqueries would not be local anyway; since no unit
spans two shards, the store runs the single-server queries on each shard's local tables (in
parallel) and combines the answers in Python:

* sums over units (the summary, data quality, a bandit's per-batch sums, per-weights-version
  sums) are added: :class:`~splitlab.stats.sums.ExperimentSums` with ``+``, rows by key
  (:mod:`.sharded_merge`);
* grouped rows coarser than a unit are added per group (:func:`.sharded_merge.added`): the
  quantile metrics' sketch buckets and clustered sums (thresholds from the added sketches),
  retention curves and survival tables, a canary's buckets, interval moments and step totals;
* cluster and switchback designs from per-cluster and per-cell partial totals
  (:mod:`.sharded_designs`), percentile caps as an exact order statistic over the shards
  (:mod:`.sharded_caps`).
"""

from __future__ import annotations

import functools
import logging
import operator
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from splitlab.config.adaptive import CanaryMetric
from splitlab.config.models import Experiment
from splitlab.stats.capping import AppliedCap
from splitlab.stats.intervals import CanaryData
from splitlab.stats.sums import ExperimentSums, SliceSums
from splitlab.stats.switchback import cell_sums
from splitlab.stats.switchback_cells import SwitchbackCells
from splitlab.store.bandit_sql import BanditData, bandit_data_from_rows
from splitlab.store.base import DataQuality
from splitlab.store.canary_sql import canary_data, plan_canary, sketches_from_rows, thresholds
from splitlab.store.capping_sql import refuse_caps
from splitlab.store.clickhouse.bandit_sql import plan_clickhouse_bandit
from splitlab.store.clickhouse.canary_sql import clickhouse_buckets_sql, clickhouse_sql
from splitlab.store.clickhouse.connection import Connection, connect
from splitlab.store.clickhouse.http import ClickHouseError, identifier
from splitlab.store.clickhouse.loader import ClickHouseLoader, P, SettlingLoader
from splitlab.store.clickhouse.local import LocalServer, free_port
from splitlab.store.clickhouse.quantile_sql import quantile_sums
from splitlab.store.clickhouse.schema import EXPOSURES, METRIC_EVENTS
from splitlab.store.clickhouse.sharded_caps import sharded_caps
from splitlab.store.clickhouse.sharded_designs import (
    cluster_counts,
    cluster_summary,
    switchback_runner,
)
from splitlab.store.clickhouse.sharded_merge import Fanout, added
from splitlab.store.clickhouse.sql import (
    as_grouping_rows,
    data_quality_sql,
    plan_clickhouse_summary,
)
from splitlab.store.clickhouse.sql_metric import READ_ONLY, has_sql
from splitlab.store.clickhouse.store import ClickHouseStore
from splitlab.store.clickhouse.survival_sql import clickhouse_curve, clickhouse_time_to_event
from splitlab.store.clickhouse.switchback_sql import plan_clickhouse_cells
from splitlab.store.clickhouse.versions_sql import plan_clickhouse_versions
from splitlab.store.log import AppendLog, Position
from splitlab.store.summary_sql import cutoff_millis, sums_from_rows
from splitlab.store.survival_sql import survival_sums
from splitlab.store.switchback_sql import CellResult, read_cells
from splitlab.store.versions_sql import versions_from_rows

logger = logging.getLogger(__name__)

#: The ``Distributed`` tables on the entry server, by local table.
DISTRIBUTED = {EXPOSURES: "exposures_all", METRIC_EVENTS: "metric_events_all"}
#: The sharding key: every row of one randomisation unit on one shard.
SHARDING_KEY = "cityHash64(unit_id)"


def distributed_ddl(db: str, cluster: str) -> list[str]:
    """The ``Distributed`` tables over the local tables (run on the entry server)."""
    return [
        f"CREATE TABLE IF NOT EXISTS {db}.{name} AS {db}.{local} "
        f"ENGINE = Distributed({cluster}, {db}, {local}, {SHARDING_KEY})"
        for local, name in DISTRIBUTED.items()
    ]


class ShardedTables(SettlingLoader[P]):
    """Mixed into a loader (of the store's log, or of a Kafka topic: :mod:`.kafka_loader`):
    rows go through the entry's ``Distributed`` tables, every shard gets a restart marker."""

    tables: ClassVar[tuple[str, str]] = (DISTRIBUTED[EXPOSURES], DISTRIBUTED[METRIC_EVENTS])
    insert_settings: ClassVar[Mapping[str, str]] = {"insert_distributed_sync": "1"}
    _shards: list[Connection]
    _cluster: str

    def _use_shards(self, shards: Sequence[Connection], cluster: str) -> None:
        self._shards = list(shards)
        self._cluster = identifier(cluster)

    def ensure_schema(self) -> None:
        """The local tables on every shard, the entry's own tables (it may be outside the
        shards), then the ``Distributed`` tables on the entry."""
        for shard in self._shards:
            self._ensure_tables(shard)
        super().ensure_schema()
        for statement in distributed_ddl(self._db, self._cluster):
            self._client.execute(statement)

    def _marked_servers(self) -> list[Connection]:
        """A marker on every shard: any restarted shard makes the loader load again."""
        return self._shards

    def close(self) -> None:
        super().close()
        for shard in self._shards:
            shard.close()


class ShardedLoader(ShardedTables[Position], ClickHouseLoader):
    """Loads the log through the entry's ``Distributed`` tables; marks every shard."""

    def __init__(
        self,
        entry: Connection,
        shards: Sequence[Connection],
        db: str,
        cluster: str,
        log: AppendLog,
        *,
        settle_s: float = 60.0,
    ) -> None:
        super().__init__(entry, db, log, settle_s=settle_s)
        self._use_shards(shards, cluster)


class ShardedClickHouseStore(ClickHouseStore):
    """The store over a cluster: `shards` are the shards' addresses (the first is the entry,
    which holds the ``Distributed`` tables), `cluster` the ``remote_servers`` name that lists
    them in the same order."""

    def __init__(
        self,
        shards: Sequence[str],
        log_dir: Path | str,
        *,
        cluster: str,
        user: str = "default",
        password: str = "",
        **options: Any,
    ) -> None:
        if len(shards) < 1:
            raise ClickHouseError("shards: expected at least one shard address")
        self._shard_urls = list(shards)
        self._cluster = identifier(cluster)
        super().__init__(shards[0], log_dir, user=user, password=password, **options)
        self._shards = [connect(url, user=user, password=password) for url in shards]
        self._pool = ThreadPoolExecutor(len(shards), thread_name_prefix="splitlab-shard")
        self._fan = Fanout(self._shards, self._pool)

    def _new_loader(self, url: str, user: str, password: str, settle_s: float) -> ClickHouseLoader:
        shards = [connect(u, user=user, password=password) for u in self._shard_urls]
        return ShardedLoader(
            connect(url, user=user, password=password),
            shards,
            self.database,
            self._cluster,
            self._log,
            settle_s=settle_s,
        )

    def summary(
        self,
        experiment: Experiment,
        cutoff: datetime | None = None,
        segment: str | Sequence[str] | None = None,
        *,
        known_caps: Mapping[tuple[str, str], float] | None = None,
    ) -> ExperimentSums:
        """The single-server summary on every shard, added (see the module's notes); cluster
        and switchback designs from partial totals (:mod:`.sharded_designs`), percentile caps
        found over every shard first (:mod:`.sharded_caps`)."""
        if experiment.is_switchback:
            refuse_caps(experiment, "a switchback design")
            return cell_sums(experiment, self.switchback_cells(experiment, cutoff))
        segments = [segment] if isinstance(segment, str) else list(segment or [])
        self.flush()
        millis = cutoff_millis(cutoff)
        db, dedup, fan = self.database, self._dedup, self._reading(experiment)
        if experiment.is_cluster:
            refuse_caps(experiment, "a cluster design")
            entry = self._client.query
            return cluster_summary(fan, entry, db, experiment, millis, segments, dedup)
        caps = sharded_caps(fan, db, experiment, millis, dedup, known_caps)
        plan = plan_clickhouse_summary(db, experiment, millis, segments, dedup, caps)
        parts = []
        for columns, rows in fan.each(plan.sql, plan.params):
            names, shaped = as_grouping_rows(plan, columns, rows)
            parts.append(sums_from_rows(experiment, plan, names, shaped))
        sums = functools.reduce(operator.add, parts)
        if plan.caps:
            sums = replace(sums, capping=added_caps(parts))
        quantiles = fan.adding("i", "variant", "sg", "bkey")
        sums = quantile_sums(db, experiment, sums, millis, dedup, quantiles)
        return survival_sums(
            experiment,
            sums,
            plan.metrics,
            millis,
            fan.adding("i", "slice", "label", "variant", "ms", "k", "d"),
            segments,
            curve=partial(clickhouse_curve, db, dedup),
            time_to_event=partial(clickhouse_time_to_event, db, dedup),
        )

    def _reading(self, experiment: Experiment) -> Fanout:
        """How `experiment`'s sums are read: a SQL metric's query runs on every shard, after
        :meth:`check_sql_metrics`, read-only (as on one server)."""
        if not has_sql(experiment):
            return self._fan
        self.check_sql_metrics(experiment)
        return self._fan.with_settings(READ_ONLY)

    def data_quality(self, experiment: Experiment, cutoff: datetime | None = None) -> DataQuality:
        """The single-server counts on every shard, added (every count is per unit or per
        event); a cluster design's clusters counted over the shards' per-cluster rows."""
        if experiment.is_switchback:
            return self._switchback(experiment, cutoff).quality
        self.flush()
        millis = cutoff_millis(cutoff)
        params = {"exp": experiment.experiment_id, "cutoff": millis}
        sql = data_quality_sql(self.database, self._dedup, experiment.is_cluster)
        _, rows = self._fan.adding()(sql, params)
        totals = [int(v) for v in rows[0]]
        if experiment.is_cluster:  # clusters span shards: counted over per-cluster rows
            multi, clusters = cluster_counts(self._fan, self.database, experiment, millis)
            totals[4], totals[8] = multi, clusters
        return DataQuality(experiment.experiment_id, *totals)

    def switchback_cells(
        self, experiment: Experiment, cutoff: datetime | None = None
    ) -> SwitchbackCells:
        """The cell table of a switchback, from every shard's cell rows
        (:func:`.sharded_designs.switchback_runner`)."""
        return self._switchback(experiment, cutoff).cells

    def _switchback(self, experiment: Experiment, cutoff: datetime | None) -> CellResult:
        self.flush()
        millis = int(time.time() * 1000) if cutoff is None else cutoff_millis(cutoff)
        plan = plan_clickhouse_cells(self.database, experiment, millis, self._dedup)
        return read_cells(experiment, plan, millis, switchback_runner(self._fan, plan))

    def bandit_data(
        self, experiment: Experiment, boundaries: Sequence[int], cutoff: datetime
    ) -> BanditData:
        """A bandit's per-batch sums: each shard's rows (batch, variant, units, n, s, ss)
        added by (batch, variant), every column after the key being a count or a sum."""
        self.flush()
        millis = cutoff_millis(cutoff)
        plan = plan_clickhouse_bandit(self.database, experiment, boundaries, millis, self._dedup)
        rows = added((rows for _, rows in self._fan.each(plan.sql, plan.params)), 2)
        return bandit_data_from_rows(experiment, plan, rows, boundaries, millis)

    def canary_intervals(
        self,
        experiment: Experiment,
        metrics: Sequence[CanaryMetric],
        *,
        start: datetime,
        end: datetime,
        interval_seconds: int,
    ) -> CanaryData:
        """One canary judgment's data: the single-server queries on every shard, their rows
        added per (event, interval, variant, bucket), per (event, interval, variant) and per
        (event, variant) (a unit is on one shard); the thresholds from the added sketches."""
        plan = plan_canary(experiment, metrics, start, end, interval_seconds)
        if not plan.events:
            return CanaryData({}, {}, {})
        self.flush()
        run = self._fan.adding("e", "k", "variant", "sg", "b")
        buckets: list[list[Any]] = []
        if plan.sketch_events:
            _, buckets = run(clickhouse_buckets_sql(self.database, plan, self._dedup), plan.params)
        sketches = sketches_from_rows(experiment, buckets)
        found = thresholds(metrics, sketches, experiment.variant_names)
        moments_sql, step_sql, params = clickhouse_sql(self.database, plan, found, self._dedup)
        _, moments = run(moments_sql, params)
        _, step = run(step_sql, params)
        return canary_data(experiment, metrics, moments, step, sketches, found)

    def weights_version_sums(
        self, experiment: Experiment, boundaries: Sequence[int], cutoff: datetime | None = None
    ) -> list[SliceSums]:
        """Units and sums per weights version: each shard's, added version by version."""
        refuse_caps(experiment, "the per-weights-version sums (weights changed while running)")
        self.flush()
        millis = cutoff_millis(cutoff)
        plan = plan_clickhouse_versions(self.database, experiment, millis, boundaries, self._dedup)
        parts = [
            versions_from_rows(experiment, plan, boundaries, columns, rows)
            for columns, rows in self._reading(experiment).each(plan.sql, plan.params)
        ]
        return [functools.reduce(operator.add, same) for same in zip(*parts, strict=True)]

    def close(self) -> None:
        super().close()
        self._pool.shutdown()
        for shard in self._shards:
            shard.close()


def added_caps(parts: Sequence[ExperimentSums]) -> tuple[AppliedCap, ...]:
    """The caps applied on every shard (the same values, passed to each) with the units they
    touched added per arm."""
    out = []
    for same in zip(*(part.capping for part in parts), strict=True):
        touched: dict[str, int] = {}
        for cap in same:
            for arm, count in cap.touched.items():
                touched[arm] = touched.get(arm, 0) + count
        out.append(replace(same[0], touched=touched))
    return tuple(out)


def cluster_config(name: str, tcp_ports: Sequence[int]) -> str:
    """A ``remote_servers`` element: cluster `name`, one shard of one replica per port on
    127.0.0.1 (no ZooKeeper: no replication)."""
    shards = "".join(
        f"<shard><replica><host>127.0.0.1</host><port>{port}</port></replica></shard>"
        for port in tcp_ports
    )
    return f"\n  <remote_servers><{name}>{shards}</{name}></remote_servers>"


class LocalCluster:
    """`shards` throwaway ``clickhouse-server`` processes on loopback, each listing all of
    them as cluster `name` (for tests, benchmarks and trials; not a production setup)."""

    def __init__(self, directory: Path | str, shards: int = 2, name: str = "splitlab") -> None:
        self.name = identifier(name)
        ports = [free_port() for _ in range(shards)]
        config = cluster_config(self.name, ports)
        self.servers = [
            LocalServer(Path(directory) / f"shard{k}", tcp_port=port, extra_config=config)
            for k, port in enumerate(ports)
        ]

    @property
    def urls(self) -> list[str]:
        """The shards' HTTP addresses (the first is the entry)."""
        return [server.url for server in self.servers]

    def start(self) -> None:
        """Start every shard (all stopped again if one fails)."""
        try:
            for server in self.servers:
                server.start()
        except ClickHouseError:
            self.stop()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every shard."""
        for server in self.servers:
            server.stop(timeout)

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
