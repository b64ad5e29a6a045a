"""`splitlab canary wait|status` and `splitlab scheduler` on replicas' shared stores: the
registry in PostgreSQL (--registry), the events in a real ClickHouse 18.16 server
(--clickhouse), no --db file at all."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from splitlab.cli.main import cli
from splitlab.evaluation.lifecycle import register
from splitlab.store.clickhouse import ClickHouseStore, LocalServer
from splitlab.store.pgregistry.registry import PostgresRegistry
from splitlab.tracking.events import Event
from tests.canary.canary_helpers import EXPERIMENT_ID, canary_experiment, exposure, requests
from tests.pg_registry import PostgresDatabases
from tests.postgres import running_postgres


@pytest.fixture(scope="module")
def databases() -> Iterator[PostgresDatabases]:
    with running_postgres() as server, PostgresDatabases(server) as found:
        yield found


def _launch(dsn: str, launched: datetime) -> None:
    """The canary registered in PostgreSQL, running since `launched`."""
    registry = PostgresRegistry.connect(dsn)
    try:
        register(registry, canary_experiment(), by="test", reason="launch", now=launched)
    finally:
        registry.close()


def _failing_canary_events(launched: datetime, seed: int) -> list[Event]:
    """The first 5 minutes after the launch: the canary fails half of its requests, the
    baseline 1 %."""
    rng = np.random.default_rng(seed)
    start = int(launched.timestamp() * 1000)
    units = {f"u{i}": ("canary" if i % 5 == 0 else "baseline") for i in range(500)}
    events = [exposure(unit, variant, start) for unit, variant in units.items()]
    for variant, rate in (("baseline", 0.01), ("canary", 0.5)):
        chosen = {u: v for u, v in units.items() if v == variant}
        events += requests(rng, chosen, start + 1, 4.5, 6.0, error_rate=rate)
    return events


def _into_clickhouse(server: LocalServer, database: str, events: list[Event], log: Path) -> None:
    store = ClickHouseStore(server.url, log, database=database, load_interval_s=0.05)
    try:
        store.ingest(events)
        store.flush(timeout=30.0)
    finally:
        store.close()


def _run(*args: str) -> Result:
    env = {"SPLITLAB_REGISTRY": None, "SPLITLAB_CLICKHOUSE": None}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_canary_wait_judges_the_events_in_clickhouse(
    databases: PostgresDatabases, clickhouse: LocalServer, tmp_path: Path
) -> None:
    """`canary wait --registry --clickhouse` (no --db) judges the canary on the events in
    ClickHouse and rolls it back; `canary status` then reads that outcome from the registry.
    The same wait on an empty --db file's events (the only choice before) could not fail it:
    there was nothing to judge."""
    dsn = databases.new()
    launched = datetime.now(UTC) - timedelta(minutes=7)
    _launch(dsn, launched)
    _into_clickhouse(clickhouse, "canary_cli", _failing_canary_events(launched, 3), tmp_path / "l")
    shared = ("--registry", dsn, "--clickhouse", clickhouse.url,
              "--clickhouse-database", "canary_cli")  # fmt: skip
    waited = _run("canary", "wait", EXPERIMENT_ID, *shared, "--timeout", "0")
    assert waited.exit_code == 12, waited.output
    assert "rolled_back" in waited.output and "errors" in waited.output
    status = _run("canary", "status", EXPERIMENT_ID, *shared, "--json")
    assert status.exit_code == 12, status.output
    view = json.loads(status.output)
    assert view["status"] == "rolled_back"
    assert view["judgments"][-1]["action"] == "rollback"
    assert list(tmp_path.iterdir()) == [tmp_path / "l"]  # no database file was created


def test_canary_wait_on_an_empty_db_file_sees_no_failure(
    databases: PostgresDatabases, tmp_path: Path
) -> None:
    """The contrast: the same canary judged on a --db file's events (none there) keeps
    running (exit 14), which is what `wait --db` said for replicas on ClickHouse before."""
    dsn = databases.new()
    _launch(dsn, datetime.now(UTC) - timedelta(minutes=7))
    db = tmp_path / "replica.duckdb"
    from splitlab.store import DuckDBStore

    DuckDBStore(db).close()
    waited = _run("canary", "wait", EXPERIMENT_ID, "--db", str(db), "--registry", dsn,
                  "--timeout", "0")  # fmt: skip
    assert waited.exit_code == 14, waited.output


def test_the_scheduler_runs_without_a_db_file(
    databases: PostgresDatabases, clickhouse: LocalServer, tmp_path: Path
) -> None:
    """`splitlab scheduler --once --registry --clickhouse` without --db: the canary monitor's
    pass starts the step and rolls the canary back on ClickHouse's events."""
    dsn = databases.new()
    launched = datetime.now(UTC) - timedelta(minutes=7)
    _launch(dsn, launched)
    _into_clickhouse(clickhouse, "sched_cli", _failing_canary_events(launched, 4), tmp_path / "l")
    once = _run("scheduler", "--once", "--registry", dsn, "--clickhouse", clickhouse.url,
                "--clickhouse-database", "sched_cli")  # fmt: skip
    assert once.exit_code == 0, once.output
    assert f"{EXPERIMENT_ID}: canary step 0 -> start" in once.output
    assert f"{EXPERIMENT_ID}: canary step 0 -> rollback" in once.output
