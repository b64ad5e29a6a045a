"""The same SQL metric data gives the same sums on both stores: a Parquet file read by the
DuckDB store's ``files`` source, and a ClickHouse table read by the ClickHouse store."""

from __future__ import annotations

from pathlib import Path

import pytest

from splitlab.config.sources import ClickHouseSource, FilesSource, SourceCatalog
from splitlab.store import DuckDBStore
from splitlab.store.clickhouse import ClickHouseStore, LocalServer
from splitlab.store.clickhouse.http import ClickHouseClient
from tests.clickhouse.sql_metric_data import CUTOFF, ORDERS_QUERY, experiment, orders


def test_duckdb_and_clickhouse_give_the_same_sums(clickhouse: LocalServer, tmp_path: Path) -> None:
    data = orders(seed=15, n=300)
    data.write_parquet(tmp_path / "orders.parquet")
    client = ClickHouseClient(clickhouse.url)
    data.create_table(client, "paritysql")
    lake = FilesSource.model_validate(
        {"type": "files", "tables": {"orders": {"path": str(tmp_path / "orders.parquet")}}}
    )
    duck = DuckDBStore(
        tmp_path / "events.duckdb",
        load_interval_s=0.05,
        sources=SourceCatalog(sources={"lake": lake}),
    )
    house = ClickHouseStore(
        clickhouse.url,
        tmp_path / "log",
        database="paritysqlstore",
        load_interval_s=0.05,
        sources=SourceCatalog(sources={"house": ClickHouseSource(type="clickhouse")}),
    )
    try:
        exposures = [e for e in data.events("shop") if e.type == "exposure"]
        duck.ingest(exposures)
        house.ingest(exposures)
        on_duck = {"source": "lake", "query": ORDERS_QUERY.replace("{db}.", "")}
        on_house = {"source": "house", "query": ORDERS_QUERY.format(db="paritysql")}
        for cutoff in (CUTOFF, None):
            d = duck.summary(experiment("shop", on_duck), cutoff)
            h = house.summary(experiment("shop", on_house), cutoff)
            assert [c.to_dict() for c in h.capping] == [c.to_dict() for c in d.capping]
            assert h.capping and h.capping[0].value is not None
            for name, arms in d.metrics.items():
                for arm, sums in arms.items():
                    got, want = h.metrics[name][arm].to_dict(), sums.to_dict()
                    assert got.pop("n") == want.pop("n") > 100
                    assert got.pop("covariate", {}) == pytest.approx(
                        want.pop("covariate", {}), rel=1e-12
                    )
                    assert got == pytest.approx(want, rel=1e-12)
    finally:
        house.close()
        duck.close()
        client.close()
