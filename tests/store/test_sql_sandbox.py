"""The runners' own walls, tested with the parser's checks bypassed: a files source's DuckDB
reads its catalog's files and nothing else and cannot be unlocked; a PostgreSQL source runs in
a read-only transaction with a statement timeout; every failure names the metric."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from splitlab.config.sources import FilesSource, FileTable, PostgresSource
from splitlab.store.sql_sources import (
    SqlRun,
    SqlSourceError,
    dry_run,
    fetch_rows,
    files_sandbox,
)
from tests.postgres import PostgresServer, running_postgres

WHERE = "$.metrics.secondary[0]"
MAX = 2**53


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two Parquet tables (one as a glob of two files), a CSV one, and a secret file beside
    them that the catalog does not name."""
    root = tmp_path_factory.mktemp("lake")
    stamps = [datetime(2026, 1, 1, 0, 0, 0, 1000 * i) for i in range(3)]  # ms 0, 1, 2
    pq.write_table(pa.table({"u": ["a", "b", "c"], "t": stamps, "v": [1.0, 2.0, None]}),
                   root / "orders.parquet")  # fmt: skip
    (root / "parts").mkdir()
    for i in range(2):
        pq.write_table(pa.table({"u": [f"p{i}"], "t": [stamps[0]], "v": [float(i)]}),
                       root / "parts" / f"part-{i}.parquet")  # fmt: skip
    (root / "visits.csv").write_text("u,t,v\nx,2026-01-01T02:00:00+02:00,5\n")
    (root / "secret.csv").write_text("password\nhunter2\n")
    source = FilesSource(
        type="files",
        tables={
            "orders": FileTable(path=str(root / "orders.parquet"), format="parquet"),
            "parts": FileTable(path=str(root / "parts" / "*.parquet"), format="parquet"),
            "visits": FileTable(path=str(root / "visits.csv"), format="csv"),
        },
    )
    return {"root": root, "source": source}


def run(lake: dict[str, Any], query: str) -> SqlRun:
    return SqlRun(WHERE, "lake", lake["source"], query)


SELECT = "SELECT u AS unit_id, t AS timestamp, v AS value FROM "


def test_rows_come_back_as_arrow_with_utc_epoch_milliseconds(lake: dict[str, Any]) -> None:
    rows = fetch_rows(run(lake, SELECT + "orders"), 0, MAX)
    epoch = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)
    assert rows.schema.names == ["unit_id", "ts", "value"]
    # a NULL value counts 1, as a metric event without a value
    assert rows.to_pylist() == [
        {"unit_id": "a", "ts": epoch, "value": 1.0},
        {"unit_id": "b", "ts": epoch + 1, "value": 2.0},
        {"unit_id": "c", "ts": epoch + 2, "value": 1.0},
    ]
    # the range is inclusive at both ends, in milliseconds
    assert fetch_rows(run(lake, SELECT + "orders"), epoch + 1, epoch + 1).column(0).to_pylist() == [
        "b"
    ]
    # a TIMESTAMP WITH TIME ZONE is converted: 02:00+02:00 is midnight UTC
    [visit] = fetch_rows(run(lake, SELECT + "visits"), 0, MAX).to_pylist()
    assert visit["ts"] == epoch
    globbed = fetch_rows(run(lake, SELECT + "parts ORDER BY u"), 0, MAX)
    assert globbed.column(0).to_pylist() == ["p0", "p1"]


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_csv('{root}/secret.csv')",
        "SELECT * FROM '{root}/secret.csv'",
        "SELECT * FROM read_csv('{root}/parts/../secret.csv')",
        "SELECT * FROM glob('/etc/*')",
    ],
)
def test_files_outside_the_catalog_cannot_be_read(lake: dict[str, Any], query: str) -> None:
    text = query.format(root=lake["root"])
    with pytest.raises(SqlSourceError) as raised:
        fetch_rows(run(lake, text), 0, MAX)
    assert str(raised.value).startswith(f"{WHERE}.sql.query: expected a query that runs on")
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    "statement",
    [
        "SET enable_external_access = true",
        "SET allowed_paths = ['/etc/passwd']",
        "SET lock_configuration = false",
        "RESET enable_external_access",
        "COPY (SELECT 1) TO '{root}/written.csv'",
        "ATTACH '{root}/other.duckdb' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
    ],
)
def test_the_sandbox_cannot_be_unlocked_or_write_files(
    lake: dict[str, Any], statement: str
) -> None:
    with files_sandbox(lake["source"]) as con:
        with pytest.raises(Exception):  # noqa: B017 - DuckDB's error classes vary per statement
            con.execute(statement.format(root=lake["root"]))
        with pytest.raises(Exception):  # noqa: B017
            con.execute("SELECT * FROM read_csv('/etc/passwd')").fetchall()
    assert not (lake["root"] / "written.csv").exists()
    assert not (lake["root"] / "other.duckdb").exists()


