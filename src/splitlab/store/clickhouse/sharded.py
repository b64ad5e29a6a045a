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
spans two shards, the store runs the single-server summary on each shard's local tables (in
parallel) and adds the per-shard :class:`~splitlab.stats.sums.ExperimentSums` with ``+``.
Sums that are not additive over units are refused here: cluster and switchback designs (a
cluster's or a cell's units span shards), quantile metrics (sketch thresholds come from all
units) and capped metrics (a percentile cap is a quantile of all units). A bandit's per-batch
sums and a sticky experiment's per-weights-version sums are added the same way.
"""

from __future__ import annotations

import functools
import logging
import operator
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, NoReturn

from splitlab.config.models import Experiment
from splitlab.stats.sums import ExperimentSums, SliceSums
from splitlab.store.bandit_sql import BanditData, bandit_data_from_rows
from splitlab.store.base import DataQuality
from splitlab.store.capping_sql import refuse_caps
from splitlab.store.clickhouse.bandit_sql import plan_clickhouse_bandit
from splitlab.store.clickhouse.connection import Connection, connect
from splitlab.store.clickhouse.http import ClickHouseError, identifier
from splitlab.store.clickhouse.loader import ClickHouseLoader, P, SettlingLoader
from splitlab.store.clickhouse.local import LocalServer, free_port
from splitlab.store.clickhouse.schema import EXPOSURES, METRIC_EVENTS
from splitlab.store.clickhouse.sql import (
    as_grouping_rows,
    data_quality_sql,
    plan_clickhouse_summary,
)
from splitlab.store.clickhouse.store import ClickHouseStore
from splitlab.store.clickhouse.versions_sql import plan_clickhouse_versions
from splitlab.store.errors import StoreError
from splitlab.store.log import AppendLog, Position
from splitlab.store.quantile_sql import quantile_metrics
from splitlab.store.summary_sql import cutoff_millis, sums_from_rows
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
        """The single-server summary on every shard, added (see the module's notes)."""
        self._refuse(experiment)
        segments = [segment] if isinstance(segment, str) else list(segment or [])
        self.flush()
        plan = plan_clickhouse_summary(
            self.database, experiment, cutoff_millis(cutoff), segments, self._dedup
        )
        parts = []
        for columns, rows in self._pool.map(
            lambda shard: shard.query(plan.sql, plan.params), self._shards
        ):
            names, shaped = as_grouping_rows(plan, columns, rows)
            parts.append(sums_from_rows(experiment, plan, names, shaped))
        return functools.reduce(operator.add, parts)

    def data_quality(self, experiment: Experiment, cutoff: datetime | None = None) -> DataQuality:
        """The single-server counts on every shard, added (every count is per unit)."""
        self._refuse(experiment)
        self.flush()
        params = {"exp": experiment.experiment_id, "cutoff": cutoff_millis(cutoff)}
        sql = data_quality_sql(self.database, self._dedup, False)
        totals = [0, 0, 0, 0]
        for _, rows in self._pool.map(lambda shard: shard.query(sql, params), self._shards):
            totals = [t + int(v) for t, v in zip(totals, rows[0], strict=True)]
        return DataQuality(experiment.experiment_id, *totals)

    def _refuse(self, experiment: Experiment) -> None:
        if experiment.is_cluster or experiment.is_switchback:
            design = "a cluster design" if experiment.is_cluster else "a switchback design"
            raise StoreError(
                f"experiment {experiment.experiment_id!r}: {design} is not summed on a sharded "
                "ClickHouse (its clusters' or cells' units span shards); use one server"
            )
        refuse_caps(experiment, "a sharded ClickHouse (a percentile cap needs every unit)")
        quantiles = [m.name for _, m in quantile_metrics(experiment)]
        if quantiles:
            raise StoreError(
                f"metrics {quantiles}: quantile metrics are not summed on a sharded ClickHouse "
                "(their sketch thresholds need every unit); use one server"
            )

    def _unsupported(self, what: str) -> NoReturn:
        raise StoreError(f"{what} is not available on a sharded ClickHouse yet; use one server")

    def switchback_cells(self, experiment: Experiment, cutoff: datetime | None = None) -> Any:
        self._unsupported("the switchback cell table")

    def bandit_data(
        self, experiment: Experiment, boundaries: Sequence[int], cutoff: datetime
    ) -> BanditData:
        """A bandit's per-batch sums: each shard's rows (batch, variant, units, n, s, ss)
        added by (batch, variant), every column after the key being a count or a sum."""
        self.flush()
        millis = cutoff_millis(cutoff)
        plan = plan_clickhouse_bandit(self.database, experiment, boundaries, millis, self._dedup)
        merged: dict[tuple[Any, ...], list[Any]] = {}
        for _, rows in self._pool.map(lambda s: s.query(plan.sql, plan.params), self._shards):
            for row in rows:
                key, values = tuple(row[:2]), list(row[2:])
                old = merged.get(key)
                if old is not None:
                    values = [a + b for a, b in zip(old, values, strict=True)]
                merged[key] = values
        rows = [[*key, *values] for key, values in merged.items()]
        return bandit_data_from_rows(experiment, plan, rows, boundaries, millis)

    def canary_intervals(self, *args: Any, **kwargs: Any) -> Any:
        self._unsupported("canary judgments")

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
            for columns, rows in self._pool.map(
                lambda shard: shard.query(plan.sql, plan.params), self._shards
            )
        ]
        return [functools.reduce(operator.add, same) for same in zip(*parts, strict=True)]

    def close(self) -> None:
        super().close()
        self._pool.shutdown()
        for shard in self._shards:
            shard.close()


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
