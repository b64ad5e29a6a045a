"""SQL metrics in the embedded store: the same rows as a query over Parquet, CSV or a
PostgreSQL table give sums identical to those rows sent as metric events (conversion,
sum/count/max, CUPED covariates, windows, cut-offs); SQL rows count in no data-quality count."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from splitlab.config import load_experiment
from splitlab.config.sources import FilesSource, PostgresSource, SourceCatalog
from splitlab.store import DuckDBStore
from splitlab.store.sql_sources import SqlSourceError
from splitlab.tracking.events import Event
from tests.postgres import running_postgres

from .sql_metric_helpers import (
    as_datetime,
    events_definition,
    events_experiment,
    exposures,
    files_catalog,
    metric_rows,
    simulated,
    sql_definition,
    sql_experiment,
    write_csv,
    write_parquet,
)
from .store_helpers import DAY, T0


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The simulation as events in one store, and as exposures only (the metric events in a
    Parquet and a CSV file) in another."""
    tmp = tmp_path_factory.mktemp("sqlsums")
    events = simulated()
    rows = metric_rows(events)
    write_parquet(rows, tmp / "events.parquet")
    write_csv(rows, tmp / "events.csv")
    catalog = files_catalog(tmp / "events.parquet", tmp / "events.csv")
    with (
        DuckDBStore(tmp / "events.duckdb") as by_events,
        DuckDBStore(tmp / "sql.duckdb", sources=catalog) as by_sql,
    ):
        by_events.ingest(events)
        by_sql.ingest(exposures(events))
        yield {"events": by_events, "sql": by_sql, "rows": rows, "catalog": catalog, "tmp": tmp}


CUTOFFS = [None, datetime.fromtimestamp((T0 + 25 * DAY) / 1000, UTC)]


@pytest.mark.parametrize("table", ["events", "events_csv"])
@pytest.mark.parametrize("cutoff", CUTOFFS, ids=["no-cutoff", "cutoff"])
def test_files_source_sums_equal_event_sums(
    data: dict[str, Any], table: str, cutoff: datetime | None
) -> None:
    expected = data["events"].summary(events_experiment(), cutoff).to_dict()
    actual = data["sql"].summary(sql_experiment("lake", table), cutoff).to_dict()
    assert actual["metrics"] == expected["metrics"]
    assert actual["units"] == expected["units"]
    # the comparison is not vacuous: every metric has units with a value, CUPED covariates
    for name, arms in expected["metrics"].items():
        assert any(arm["sum"] > 0 for arm in arms.values()), name
    assert expected["metrics"]["revenue"]["control"]["covariate"]["sum"] > 0


def test_sql_rows_count_in_no_data_quality_count(data: dict[str, Any]) -> None:
    store = data["sql"]
    exp = sql_experiment("lake")
    store.summary(exp)
    quality = store.data_quality(exp)
    events_quality = data["events"].data_quality(events_experiment())
    assert events_quality.pre_exposure_metric_events > 0  # the simulation has some
    assert events_quality.unexposed_metric_events > 0
    assert events_quality.variant_mismatch_events > 0
    assert quality.pre_exposure_metric_events == 0
    assert quality.unexposed_metric_events == 0
    assert quality.variant_mismatch_events == 0
    assert quality.multi_exposed_units == events_quality.multi_exposed_units > 0


def test_postgresql_source_sums_equal_event_sums(data: dict[str, Any]) -> None:
    import psycopg

    with running_postgres() as server:
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE events (user_key text, happened_at timestamptz, "
                "event_name text, amount double precision)"
            )
            conn.execute(
                "CREATE TABLE events_naive (user_key text, happened_at timestamp, "
                "event_name text, amount double precision)"
            )
            with conn.cursor() as cur:
                rows = [(u, as_datetime(ms), n, v) for u, ms, n, v in data["rows"]]
                cur.executemany("INSERT INTO events VALUES (%s, %s, %s, %s)", rows)
                naive = [(u, t.replace(tzinfo=None), n, v) for u, t, n, v in rows]
                cur.executemany("INSERT INTO events_naive VALUES (%s, %s, %s, %s)", naive)
        catalog = SourceCatalog(sources={"pg": PostgresSource(type="postgresql", dsn=server.dsn)})
        store = data["sql"]
        store.sources = catalog
        try:
            for cutoff in CUTOFFS:
                expected = data["events"].summary(events_experiment(), cutoff).to_dict()
                for table in ("events", "events_naive"):
                    actual = store.summary(sql_experiment("pg", table), cutoff).to_dict()
                    assert actual["metrics"] == expected["metrics"], (table, cutoff)
        finally:
            store.sources = data["catalog"]


