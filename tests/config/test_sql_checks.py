"""The read-only checks of SQL metric queries (sqlglot, per source dialect), the definition
rules of ``metric.sql`` and the source catalog's loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from splitlab.config import ConfigError, load_experiment
from splitlab.config.source_loading import SourcesError, load_sources, resolve_dsn
from splitlab.config.sources import (
    ClickHouseSource,
    FilesSource,
    FileTable,
    PostgresSource,
    SourceCatalog,
)
from splitlab.config.sql_checks import check_query, check_sql_metrics, check_sql_syntax

FILES = FilesSource(type="files", tables={"orders": FileTable(path="/data/o.parquet")})
POSTGRES = PostgresSource(type="postgresql", dsn="postgresql://localhost/db")
CLICKHOUSE = ClickHouseSource(type="clickhouse")
PATH = "$.metrics.secondary[0].sql.query"
GOOD = "SELECT user_id AS unit_id, ts AS timestamp, amount AS value FROM orders"


def problems(query: str, source: Any = FILES) -> list[str]:
    return [str(p) for p in check_query(query, source, PATH)]


@pytest.mark.parametrize(
    "query",
    [
        GOOD,
        GOOD + ";",
        f"WITH o AS ({GOOD}) SELECT * FROM o",
        f"{GOOD} UNION ALL {GOOD}",
        "SELECT o.user_id AS unit_id, o.ts AS timestamp, NULL AS value FROM orders o "
        "JOIN (SELECT user_id FROM orders GROUP BY 1) f USING (user_id)",
        "FROM orders SELECT user_id AS unit_id, ts AS timestamp, 1 AS value",
    ],
)
def test_read_only_selects_over_the_catalog_tables_pass(query: str) -> None:
    assert problems(query) == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("INSERT INTO orders VALUES (1)", "a SELECT statement, not INSERT"),
        ("DELETE FROM orders", "a SELECT statement, not DELETE"),
        ("UPDATE orders SET amount = 0", "a SELECT statement, not UPDATE"),
        ("CREATE TABLE x AS SELECT 1", "a SELECT statement, not CREATE"),
        ("DROP TABLE orders", "a SELECT statement, not DROP"),
        ("COPY orders TO '/tmp/x.csv'", "a SELECT statement, not COPY"),
        ("ATTACH '/tmp/x.db' AS x", "a SELECT statement, not ATTACH"),
        ("INSTALL httpfs", "a SELECT statement, not INSTALL"),
        ("LOAD httpfs", "a SELECT statement, not LOAD"),
        ("PRAGMA version", "a SELECT statement, not PRAGMA"),
        ("SET enable_external_access = true", "a SELECT statement, not SET"),
        ("CALL pragma_version()", "a SELECT statement, not CALL"),
        (f"{GOOD}; DROP TABLE orders", "exactly one SQL statement (found 2)"),
        ("SELECT * FROM read_csv('/etc/passwd')", "not a table function"),
        ("SELECT * FROM read_parquet('/data/*.parquet')", "not a table function"),
        ("SELECT * FROM glob('/etc/*')", "not a table function"),
        ("SELECT * FROM read_text('/etc/passwd')", "not a table function"),
        ("SELECT * FROM query('SELECT 1')", "not a table function"),
        ("SELECT * FROM orders WHERE ts > (SELECT max(x) FROM read_csv('/x'))", "table function"),
        ("SELECT * FROM '/etc/passwd'", "one of the source's tables: orders"),
        ("SELECT * FROM users", "one of the source's tables: orders"),
        ("SELECT * FROM main.orders", "an unqualified table name"),
        ("SELECT * FROM orders WHERE user_id = $1", "no query parameters"),
        ("SELECT user_id AS unit_id FROM orders WHERE", "in duckdb SQL"),
    ],
)
def test_files_source_refusals_name_the_metric_and_quote_the_part(
    query: str, expected: str
) -> None:
    found = problems(query)
    assert found, query
    assert found[0].startswith(f"{PATH}: expected ")
    assert expected in found[0]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "no DELETE"),
        ("SELECT * INTO t2 FROM t", "no SELECT ... INTO"),
        ("SELECT * FROM t FOR UPDATE", "no row locks"),
        ("SELECT pg_read_file('/etc/passwd')", "no call of pg_read_file()"),
        ("SELECT set_config('default_transaction_read_only', 'off', false)", "set_config"),
        ("COPY t TO PROGRAM 'id'", "a SELECT statement"),
    ],
)
def test_postgresql_refusals(query: str, expected: str) -> None:
    found = problems(query, POSTGRES)
    assert found and expected in found[0], found


def test_postgresql_may_read_any_schema_its_role_can() -> None:
    assert (
        problems("SELECT u AS unit_id, t AS timestamp, v AS value FROM sales.orders", POSTGRES)
        == []
    )


@pytest.mark.parametrize("function", ["url", "file", "s3", "remote", "cluster", "input"])
def test_clickhouse_refuses_table_functions(function: str) -> None:
    found = problems(f"SELECT * FROM {function}('x', 'y')", CLICKHOUSE)
    assert found and "not a table function" in found[0], found
    assert problems("SELECT u AS unit_id, t AS timestamp, v AS value FROM db.t", CLICKHOUSE) == []


def _definition(**metric: Any) -> dict[str, Any]:
    primary = {"name": "revenue", "type": "continuous",
               "sql": {"source": "lake", "query": GOOD}} | metric  # fmt: skip
    return {
        "experimentId": "sql-exp",
        "variants": ["control", "b"],
        "assignment": {"salt": "s"},
        "metrics": {"primary": primary},
    }


@pytest.mark.parametrize("kind", ["conversion", "continuous", "retention", "time_to_event"])
def test_sql_is_allowed_on_unit_level_metric_types(kind: str) -> None:
    extra: dict[str, Any] = {"type": kind}
    if kind == "retention":
        extra["retention"] = {"day": 7}
    if kind == "time_to_event":
        extra["horizonHours"] = 48
    load_experiment(_definition(**extra))


@pytest.mark.parametrize(
    "extra",
    [
        {"type": "ratio", "numerator": "a", "denominator": "b"},
        {"type": "quantile", "quantile": 0.5},
    ],
)
def test_sql_on_ratio_and_quantile_metrics_is_refused(extra: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as raised:
        load_experiment(_definition(**extra))
    [problem] = [p for p in raised.value.problems if p.path == "$.metrics.primary.sql"]
    assert f"a {extra['type']} metric cannot come from SQL yet" in problem.expected


def test_sql_in_a_switchback_design_is_refused() -> None:
    raw = _definition()
    raw["design"] = {"type": "switchback", "periodMinutes": 60}
    with pytest.raises(ConfigError) as raised:
        load_experiment(raw)
    assert any("no sql metric in a switchback design" in p.expected for p in raised.value.problems)


def test_catalog_checks_name_the_unknown_source() -> None:
    experiment = load_experiment(_definition(sql={"source": "nowhere", "query": GOOD}))
    catalog = SourceCatalog(sources={"lake": FILES, "pg": POSTGRES})
    [problem] = check_sql_metrics(experiment, catalog)
    assert problem.path == "$.metrics.primary.sql.source"
    assert problem.value == "nowhere"
    assert problem.expected == "a source of the catalog: lake, pg"


def test_without_a_catalog_the_syntax_is_still_checked() -> None:
    bad = load_experiment(_definition(sql={"source": "lake", "query": "DELETE FROM orders"}))
    [problem] = check_sql_syntax(bad)
    assert problem.path == "$.metrics.primary.sql.query"
    assert check_sql_syntax(load_experiment(_definition())) == []
    # DuckDB's own syntax, and PostgreSQL's set-returning functions, pass without a catalog
    for query in ("FROM orders SELECT user_id AS unit_id, ts AS timestamp, 1 AS value",
                  "SELECT 'u' || g AS unit_id, now() AS timestamp, g AS value "
                  "FROM generate_series(1, 3) g"):  # fmt: skip
        found = check_sql_syntax(load_experiment(_definition(sql={"source": "x", "query": query})))
        assert found == [], found


def _write(tmp_path: Path, raw: Any) -> Path:
    path = tmp_path / "sources.json"
    path.write_text(json.dumps(raw) if not isinstance(raw, str) else raw)
    return path


def test_catalog_paths_are_relative_to_the_file_and_formats_inferred(tmp_path: Path) -> None:
    raw = {"sources": {"lake": {"type": "files", "tables": {
        "orders": {"path": "data/orders.parquet"}, "visits": {"path": "/v/visits.csv.gz"},
        "raw": {"path": "x.dat", "format": "csv"}}}}}  # fmt: skip
    catalog = load_sources(_write(tmp_path, raw))
    source = catalog.sources["lake"]
    assert isinstance(source, FilesSource)
    assert source.tables["orders"] == FileTable(
        path=str(tmp_path.resolve() / "data/orders.parquet"), format="parquet"
    )
    assert source.tables["visits"].format == "csv"
    assert source.tables["raw"].format == "csv"


@pytest.mark.parametrize(
    ("raw", "path", "expected"),
    [
        ("{", "$", "valid JSON"),
        ([], "$", "a JSON object"),
        ({"sources": {"x": {"type": "mysql"}}}, "$.sources.x.type", "one of 'files', 'postgresql'"),
        ({"sources": {"x": {"type": "postgresql"}}}, "$.sources.x", "exactly one of dsn and dsnEnv"),
        ({"sources": {"x": {"type": "postgresql", "dsn": "a", "dsnEnv": "B"}}}, "$.sources.x",
         "exactly one of dsn and dsnEnv"),
        ({"sources": {"x": {"type": "files", "tables": {"t": {"path": "a.txt"}}}}},
         "$.sources.x.tables.t.path", "a format ('parquet' or 'csv')"),
        ({"sources": {"x": {"type": "files", "tables": {"bad-name": {"path": "a.csv"}}}}},
         "$.sources.x.tables.bad-name", "a table name"),
        ({"sources": {"x": {"type": "files", "tables": {}}}}, "$.sources.x.tables", "at least 1"),
        ({"sources": {"x": {"type": "clickhouse", "host": "h"}}}, "$.sources.x.host",
         "a known key"),
    ],
)  # fmt: skip
def test_bad_catalogs_name_the_json_path(
    tmp_path: Path, raw: Any, path: str, expected: str
) -> None:
    with pytest.raises(SourcesError) as raised:
        load_sources(_write(tmp_path, raw))
    assert any(p.path == path and expected in p.expected for p in raised.value.problems), [
        str(p) for p in raised.value.problems
    ]
    assert str(raised.value).startswith("invalid source catalog in ")


def test_dsn_env_is_read_at_use(monkeypatch: pytest.MonkeyPatch) -> None:
    source = PostgresSource(type="postgresql", dsn_env="SQLDUCK_TEST_DSN")
    monkeypatch.delenv("SQLDUCK_TEST_DSN", raising=False)
    with pytest.raises(SourcesError) as raised:
        resolve_dsn("pg", source)
    [problem] = raised.value.problems
    assert problem.path == "$.sources.pg.dsnEnv"
    assert "SQLDUCK_TEST_DSN" in problem.expected
    monkeypatch.setenv("SQLDUCK_TEST_DSN", "postgresql://later/db")
    assert resolve_dsn("pg", source) == "postgresql://later/db"
