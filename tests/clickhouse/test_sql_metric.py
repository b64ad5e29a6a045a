"""SQL metrics on the ClickHouse store: the query's rows give the same sums as the same rows
sent as events; bad queries are refused naming the metric; user SQL runs read-only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from splitlab.config.errors import ConfigError
from splitlab.config.sources import ClickHouseSource, FilesSource, SourceCatalog
from splitlab.stats.sums import ExperimentSums
from splitlab.store.clickhouse import ClickHouseStore, LocalServer
from splitlab.store.clickhouse.http import ClickHouseClient, ClickHouseError
from splitlab.store.clickhouse.sql_metric import READ_ONLY, column_kind
from tests.clickhouse.sql_metric_data import CUTOFF, ORDERS_QUERY, experiment, orders

CATALOG = SourceCatalog(
    sources={
        "house": ClickHouseSource(type="clickhouse"),
        "lake": FilesSource.model_validate(
            {"type": "files", "tables": {"orders": {"path": "/nowhere/orders.parquet"}}}
        ),
    }
)
SHOP = "sqlshop"


@pytest.fixture(scope="module")
def store(clickhouse: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A store whose ``sqlshop.orders`` table and events hold the same orders."""
    data = orders(seed=14, n=400)
    client = ClickHouseClient(clickhouse.url)
    client.execute(f"CREATE DATABASE IF NOT EXISTS {SHOP}")
    client.execute(
        f"CREATE TABLE {SHOP}.orders (buyer String, placed_at DateTime, amount Nullable(Float64))"
        " ENGINE = MergeTree ORDER BY buyer"
    )
    client.insert(f"{SHOP}.orders", data.json_rows())
    log = tmp_path_factory.mktemp("sqlmetric-log")
    house = ClickHouseStore(
        clickhouse.url, log, database="sqlmetric", load_interval_s=0.05, sources=CATALOG
    )
    house.ingest(data.events("shop"))
    yield house, client
    house.close()
    client.close()


def sql(query: str = ORDERS_QUERY.format(db=SHOP)) -> dict[str, Any]:
    return {"source": "house", "query": query}


def as_dicts(sums: ExperimentSums) -> dict[str, Any]:
    return {
        "metrics": {
            m: {a: s.to_dict() for a, s in arms.items()} for m, arms in sums.metrics.items()
        },
        "capping": [c.to_dict() for c in sums.capping],
    }


def test_sql_rows_give_the_sums_of_the_same_events(store: Any) -> None:
    house, _ = store
    for cutoff in (CUTOFF, None):
        by_events = house.summary(experiment("shop"), cutoff)
        by_sql = house.summary(experiment("shop", sql()), cutoff)
        assert as_dicts(by_sql) == as_dicts(by_events)
        revenue = by_sql.metrics["revenue"]["control"]
        assert revenue.n == 200 and revenue.sum > 0 and revenue.covariate is not None
    # A trailing semicolon, or a comment at the end, embed as well.
    by_events = as_dicts(house.summary(experiment("shop"), CUTOFF))
    for tail in (";", " -- the shop's orders"):
        query = ORDERS_QUERY.format(db=SHOP) + tail
        assert as_dicts(house.summary(experiment("shop", sql(query)), CUTOFF)) == by_events


def test_a_null_value_counts_one_and_a_null_unit_or_time_drops_the_row(store: Any) -> None:
    """As with the other sources (splitlab.store.sql_sources) and a metric event without a
    value: NULL counts 1."""
    house, _ = store
    ones = f"SELECT buyer AS unit_id, placed_at AS timestamp, 1 AS value FROM {SHOP}.orders"
    nulls = (
        f"SELECT buyer AS unit_id, placed_at AS timestamp, CAST(NULL AS Nullable(Float64)) AS value"
        f" FROM {SHOP}.orders"
        f" UNION ALL SELECT CAST(NULL AS Nullable(String)), placed_at, amount FROM {SHOP}.orders"
        f" UNION ALL SELECT buyer, CAST(NULL AS Nullable(DateTime)), amount FROM {SHOP}.orders"
    )
    by_ones = as_dicts(house.summary(experiment("shop", sql(ones)), CUTOFF))
    assert as_dicts(house.summary(experiment("shop", sql(nulls)), CUTOFF)) == by_ones


