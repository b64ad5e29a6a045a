"""The API's check of SQL metrics: with a source catalog, creating or replacing a definition
dry-runs each query on its source and refuses a bad one with a 422 naming the metric; without
one, the syntax is still checked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from fastapi.testclient import TestClient

from splitlab.config.sources import FilesSource, FileTable, PostgresSource, SourceCatalog
from splitlab.server.app import create_app
from splitlab.server.context import ServerContext
from splitlab.store import DuckDBStore

from .server_helpers import Api, small

GOOD = "SELECT u AS unit_id, t AS timestamp, v AS value FROM orders"


@pytest.fixture
def sql_api(tmp_path: Path) -> Iterator[Api]:
    """A server whose store has a catalog: a Parquet table and a PostgreSQL that is down."""
    table = pa.table({"u": ["a"], "t": [datetime(2026, 3, 1)], "v": [1.0]})
    pq.write_table(table, tmp_path / "orders.parquet")
    catalog = SourceCatalog(
        sources={
            "lake": FilesSource(type="files", tables={
                "orders": FileTable(path=str(tmp_path / "orders.parquet"), format="parquet")}),
            "down": PostgresSource(type="postgresql",
                                   dsn="postgresql://postgres@127.0.0.1:1/postgres"),
        }
    )  # fmt: skip
    store = DuckDBStore(tmp_path / "splitlab.duckdb", load_interval_s=0.05, sources=catalog)
    ctx = ServerContext.open(store)
    try:
        admin = ctx.keys.create("admin", "tests").secret
        sdk = ctx.keys.create("sdk", "web").secret
        with TestClient(create_app(ctx), base_url="http://testserver") as client:
            yield Api(client, ctx, admin, sdk)
    finally:
        store.close()


def with_sql(query: str, source: str = "lake", experiment_id: str = "exp-sql") -> dict[str, Any]:
    raw = small(experiment_id)
    raw["metrics"]["secondary"] = [
        {"name": "revenue", "type": "continuous", "sql": {"source": source, "query": query}}
    ]
    return raw


def test_a_good_sql_metric_is_created_and_replaced(sql_api: Api) -> None:
    r = sql_api.client.post("/v1/experiments", json=with_sql(GOOD), headers=sql_api.admin)
    assert r.status_code == 201, r.text
    assert r.json()["metrics"]["secondary"][0]["sql"] == {"source": "lake", "query": GOOD}
    bad = with_sql("SELECT u AS unit_id FROM orders")
    r = sql_api.client.put("/v1/experiments/exp-sql", json=bad, headers=sql_api.admin)
    assert r.status_code == 422
    [detail] = r.json()["error"]["details"]
    assert detail["path"] == "$.metrics.secondary[0].sql.query"
    assert detail["expected"].startswith("exactly the columns unit_id, timestamp, value")


@pytest.mark.parametrize(
    ("query", "source", "path", "expected"),
    [
        ("DELETE FROM orders", "lake", "sql.query", "a SELECT statement, not DELETE"),
        ("SELECT * FROM read_csv('/etc/passwd')", "lake", "sql.query", "not a table function"),
        ("SELECT * FROM payments", "lake", "sql.query", "one of the source's tables: orders"),
        ("SELECT u AS unit_id, 1 AS timestamp, v AS value FROM orders", "lake", "sql.query",
         "a date-time type"),
        (GOOD, "warehouse", "sql.source", "a source of the catalog: down, lake"),
        ("SELECT 1 AS unit_id, now() AS timestamp, 1 AS value", "down", "sql.query",
         "source 'down' (postgresql)"),
    ],
)  # fmt: skip
def test_bad_sql_metrics_are_a_422_naming_the_metric(
    sql_api: Api, query: str, source: str, path: str, expected: str
) -> None:
    r = sql_api.client.post("/v1/experiments", json=with_sql(query, source), headers=sql_api.admin)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_definition"
    [detail] = error["details"]
    assert detail["path"] == f"$.metrics.secondary[0].{path}"
    assert expected in detail["expected"]
    assert sql_api.client.get("/v1/experiments/exp-sql", headers=sql_api.admin).status_code == 404


def test_without_a_catalog_the_syntax_is_checked(api: Api) -> None:
    r = api.client.post("/v1/experiments", json=with_sql(GOOD), headers=api.admin)
    assert r.status_code == 201, r.text
    r = api.client.post(
        "/v1/experiments", json=with_sql("DROP TABLE orders", experiment_id="exp-drop"),
        headers=api.admin,
    )  # fmt: skip
    assert r.status_code == 422
    [detail] = r.json()["error"]["details"]
    assert detail["path"] == "$.metrics.secondary[0].sql.query"
