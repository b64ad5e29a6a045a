"""What only the PostgreSQL registry has: versioned migrations, several writers at once,
the version announced with NOTIFY, and clear errors when the server is unreachable."""

from __future__ import annotations

import contextlib
import itertools
import threading
from datetime import UTC, datetime

import psycopg
import pytest

from splitlab.config import load_experiment
from splitlab.evaluation.lifecycle import TransitionError, change_status, register
from splitlab.store.pgregistry.connection import PgConnection, RegistryUnavailableError
from splitlab.store.pgregistry.migrations import (
    CHANNEL,
    MIGRATIONS,
    MigrationError,
    migrate,
    schema_version,
)
from splitlab.store.pgregistry.registry import PostgresRegistry
from tests.evaluation.conftest import definition
from tests.pg_registry import PostgresDatabases
from tests.postgres import PostgresServer

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_migrations_apply_once_in_order_and_rerun_is_a_no_op(
    pg_databases: PostgresDatabases,
) -> None:
    """A new database gets every migration recorded; a second run applies nothing; two
    processes migrating at once apply each migration once."""
    dsn = pg_databases.new()
    results: list[list[int]] = []
    connections = [PgConnection(dsn) for _ in range(3)]
    threads = [threading.Thread(target=lambda c=c: results.append(migrate(c))) for c in connections]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    numbers = [m.number for m in MIGRATIONS]
    assert sorted(results) == [[], [], numbers]
    assert migrate(connections[0]) == []
    assert schema_version(connections[0]) == max(numbers)
    rows = connections[0].execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
    assert [r[0] for r in rows] == numbers
    for c in connections:
        c.close()


def test_a_schema_newer_than_this_splitlab_is_refused(pg_databases: PostgresDatabases) -> None:
    dsn = pg_databases.new()
    conn = PgConnection(dsn)
    migrate(conn)
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 'x')")
    with pytest.raises(MigrationError, match="999 is newer"):
        PostgresRegistry.connect(dsn)
    conn.close()


def test_concurrent_status_changes_from_two_processes_leave_one_chained_log(
    pg_databases: PostgresDatabases,
) -> None:
    """20 pause/resume requests from two registries at once: every accepted change starts
    from the status the one before it left, sequence numbers run 1..n without gaps."""
    dsn = pg_databases.new()
    first, second = PostgresRegistry.connect(dsn), PostgresRegistry.connect(dsn)
    experiment = register(first, load_experiment(definition(status="running")), by="a", reason="go")
    barrier = threading.Barrier(20)

    def flip(registry: PostgresRegistry, i: int) -> None:
        barrier.wait()
        target = "paused" if i % 2 else "running"
        with contextlib.suppress(TransitionError):  # already there: refused, not recorded
            change_status(registry, experiment.id, target, by=f"w{i}", reason="flip")

    threads = [
        threading.Thread(target=flip, args=(first if i < 10 else second, i)) for i in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log = second.changes(experiment.id)
    assert [c.seq for c in log] == list(range(1, len(log) + 1))
    for before, after in itertools.pairwise(log):
        assert after.from_value == before.to_value
    assert first.get(experiment.id).status.value == log[-1].to_value
    first.close()
    second.close()


def test_each_planned_look_is_stored_once(pg_databases: PostgresDatabases) -> None:
    """The database refuses a second copy of a planned look (whatever code path wrote it)."""
    registry = pg_databases.registry()
    registry.create(load_experiment(definition()), at=T0)
    look = dict(peek=False, at=T0, cutoff=T0, triggered_by="s", action="continue", variant=None,
                document="{}")  # fmt: skip
    registry.append_look("exp-eval", number=1, **look)  # type: ignore[arg-type]
    with pytest.raises(psycopg.errors.UniqueViolation):
        registry.append_look("exp-eval", number=1, **look)  # type: ignore[arg-type]
    assert registry.planned_looks_taken("exp-eval") == 1
    registry.close()


def test_every_change_raises_the_version_and_notifies_it(pg_databases: PostgresDatabases) -> None:
    """A listener gets the new version number (and only that) for each committed change."""
    registry = pg_databases.registry()
    listener = psycopg.connect(registry.dsn, autocommit=True)
    listener.execute(f"LISTEN {CHANNEL}")
    start = registry.version()
    experiment = registry.create(load_experiment(definition()), at=T0)
    change_status(registry, experiment.id, "running", by="a", reason="go")
    payloads = [n.payload for n in listener.notifies(timeout=2, stop_after=2)]
    assert payloads == [str(start + 1), str(start + 2)]
    assert registry.version() == start + 2
    listener.close()
    registry.close()


def test_unreachable_server_is_a_clear_error(postgres_server: PostgresServer) -> None:
    """A closed port or a bad address: one line naming the server, never the password."""
    with pytest.raises(RegistryUnavailableError, match="cannot connect") as info:
        PostgresRegistry.connect("postgresql://u:secret@127.0.0.1:1/x")
    assert "secret" not in str(info.value)
    with pytest.raises(RegistryUnavailableError, match="not a PostgreSQL address"):
        PostgresRegistry.connect("postgresql://[bad")
