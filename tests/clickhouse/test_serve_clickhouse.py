"""Two real `splitlab serve --clickhouse` replicas on one PostgreSQL registry and one
ClickHouse server (Debian's 18.16): events accepted by either replica are seen by looks,
summaries and the dashboard of the other, with the same sums as a DuckDB store given the same
events; ClickHouse going away leaves assignment and ingestion serving while /healthz says so,
and its return loads what was acknowledged meanwhile."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import msgspec
import numpy as np
import pytest
from click.testing import CliRunner

from splitlab.cli.main import cli
from splitlab.config import load_experiment
from splitlab.store import DuckDBStore
from splitlab.store.clickhouse import LocalServer
from splitlab.tracking.events import Event, now_ms
from tests.clickhouse.conftest import new_server
from tests.evaluation.conftest import definition
from tests.pg_registry import PostgresDatabases
from tests.postgres import PostgresServer, running_postgres
from tests.registry.replicas import Replica, make_keys, wait_until

EXPERIMENT = "exp-shared-store"
VARIANTS = ("control", "treatment")


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def house(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A ClickHouse server of this module's own (the last test stops and restarts it)."""
    server = new_server(tmp_path_factory.mktemp("serve-clickhouse"))
    yield server
    server.stop(timeout=5.0)


@pytest.fixture(scope="module")
def replicas(
    postgres_server: PostgresServer, house: LocalServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Replica, Replica]]:
    """Replicas A and B: own --db files, one registry, one ClickHouse database."""
    tmp = tmp_path_factory.mktemp("replicas")
    extra = ("--no-scheduler", "--clickhouse", house.url, "--clickhouse-database", "shared")
    with PostgresDatabases(postgres_server) as databases:
        dsn = databases.new()
        admin, sdk = make_keys(dsn)
        a = Replica(tmp / "a.duckdb", dsn, admin, sdk, *extra)
        b = Replica(tmp / "b.duckdb", dsn, admin, sdk, *extra)
        try:
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(Replica.start, (a, b)))
            yield a, b
        finally:
            for replica in (a, b):
                if replica.process is not None and replica.process.poll() is None:
                    replica.stop()


def _traffic(seed: int, units: int, prefix: str) -> list[Event]:
    """Exposures (one or two per unit) and conversions of `units` units, a minute old."""
    rng = np.random.default_rng(seed)
    start = now_ms() - 120_000
    events: list[Event] = []
    for n in range(units):
        unit, variant = f"{prefix}{n}", VARIANTS[int(rng.integers(2))]
        for k in range(1 + int(rng.integers(2))):
            events.append(Event(f"{unit}-x{k}", "exposure", EXPERIMENT, variant, unit,
                                start + n + k, attributes={"country": ["DE", "FR"][n % 2]}))  # fmt: skip
        if rng.random() < 0.3 + 0.1 * (variant == "treatment"):
            events.append(Event(f"{unit}-c", "metric", EXPERIMENT, variant, unit,
                                start + 60_000 + n, "checkout", 1.0))  # fmt: skip
        if rng.random() < 0.05:
            events.append(Event(f"{unit}-e", "metric", EXPERIMENT, variant, unit,
                                start + 61_000 + n, "error_rate", 1.0))  # fmt: skip
    return events


def _send(replica: Replica, events: list[Event]) -> None:
    for at in range(0, len(events), 200):
        batch = events[at : at + 200]
        answer = httpx.post(f"{replica.url}/v1/events", content=msgspec.json.encode(batch),
                            headers=replica.sdk, timeout=30)  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] + answer.json().get("duplicates", 0) == len(batch)


def _sums(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "look"}


