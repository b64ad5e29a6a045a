"""A conversion query over PostgreSQL that returns no value: PostgreSQL types a bare
``NULL AS value`` as text, so the dry run refuses it and says how to write it
(``NULL::float8``), which then passes and loads each row as a value-less event."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from splitlab.config.sources import PostgresSource
from splitlab.store.sql_sources import SqlRun, dry_run, fetch_rows
from tests.postgres import PostgresServer, running_postgres

WHERE = "$.metrics.secondary[0]"


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    import psycopg

    with running_postgres() as server:
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE orders (u text, t timestamp)")
            conn.execute("INSERT INTO orders VALUES ('a', '2026-01-01 00:00:00')")
        yield server


def run(server: PostgresServer, value: str) -> SqlRun:
    source = PostgresSource(type="postgresql", dsn=server.dsn)
    query = f"SELECT u AS unit_id, t AS timestamp, {value} AS value FROM orders"
    return SqlRun(WHERE, "pg", source, query)


def test_a_bare_null_value_is_refused_with_the_cast_to_write(postgres: PostgresServer) -> None:
    [problem] = dry_run(run(postgres, "NULL"))
    assert str(problem) == (
        f"{WHERE}.sql.query: expected a column value that is a number or NULL (in PostgreSQL a bare NULL "
        'is text: write NULL::float8 AS value) (got "value of type text")'
    )


def test_a_typed_null_value_passes_and_loads(postgres: PostgresServer) -> None:
    assert dry_run(run(postgres, "NULL::float8")) == []
    [row] = fetch_rows(run(postgres, "NULL::float8"), 0, 2**53).to_pylist()
    assert row["unit_id"] == "a" and row["ts"] == 1767225600000
