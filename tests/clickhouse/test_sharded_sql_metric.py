"""A SQL metric (``clickhouse`` source, capped at a percentile) on two shards: its query runs
on every shard over the whole table there, its rows join that shard's units only, and the
sums and caps equal DuckDB's over the same rows in a Parquet file."""

from __future__ import annotations

from pathlib import Path

from splitlab.config.sources import ClickHouseSource, FilesSource, SourceCatalog
from splitlab.store import DuckDBStore
from splitlab.store.clickhouse.http import ClickHouseClient
from splitlab.store.clickhouse.sharded import LocalCluster, ShardedClickHouseStore
from tests.clickhouse.sql_metric_data import CUTOFF, ORDERS_QUERY, experiment, orders
from tests.clickhouse.test_sharded import assert_close


def test_sql_metric_on_two_shards_equals_duckdb(cluster: LocalCluster, tmp_path: Path) -> None:
    data = orders(seed=15, n=300)
    data.write_parquet(tmp_path / "orders.parquet")
    clients = [ClickHouseClient(url) for url in cluster.urls]
    for client in clients:  # the whole table on every shard
        data.create_table(client, "shsql")
    lake = FilesSource.model_validate(
        {"type": "files", "tables": {"orders": {"path": str(tmp_path / "orders.parquet")}}}
    )
    house = SourceCatalog(sources={"house": ClickHouseSource(type="clickhouse")})
    with (
        DuckDBStore(tmp_path / "events.duckdb", load_interval_s=0.05,
                    sources=SourceCatalog(sources={"lake": lake})) as duck,
        ShardedClickHouseStore(cluster.urls, tmp_path / "log", cluster="two_shards",
                               database="shsqlstore", load_interval_s=0.05,
                               sources=house) as sharded,
    ):  # fmt: skip
        exposures = [e for e in data.events("shop") if e.type == "exposure"]
        duck.ingest(exposures)
        sharded.ingest(exposures)
        on_duck = {"source": "lake", "query": ORDERS_QUERY.replace("{db}.", "")}
        on_house = {"source": "house", "query": ORDERS_QUERY.format(db="shsql")}
        for cutoff in (CUTOFF, None):
            d = duck.summary(experiment("shop", on_duck), cutoff)
            s = sharded.summary(experiment("shop", on_house), cutoff)
            assert [c.to_dict() for c in s.capping] == [c.to_dict() for c in d.capping]
            assert s.capping and s.capping[0].value is not None
            assert_close(s.to_dict(), d.to_dict())
            assert min(d.units.values()) > 100
    for client in clients:
        client.close()
