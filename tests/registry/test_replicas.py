"""Two real `splitlab serve` replicas on one PostgreSQL registry: a change made through one
is served by the other (by NOTIFY, and by polling once the listener is killed), concurrent
changes through both leave one chained audit log, and PostgreSQL going away leaves the
replicas serving their last snapshot while /healthz says so."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator

import psycopg
import pytest

from splitlab.store.pgregistry.registry import PostgresRegistry
from tests.evaluation.conftest import definition
from tests.pg_registry import PostgresDatabases
from tests.postgres import PostgresServer
from tests.registry.replicas import Replica, make_keys, wait_until

_ids = itertools.count(1)


@pytest.fixture(scope="module")
def replicas(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Replica, Replica]]:
    """Replicas A and B (own event files, one registry), started once for the module."""
    tmp = tmp_path_factory.mktemp("replicas")
    with PostgresDatabases(postgres_server) as databases:
        dsn = databases.new()
        admin, sdk = make_keys(dsn)
        a = Replica(tmp / "a.duckdb", dsn, admin, sdk, "--no-scheduler")
        b = Replica(tmp / "b.duckdb", dsn, admin, sdk, "--no-scheduler")
        try:
            yield a.start(), b.start()
        finally:
            for replica in (a, b):
                if replica.process is not None and replica.process.poll() is None:
                    replica.stop()


@pytest.fixture
def experiment_id(replicas: tuple[Replica, Replica]) -> str:
    """A new running experiment, registered through A and seen by B."""
    a, b = replicas
    name = f"exp-replica-{next(_ids)}"
    created = a.post("/v1/experiments", definition(experimentId=name, status="running"))
    assert created.status_code == 201, created.text
    wait_until(lambda: b.config_status(name) == "running")
    return name


def _rolled_back_on(replica: Replica, experiment_id: str) -> bool:
    served = replica.assign(experiment_id)
    return (
        served["reason"] == "rolled_back" and replica.config_status(experiment_id) == "rolled_back"
    )


def test_a_rollback_through_a_is_served_by_b(
    replicas: tuple[Replica, Replica], experiment_id: str
) -> None:
    """Roll back through A: B's /v1/assign serves control and /v1/config says rolled_back."""
    a, b = replicas
    assert b.assign(experiment_id)["reason"] != "rolled_back"
    answer = a.post(f"/v1/experiments/{experiment_id}/status",
                    {"status": "rolled_back", "reason": "errors up"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    took = wait_until(lambda: _rolled_back_on(b, experiment_id))
    print(f"rollback via A served by B after {took:.3f} s")
    assert b.assign(experiment_id)["variant"] == "control"
    assert b.health()["registry"]["listening"] is True


def test_a_killed_listener_reloads_and_changes_still_arrive(
    replicas: tuple[Replica, Replica], postgres_server: PostgresServer, experiment_id: str
) -> None:
    """pg_terminate_backend on every LISTEN connection: a change through A still reaches B,
    and B listens again afterwards."""
    a, b = replicas
    wait_until(lambda: all(r.health()["registry"]["listening"] for r in (a, b)))
    with psycopg.connect(a.dsn, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'splitlab-listener'"
        ).fetchall()
    assert len(killed) == 2  # one listener per replica
    answer = a.post(f"/v1/experiments/{experiment_id}/status",
                    {"status": "paused", "reason": "listener test"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    took = wait_until(lambda: b.config_status(experiment_id) == "paused")
    print(f"change after the listener was killed served by B after {took:.3f} s")
    wait_until(lambda: b.health()["registry"]["listening"] is True)


def test_twenty_concurrent_changes_through_both_leave_one_audit_log(
    replicas: tuple[Replica, Replica], experiment_id: str
) -> None:
    """20 pause/resume requests at once, half through each replica: the accepted ones form
    one chain (each change starts where the one before ended, seq 1..n) and both replicas
    end up serving the last status."""
    a, b = replicas
    barrier = threading.Barrier(20)
    codes: list[int] = []

    def flip(i: int) -> None:
        barrier.wait()
        target = "paused" if i % 2 else "running"
        replica = a if i < 10 else b
        answer = replica.post(f"/v1/experiments/{experiment_id}/status",
                              {"status": target, "reason": f"flip {i}"})  # fmt: skip
        codes.append(answer.status_code)

    threads = [threading.Thread(target=flip, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(codes) <= {200, 409, 422} and 200 in codes, codes
    registry = PostgresRegistry.connect(a.dsn)
    log = registry.changes(experiment_id)
    final = registry.get(experiment_id).status.value
    registry.close()
    assert [c.seq for c in log] == list(range(1, len(log) + 1))
    assert len(log) == 1 + codes.count(200)  # the launch, then every accepted change
    for before, after in itertools.pairwise(log):
        assert after.from_value == before.to_value
    assert log[-1].to_value == final
    for replica in (a, b):
        wait_until(lambda r=replica: r.config_status(experiment_id) == final)  # type: ignore[misc]


def test_postgres_lost_keeps_the_snapshot_and_says_so(
    replicas: tuple[Replica, Replica], postgres_server: PostgresServer, experiment_id: str
) -> None:
    """PostgreSQL stopped: assignment goes on from the snapshot, /healthz says degraded,
    writes answer 503; PostgreSQL back: healthy again and changes flow."""
    a, b = replicas
    before = b.assign(experiment_id)
    postgres_server.stop("fast")
    try:
        wait_until(lambda: b.health()["status"] == "degraded")
        health = b.health()
        assert health["registry"]["available"] is False
        assert b.assign(experiment_id) == before
        assert b.config_status(experiment_id) == "running"
        refused = a.post(f"/v1/experiments/{experiment_id}/status",
                         {"status": "paused", "reason": "down"})  # fmt: skip
        assert refused.status_code == 503, refused.text
        assert "PostgreSQL" in json.dumps(refused.json())
    finally:
        postgres_server.start()
    wait_until(lambda: b.health()["status"] == "ok")
    answer = a.post(f"/v1/experiments/{experiment_id}/status",
                    {"status": "paused", "reason": "back"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    wait_until(lambda: b.config_status(experiment_id) == "paused")