@pytest.fixture(scope="module")
def shared(replicas: tuple[Replica, Replica], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A running experiment registered through A; events split between A and B (a unit's
    exposures through one replica, its conversions through the other; one batch sent to
    both); the DuckDB summary of the same events."""
    a, b = replicas
    created = a.post("/v1/experiments", definition(experimentId=EXPERIMENT, status="running",
                                                   segments=["country"]))  # fmt: skip
    assert created.status_code == 201, created.text
    wait_until(lambda: b.config_status(EXPERIMENT) == "running")
    events = _traffic(20261204, 600, "u")
    exposures = [e for e in events if e.type == "exposure"]
    metrics = [e for e in events if e.type == "metric"]
    even = [e for e in exposures if int(e.unit_id[1:]) % 2 == 0]
    odd = [e for e in exposures if int(e.unit_id[1:]) % 2 == 1]
    _send(a, even + [m for m in metrics if int(m.unit_id[1:]) % 2 == 1])
    _send(b, odd + [m for m in metrics if int(m.unit_id[1:]) % 2 == 0])
    _send(b, even[:150])  # a client's retry reaching the other replica
    # A replica's read waits for its own log to be loaded; another's events arrive with that
    # replica's next load pass (every 0.5 s), which /healthz reports.
    wait_until(lambda: all(r.health()["clickhouse"]["loaded"] for r in replicas), 30)
    with DuckDBStore(tmp_path_factory.mktemp("reference") / "ref.duckdb") as reference:
        reference.ingest(events)
        experiment = load_experiment(definition(experimentId=EXPERIMENT, status="running",
                                                segments=["country"]))  # fmt: skip
        return reference.summary(experiment).to_dict(), reference.summary(
            experiment, segment="country"
        ).to_dict()


def test_a_summary_through_either_replica_counts_the_events_of_both(
    replicas: tuple[Replica, Replica], shared: Any
) -> None:
    """Both replicas' summaries (whole and by country) equal the DuckDB store's sums of every
    event sent, each counted once, though each replica accepted only part of them."""
    whole, by_country = shared
    assert sum(whole["units"].values()) == 600
    for replica in replicas:
        path = f"{replica.url}/v1/experiments/{EXPERIMENT}/summary"
        answer = httpx.get(path, headers=replica.admin, timeout=30)
        assert answer.status_code == 200, answer.text
        assert _sums(answer.json()) == _sums(whole)
        segmented = httpx.get(path, params={"segment": "country"}, headers=replica.admin,
                              timeout=30)  # fmt: skip
        assert _sums(segmented.json()) == _sums(by_country)


def test_a_look_through_b_and_the_dashboard_see_every_unit(
    replicas: tuple[Replica, Replica], shared: Any
) -> None:
    """A peek through B analyses all 600 units; B's dashboard counts A's units too; /healthz
    reports every acknowledged event loaded."""
    _, b = replicas
    whole, _ = shared
    peek = b.post(f"/v1/experiments/{EXPERIMENT}/evaluate", {"peek": True})
    assert peek.status_code == 200, peek.text
    assert peek.json()["srm"]["counts"] == whole["units"]
    with httpx.Client(base_url=b.url, timeout=30) as browser:
        login = browser.post("/login", data={"key": b.admin["Authorization"][7:], "next": "/"})
        assert login.status_code in (200, 303), login.text
        page = browser.get(f"/experiments/{EXPERIMENT}")  # the exposure chart and progress
        assert page.status_code == 200, page.text
        assert "Units exposed per variant" in page.text
        page = browser.get("/")
    smallest = min(whole["units"].values())
    assert re.search(rf"\b{smallest:,} / 1,000 units", page.text), "progress counts both"
    assert b.health()["clickhouse"] == {"available": True, "loaded": True}
    assert b.health()["status"] == "ok"


def test_a_sql_metric_must_name_a_clickhouse_source(replicas: tuple[Replica, Replica]) -> None:
    """With the events in ClickHouse, a SQL metric runs there: without a catalog naming its
    source as a `clickhouse` one, the definition is refused (422) naming the field."""
    raw = definition(experimentId="exp-serve-sql")
    raw["metrics"]["secondary"] = [{"name": "revenue", "type": "continuous", "sql": {
        "source": "lake", "query": "SELECT unit_id, timestamp, value FROM orders"}}]  # fmt: skip
    answer = replicas[1].post("/v1/experiments", raw)
    assert answer.status_code == 422, answer.text
    [detail] = answer.json()["error"]["details"]
    assert detail["path"] == "$.metrics.secondary[0].sql.source"
    assert "no catalog given (--sources)" in detail["expected"]


def test_cli_looks_read_clickhouse_without_opening_the_db_file(
    replicas: tuple[Replica, Replica], shared: Any, house: LocalServer, tmp_path: Path
) -> None:
    """`splitlab evaluate --peek` with --registry and --clickhouse counts every replica's units
    and leaves the --db path alone (no file is created there)."""
    whole, _ = shared
    db = tmp_path / "not-opened.duckdb"
    found = CliRunner().invoke(cli, [
        "evaluate", EXPERIMENT, "--db", str(db), "--registry", replicas[0].dsn, "--peek",
        "--json", "--clickhouse", house.url, "--clickhouse-database", "shared",
    ])  # fmt: skip
    assert found.exit_code == 0, found.output
    assert json.loads(found.output)["srm"]["counts"] == whole["units"]
    assert not db.exists()


def _units(replica: Replica) -> int:
    answer = httpx.get(f"{replica.url}/v1/experiments/{EXPERIMENT}/summary",
                       headers=replica.admin, timeout=30)  # fmt: skip
    assert answer.status_code == 200, answer.text
    return sum(answer.json()["units"].values())


def test_a_unit_accepted_by_a_reaches_b(replicas: tuple[Replica, Replica], shared: Any) -> None:
    """A unit acknowledged by A is counted by B's summary once A's loader has inserted it
    (its next pass); the time from A's acknowledgement to B counting it is printed."""
    a, b = replicas
    before = _units(b)
    _send(a, _traffic(11, 1, "one"))
    took = wait_until(lambda: _units(b) == before + 1)
    print(f"a unit acknowledged by A counted by B after {took:.3f} s")


def test_clickhouse_lost_keeps_serving_and_its_return_loads_the_backlog(
    replicas: tuple[Replica, Replica], shared: Any, house: LocalServer
) -> None:
    """With ClickHouse stopped: A still assigns and acknowledges events, /healthz is degraded
    with a clickhouse block, a summary and the dashboard's list answer 503. A is stopped with
    the events in its log; once ClickHouse is back and A restarted, B counts A's new units."""
    a, b = replicas
    before = _units(b)
    house.kill()  # as a crash would: rows it had not written back are reloaded later
    try:
        assert a.assign(EXPERIMENT)["variant"] in VARIANTS
        _send(a, _traffic(7, 40, "late"))  # acknowledged from A's local log
        wait_until(lambda: not a.health()["clickhouse"]["available"], timeout=30)
        health = a.health()
        assert health["status"] == "degraded"
        assert health["clickhouse"]["loaded"] is False
        assert "unreachable" in health["clickhouse"]["error"]
        down = httpx.get(f"{b.url}/v1/experiments/{EXPERIMENT}/summary", headers=b.admin,
                         timeout=90)  # fmt: skip
        assert down.status_code == 503, down.text
        assert down.json()["error"]["code"] == "clickhouse_unavailable"
        with httpx.Client(base_url=b.url, timeout=90) as browser:
            browser.post("/login", data={"key": b.admin["Authorization"][7:], "next": "/"})
            assert browser.get("/").status_code == 503  # the list counts units per variant
        a.stop()  # its last load fails: the 40 units wait in a.duckdb.ch-log/
        assert "Traceback" not in a.stderr, a.stderr
    finally:
        house.start()
    a.start()  # loads what its log kept before it answers
    wait_until(lambda: a.health()["clickhouse"] == {"available": True, "loaded": True}, 30)
    assert _units(b) == before + 40
