"""Retention and time-to-event metrics defined by SQL (``metric.sql``) in the embedded store:
the same rows as a query over Parquet or a PostgreSQL table give the same eligible and
retained sums, retention curves and survival tables (overall and per segment) as those rows
sent as this experiment's metric events."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from splitlab.config import Experiment, load_experiment
from splitlab.config.sources import FilesSource, FileTable, PostgresSource, SourceCatalog
from splitlab.store import DuckDBStore
from tests.postgres import running_postgres

from .sql_metric_helpers import as_datetime, write_parquet
from .survival_data import CUTOFF, DEFINITION, RETENTION, TIME_TO_EVENT, simulate


def _sql_experiment(source: str) -> Experiment:
    """The survival simulation's metrics, each read by a query over table ``events``; the
    retention metrics' queries return no value (NULL, allowed for these types)."""
    raw = copy.deepcopy(DEFINITION)
    metrics = raw["metrics"]
    for metric in [metrics["primary"], *metrics["secondary"]]:
        value = "CAST(NULL AS DOUBLE PRECISION)" if metric["type"] == "retention" else "amount"
        metric["sql"] = {
            "source": source,
            "query": f"SELECT user_key AS unit_id, happened_at AS timestamp, {value} AS value "
            f"FROM events WHERE event_name = '{metric.get('event', metric['name'])}'",
        }
    return load_experiment(raw)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The simulation as events in one store; in another only its exposures, with this
    experiment's metric events in a Parquet file (a SQL row belongs to no experiment, so the
    other experiment's events are left out of the file)."""
    tmp = tmp_path_factory.mktemp("sqltiming")
    events = simulate(np.random.default_rng(20261204))
    rows = [
        (e.unit_id, e.timestamp, e.metric or "", float(e.value if e.value is not None else 1.0))
        for e in events
        if e.type == "metric" and e.experiment_id == "ret"
    ]
    write_parquet(rows, tmp / "events.parquet")
    catalog = SourceCatalog(
        sources={
            "lake": FilesSource(
                type="files",
                tables={"events": FileTable(path=str(tmp / "events.parquet"), format="parquet")},
            )
        }
    )
    with (
        DuckDBStore(tmp / "events.duckdb") as by_events,
        DuckDBStore(tmp / "sql.duckdb", sources=catalog) as by_sql,
    ):
        by_events.ingest(events)
        by_sql.ingest([e for e in events if e.type == "exposure"])
        yield {"events": by_events, "sql": by_sql, "rows": rows, "catalog": catalog}


CUTOFFS = [
    datetime.fromtimestamp(CUTOFF / 1000, UTC),
    datetime.fromtimestamp((CUTOFF + 7 * 86_400_000 + 1) / 1000, UTC),
    None,
]


def _expected(data: dict[str, Any], cutoff: datetime | None) -> dict[str, Any]:
    exp = load_experiment(DEFINITION)
    out: dict[str, Any] = data["events"].summary(exp, cutoff, "region").to_dict()
    # not vacuous: curves with retained units, tables with observed and censored units
    for name in RETENTION:
        curve = out["metrics"][name]["control"]["retention"]
        assert sum(curve["retained"]) > 0, name
    for name in TIME_TO_EVENT:
        for where in (out["metrics"], out["segments"]["region=EU"]["metrics"]):
            table = where[name]["b"]["survival"]
            assert sum(table["events"]) > 0 and sum(table["censored"]) > 0, name
    return out


@pytest.mark.parametrize("cutoff", CUTOFFS, ids=["cutoff", "week-later", "no-cutoff"])
def test_files_source_timing_equals_events(data: dict[str, Any], cutoff: datetime | None) -> None:
    expected = _expected(data, cutoff)
    actual = data["sql"].summary(_sql_experiment("lake"), cutoff, "region").to_dict()
    assert actual["metrics"] == expected["metrics"]
    assert actual["units"] == expected["units"]
    assert actual["segments"] == expected["segments"]


def test_postgresql_source_timing_equals_events(data: dict[str, Any]) -> None:
    import psycopg

    with running_postgres() as server:
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE events (user_key text, happened_at timestamptz, "
                "event_name text, amount double precision)"
            )
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO events VALUES (%s, %s, %s, %s)",
                    [(u, as_datetime(ms), n, v) for u, ms, n, v in data["rows"]],
                )
        store = data["sql"]
        store.sources = SourceCatalog(
            sources={"pg": PostgresSource(type="postgresql", dsn=server.dsn)}
        )
        try:
            for cutoff in CUTOFFS[:2]:
                expected = _expected(data, cutoff)
                actual = store.summary(_sql_experiment("pg"), cutoff, "region").to_dict()
                assert actual["metrics"] == expected["metrics"], cutoff
                assert actual["segments"] == expected["segments"], cutoff
        finally:
            store.sources = data["catalog"]