def test_summary_without_catalog_names_the_metric(tmp_path: Path, data: dict[str, Any]) -> None:
    with DuckDBStore(tmp_path / "none.duckdb") as store:
        store.ingest(exposures(simulated(units=5)))
        with pytest.raises(SqlSourceError) as raised:
            store.summary(sql_experiment("lake"))
    assert "$.metrics.primary.sql.source" in str(raised.value)
    assert "--sources" in str(raised.value)


def test_a_moved_file_is_a_clear_error(tmp_path: Path, data: dict[str, Any]) -> None:
    catalog = files_catalog(tmp_path / "gone.parquet", tmp_path / "gone.csv")
    with DuckDBStore(tmp_path / "moved.duckdb", sources=catalog) as store:
        store.ingest(exposures(simulated(units=5)))
        with pytest.raises(SqlSourceError) as raised:
            store.summary(sql_experiment("lake"))
    message = str(raised.value)
    assert message.startswith("$.metrics.primary.sql.source: expected existing files")
    assert "gone.parquet" in message


def test_cluster_design_sums_equal_event_sums(tmp_path: Path, data: dict[str, Any]) -> None:
    """Sums over clusters read the SQL rows through the same per-unit values."""
    raw = simulated(units=200)
    first: dict[str, str] = {}
    for e in sorted((e for e in raw if e.type == "exposure"), key=lambda e: -e.timestamp):
        first[e.unit_id] = e.variant  # the earliest exposure wins
    # clusters of units with the same first variant (a few hold a unit exposed to two)
    events = [
        Event(e.event_id, e.type, e.experiment_id, e.variant, e.unit_id, e.timestamp, e.metric,
              e.value, e.attributes, f"{first[e.unit_id]}-{int(e.unit_id.split('-')[1]) % 15}")
        if e.type == "exposure" else e
        for e in raw
    ]  # fmt: skip
    cluster = {"design": {"type": "cluster", "analysisUnit": "userId"},
               "assignment": {"salt": "sim-salt", "hashKey": "accountId"}}  # fmt: skip
    by_events = load_experiment(events_definition() | cluster)
    by_sql = load_experiment(sql_definition("lake") | cluster)
    with DuckDBStore(tmp_path / "e.duckdb") as store:
        store.ingest(events)
        expected = store.summary(by_events).to_dict()
    with DuckDBStore(tmp_path / "s.duckdb", sources=data["catalog"]) as store:
        store.ingest(exposures(events))
        actual = store.summary(by_sql).to_dict()
    assert actual["metrics"] == expected["metrics"]
    assert expected["metrics"]["revenue"]["control"]["sum"] > 0
    assert expected["metrics"]["revenue"]["control"]["covariate"]["sum"] > 0


def test_the_checks_run_again_at_each_look(tmp_path: Path, data: dict[str, Any]) -> None:
    """A catalog changed since the definition was saved: its table is gone."""
    source = data["catalog"].sources["lake"]
    narrower = SourceCatalog(
        sources={"lake": FilesSource(type="files", tables={"orders": source.tables["events"]})}
    )
    with DuckDBStore(tmp_path / "n.duckdb", sources=narrower) as store:
        store.ingest(exposures(simulated(units=5)))
        with pytest.raises(SqlSourceError) as raised:
            store.summary(sql_experiment("lake"))
    assert str(raised.value).startswith(
        "$.metrics.primary.sql.query: expected one of the source's tables: orders"
    )