def refusal(house: ClickHouseStore, query: str, source: str = "house") -> str:
    exp = experiment("shop", {"source": source, "query": query})
    with pytest.raises(ConfigError) as caught:
        house.summary(exp, CUTOFF)
    message = str(caught.value)
    assert "$.metrics.primary.sql" in message
    return message


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SELEC buyer FROM sqlshop.orders", "SELECT"),
        ("SELECT buyer AS unit_id, placed_at AS timestamp FROM sqlshop.orders", "unit_id, timestamp, value"),
        ("SELECT buyer AS unit_id, buyer AS timestamp, amount AS value FROM sqlshop.orders",
         "date-time type"),
        ("SELECT buyer AS unit_id, toDate(placed_at) AS timestamp, amount AS value FROM sqlshop.orders",
         "timestamp of type Date"),
        ("SELECT buyer AS unit_id, placed_at AS timestamp, buyer AS value FROM sqlshop.orders",
         "value that is a number or NULL"),
        ("SELECT buyer AS unit_id, placed_at AS timestamp, amount AS value FROM sqlshop.missing",
         "sqlshop.missing doesn't exist"),
        ("INSERT INTO sqlshop.orders SELECT * FROM sqlshop.orders", "INSERT"),
        ("SELECT * FROM url('http://127.0.0.1:9/x.csv', CSV, 'unit_id String')",
         "not a table function"),
        ("SELECT * FROM file('orders.csv', CSV, 'unit_id String')", "not a table function"),
        ("SELECT * FROM remote('127.0.0.1', sqlshop.orders)", "not a table function"),
        ("SELECT buyer AS unit_id, placed_at AS timestamp, amount AS value FROM sqlshop.orders"
         " SETTINGS readonly = 0", "without SETTINGS"),
        ("SELECT buyer AS unit_id, placed_at AS timestamp, 1 AS value FROM sqlshop.orders"
         " WHERE buyer = '$USD'", "'$U'"),
    ],
)  # fmt: skip
def test_bad_queries_are_refused_naming_the_metric(store: Any, query: str, expected: str) -> None:
    house, client = store
    message = refusal(house, query)
    assert expected in message
    assert client.query(f"SELECT count() FROM {SHOP}.orders")[1][0][0] > 0


def test_sources_other_than_clickhouse_are_refused(store: Any) -> None:
    house, _ = store
    message = refusal(house, "SELECT unit_id, timestamp, value FROM orders", source="lake")
    assert "'files' source" in message and "DuckDB store" in message and "'revenue'" in message
    assert "a source of the catalog (house, lake)" in refusal(house, "SELECT 1", source="nope")


def test_check_before_a_look(store: Any) -> None:
    house, _ = store
    house.check_sql_metrics(experiment("shop", sql()))
    with pytest.raises(ConfigError, match=r"\$\.metrics\.primary\.sql\.query"):
        house.check_sql_metrics(experiment("shop", sql("SELECT 1 AS unit_id")))


def test_read_only_refuses_what_slips_past_the_parser(store: Any) -> None:
    """The lower-level path the store sends user SQL through: even a statement the parser
    would have refused cannot write, change settings or call a table function."""
    _, client = store
    before = client.query(f"SELECT count() FROM {SHOP}.orders")[1][0][0]
    for statement in (
        f"INSERT INTO {SHOP}.orders",  # with the FORMAT the client appends: an INSERT
        f"CREATE TABLE {SHOP}.sneaked ENGINE = Memory AS SELECT 1 AS x",
        f"DROP TABLE {SHOP}.orders",
        f"TRUNCATE TABLE {SHOP}.orders",
        f"ALTER TABLE {SHOP}.orders DELETE WHERE 1",
    ):
        with pytest.raises(ClickHouseError, match="readonly mode"):
            client.query(statement, {}, READ_ONLY)
    for select in (
        "SELECT * FROM url('http://127.0.0.1:9/x.csv', CSV, 'x String')",
        f"SELECT * FROM {SHOP}.orders SETTINGS readonly = 0",
    ):
        with pytest.raises(ClickHouseError, match="readonly mode"):
            client.query(select, {}, READ_ONLY)
    assert client.query(f"SELECT count() FROM {SHOP}.orders")[1][0][0] == before
    # The same INSERT without the setting would have written: the setting is what refuses it.
    client.execute(f"CREATE TABLE {SHOP}.scratch (x UInt8) ENGINE = Memory")
    client.execute(f"INSERT INTO {SHOP}.scratch SELECT 1")
    assert client.query(f"SELECT count() FROM {SHOP}.scratch")[1] == [[1]]


def test_validate_lists_every_problem_without_raising(store: Any) -> None:
    house, _ = store
    assert house.validate_sql_metrics(experiment("shop", sql())).problems == []
    found = house.validate_sql_metrics(experiment("shop", sql("SELECT 1 AS unit_id")))
    assert found.metrics == 3 and found.dry_run
    assert [p.path for p in found.problems] == [
        "$.metrics.primary.sql.query",
        "$.metrics.secondary[0].sql.query",
        "$.metrics.secondary[1].sql.query",
    ]


def test_a_datetime_of_any_time_zone_is_the_same_instant(store: Any) -> None:
    house, _ = store
    query = (
        "SELECT buyer AS unit_id, toTimeZone(placed_at, 'Asia/Tokyo') AS timestamp,"
        f" amount AS value FROM {SHOP}.orders"
    )
    assert as_dicts(house.summary(experiment("shop", sql(query)), CUTOFF)) == as_dicts(
        house.summary(experiment("shop"), CUTOFF)
    )


@pytest.mark.parametrize(
    ("type_name", "kind"),
    [
        ("LowCardinality(Nullable(String))", "text"),
        ("FixedString(16)", "text"),
        ("Nullable(UInt64)", "integer"),
        ("Decimal(10, 2)", "number"),
        ("Float32", "number"),
        ("Nullable(Nothing)", "null"),
        ("DateTime", "timestamp"),
        ("Nullable(DateTime('Europe/Berlin'))", "timestamp"),
        ("DateTime64(3)", "other"),
        ("Date", "other"),
        ("Array(String)", "other"),
    ],
)
def test_column_kinds(type_name: str, kind: str) -> None:
    assert column_kind(type_name) == kind
