"""SQL metrics from the shell: `splitlab validate --sources` checks and dry-runs each query and
names the metric of every problem (exit 3, no traceback); `splitlab evaluate --sources` takes
a look whose SQL metric equals the same metric sent as events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from click.testing import CliRunner, Result

from splitlab.cli.main import cli
from splitlab.store.duckdb_store import DuckDBStore
from splitlab.tracking.events import Event
from tests.postgres import PostgresServer, running_postgres

GOOD = "SELECT u AS unit_id, t AS timestamp, v AS value FROM orders"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MS = int(T0.timestamp() * 1000)


def definition(experiment_id: str = "sql-cli", **metrics: Any) -> dict[str, Any]:
    primary = {"name": "revenue", "type": "continuous", "sql": {"source": "lake", "query": GOOD}}
    raw: dict[str, Any] = {
        "experimentId": experiment_id,
        "variants": ["control", "treatment"],
        "assignment": {"salt": "s-1"},
        "metrics": {"primary": primary} | metrics,
    }
    return raw


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


@pytest.fixture
def folder(tmp_path: Path, postgres: PostgresServer) -> Path:
    stamps = [datetime(2026, 3, 2, 10) + timedelta(minutes=i) for i in range(4)]
    table = pa.table({"u": ["u0", "u1", "u2", "u3"], "t": stamps, "v": [3.0, 5.0, 2.0, 1.0]})
    pq.write_table(table, tmp_path / "orders.parquet")
    catalog = {
        "sources": {
            "lake": {"type": "files", "tables": {"orders": {"path": "orders.parquet"}}},
            "pg": {"type": "postgresql", "dsnEnv": "SQLDUCK_TEST_PG"},
            "down": {"type": "postgresql", "dsn": "postgresql://postgres@127.0.0.1:1/postgres"},
        }
    }
    (tmp_path / "sources.json").write_text(json.dumps(catalog))
    return tmp_path


def validate(
    folder: Path, raw: dict[str, Any], *args: str, env: dict[str, str] | None = None
) -> Result:
    (folder / "exp.json").write_text(json.dumps(raw))
    return CliRunner().invoke(cli, ["validate", *args, str(folder / "exp.json")], env=env)


def test_a_good_sql_metric_is_dry_run(folder: Path) -> None:
    result = validate(folder, definition(), "--sources", str(folder / "sources.json"))
    assert result.exit_code == 0, result.output
    assert "1 SQL metric: checked and dry-run on their sources" in result.output
    # the environment variable names the catalog as well
    result = validate(folder, definition(), env={"SPLITLAB_SOURCES": str(folder / "sources.json")})
    assert "dry-run on their sources" in result.output


def test_without_a_catalog_only_the_syntax_is_checked(folder: Path) -> None:
    result = validate(folder, definition())
    assert result.exit_code == 0, result.output
    assert "syntax checked only; dry run skipped" in result.output
    bad = definition(secondary=[{"name": "x", "type": "conversion",
                                 "sql": {"source": "lake", "query": "DELETE FROM orders"}}])  # fmt: skip
    result = validate(folder, bad)
    assert result.exit_code == 3
    assert (
        "$.metrics.secondary[0].sql.query: expected a SELECT statement, not DELETE" in result.output
    )


CASES = [
    ("SELECT u AS unit_id, t AS timestamp, v AS value FROM orders WHERE", "lake",
     "in duckdb SQL"),
    ("SELECT u AS unit_id, t AS timestamp FROM orders", "lake",
     "exactly the columns unit_id, timestamp, value"),
    ("SELECT u AS unit_id, 5 AS timestamp, v AS value FROM orders", "lake", "a date-time type"),
    ("SELECT u AS unit_id, t AS timestamp, u AS value FROM orders", "lake", "a number or NULL"),
    ("INSERT INTO orders VALUES (1)", "lake", "not INSERT"),
    ("DELETE FROM orders", "lake", "not DELETE"),
    ("CREATE TABLE x AS SELECT 1", "lake", "not CREATE"),
    ("COPY orders TO '/tmp/x.csv'", "lake", "not COPY"),
    ("ATTACH '/tmp/x.duckdb'", "lake", "not ATTACH"),
    ("SELECT * FROM read_csv('/etc/passwd')", "lake", "not a table function"),
    ("SELECT * FROM customers", "lake", "one of the source's tables: orders"),
    (GOOD, "nowhere", "a source of the catalog: down, lake, pg"),
    ("SELECT 1 AS unit_id, now() AS timestamp, 1 AS value", "pg",
     "the environment variable SQLDUCK_TEST_PG set"),
    ("SELECT 1 AS unit_id, now() AS timestamp, 1 AS value", "down", "source 'down' (postgresql)"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "source", "expected"), CASES)
def test_bad_sql_metrics_name_the_metric(
    folder: Path, query: str, source: str, expected: str
) -> None:
    raw = definition(secondary=[{"name": "x", "type": "conversion",
                                 "sql": {"source": source, "query": query}}])  # fmt: skip
    result = validate(folder, raw, "--sources", str(folder / "sources.json"))
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # the clean exit, no other exception
    [line] = [x for x in result.output.splitlines() if x.startswith("  - ")]
    assert line.startswith("  - $.metrics.secondary[0].sql.")
    assert expected in line


def test_a_postgresql_source_from_the_environment(folder: Path, postgres: PostgresServer) -> None:
    import psycopg

    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS orders (u text, t timestamptz, v real)")
    raw = definition(secondary=[{"name": "x", "type": "continuous",
                                 "sql": {"source": "pg", "query": GOOD}}])  # fmt: skip
    env = {"SQLDUCK_TEST_PG": postgres.dsn}
    result = validate(folder, raw, "--sources", str(folder / "sources.json"), env=env)
    assert result.exit_code == 0, result.output
    assert "2 SQL metrics: checked and dry-run" in result.output


def test_a_bad_catalog_is_a_clean_error(folder: Path) -> None:
    (folder / "bad.json").write_text('{"sources": {"x": {"type": "mysql"}}}')
    result = validate(folder, definition(), "--sources", str(folder / "bad.json"))
    assert result.exit_code == 3
    assert result.output.startswith("error: invalid source catalog in ")
    assert "$.sources.x.type: expected one of 'files', 'postgresql', 'clickhouse'" in result.output


def _evaluate(folder: Path, raw: dict[str, Any], events: list[Event], *args: str) -> dict[str, Any]:
    db = str(folder / f"{raw['experimentId']}.duckdb")
    (folder / "def.json").write_text(json.dumps(raw | {"status": "running"}))
    created = CliRunner().invoke(
        cli, ["experiments", "create", str(folder / "def.json"), "--db", db]
    )
    assert created.exit_code == 0, created.output
    with DuckDBStore(db) as store:
        store.ingest(events)
    cutoff = "2026-03-03T09:00:00Z"
    result = CliRunner().invoke(
        cli, ["evaluate", raw["experimentId"], "--db", db, "--json", "--cutoff", cutoff, *args]
    )
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.output)
    return out


def test_evaluate_reads_the_sql_metric_like_events(folder: Path) -> None:
    exposures = [
        Event(f"x{i}", "exposure", "sql-cli", "control" if i % 2 else "treatment", f"u{i}",
              MS + i * 1000)
        for i in range(4)
    ]  # fmt: skip
    values = [3.0, 5.0, 2.0, 1.0]
    metric_events = [
        Event(f"m{i}", "metric", "sql-cli", e.variant, e.unit_id, MS + 3_600_000 + i * 60_000,
              "revenue", values[i])
        for i, e in enumerate(exposures)
    ]  # fmt: skip
    by_events = definition()
    del by_events["metrics"]["primary"]["sql"]
    expected = _evaluate(folder, by_events, exposures + metric_events)
    (folder / "sql").mkdir()
    actual = _evaluate(
        folder / "sql", definition(), exposures, "--sources", str(folder / "sources.json")
    )
    assert actual["metrics"] == expected["metrics"]
    [revenue] = [m for m in expected["metrics"] if m["name"] == "revenue"]
    [comparison] = revenue["comparisons"]
    # u1, u3 in control (5 + 1) / 2; u0, u2 in treatment (3 + 2) / 2
    assert (comparison["controlMean"], comparison["variantMean"]) == (3.0, 2.5)