def test_dry_run_reports_columns_and_types(lake: dict[str, Any]) -> None:
    assert dry_run(run(lake, SELECT + "orders")) == []
    [missing] = dry_run(run(lake, "SELECT u AS unit_id, t AS timestamp FROM orders"))
    assert missing.path == f"{WHERE}.sql.query"
    assert missing.value == "unit_id, timestamp"
    assert missing.expected.startswith("exactly the columns unit_id, timestamp, value")
    [epoch] = dry_run(run(lake, "SELECT u AS unit_id, 1 AS timestamp, v AS value FROM orders"))
    assert "date-time type" in epoch.expected and epoch.value == "timestamp of type int32"
    [text] = dry_run(run(lake, "SELECT u AS unit_id, t AS timestamp, u AS value FROM orders"))
    assert text.expected == "a column value that is a number or NULL"
    [unknown] = dry_run(run(lake, "SELECT * FROM nowhere"))
    assert "Table with name nowhere does not exist" in unknown.expected


def test_missing_files_are_named(tmp_path: Path) -> None:
    source = FilesSource(type="files", tables={"t": FileTable(path=str(tmp_path / "gone.parquet"))})
    [problem] = dry_run(SqlRun(WHERE, "lake", source, "SELECT 1"))
    assert problem.path == f"{WHERE}.sql.source"
    assert "gone.parquet" in problem.expected


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    import psycopg

    with running_postgres() as server:
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE orders (u text, t timestamp, v numeric)")
            conn.execute("INSERT INTO orders VALUES ('a', '2026-01-01 00:00:00.001', 2.5)")
            conn.execute("CREATE SEQUENCE counter")
        yield server


def pg_run(server: PostgresServer, query: str, dsn: str | None = None) -> SqlRun:
    source = PostgresSource(type="postgresql", dsn=dsn or server.dsn)
    return SqlRun(WHERE, "pg", source, query)


def test_postgresql_rows_and_the_percent_sign(postgres: PostgresServer) -> None:
    query = SELECT + "orders WHERE u LIKE 'a%'"
    [row] = fetch_rows(pg_run(postgres, query), 0, MAX).to_pylist()
    assert row == {"unit_id": "a", "ts": 1767225600001, "value": 2.5}
    assert dry_run(pg_run(postgres, query)) == []


def test_postgresql_runs_read_only(postgres: PostgresServer) -> None:
    import psycopg

    query = "SELECT u AS unit_id, t AS timestamp, nextval('counter') AS value FROM orders"
    with pytest.raises(SqlSourceError) as raised:
        fetch_rows(pg_run(postgres, query), 0, MAX)
    assert "read-only transaction" in str(raised.value)
    with psycopg.connect(postgres.dsn) as conn:
        assert conn.execute("SELECT last_value, is_called FROM counter").fetchone() == (1, False)


def test_postgresql_statement_timeout(postgres: PostgresServer) -> None:
    query = "SELECT u AS unit_id, t AS timestamp, v AS value FROM orders, pg_sleep(5)"
    with pytest.raises(SqlSourceError) as raised:
        fetch_rows(pg_run(postgres, query), 0, MAX, timeout_s=0.2)
    assert "statement timeout" in str(raised.value)


def test_postgresql_down_is_a_clear_error(postgres: PostgresServer) -> None:
    closed = "postgresql://postgres@127.0.0.1:1/postgres"
    [problem] = dry_run(pg_run(postgres, "SELECT 1", dsn=closed))
    assert problem.path == f"{WHERE}.sql.query"
    assert "source 'pg' (postgresql)" in problem.expected
    assert "Connection refused" in problem.expected or "connection failed" in problem.expected


def test_a_files_query_is_interrupted_at_its_time_limit(lake: dict[str, Any]) -> None:
    slow = (
        "SELECT 'x' AS unit_id, TIMESTAMP '2026-01-01' AS timestamp, "
        "sum(a.range * b.range) AS value FROM range(100000000) a, range(100000) b"
    )
    with pytest.raises(SqlSourceError) as raised:
        fetch_rows(run(lake, slow), 0, MAX, timeout_s=0.3)
    assert str(raised.value) == (
        f"{WHERE}.sql.query: expected a query that ends within the time limit of source 'lake'"
    )
